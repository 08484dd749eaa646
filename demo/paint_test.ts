import assert from "node:assert/strict";
import { hsl } from "./paint.ts";
import { Rng } from "../tensor/rng.ts";

/** The formula hsl() computes, with its remainders spelled out: the generated datasets' bytes. */
function hslByRemainders(h: number, s: number, l: number): [number, number, number] {
  const hue = ((h % 360) + 360) % 360;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + hue / 30) % 12;
    return l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return [f(0) * 255, f(8) * 255, f(4) * 255];
}

Deno.test("hsl() gives the remainder formula's values bit for bit, at any hue", () => {
  const rng = new Rng(5);
  const below360 = 360 - 2 ** -44; // h + 360 rounds to 720 here
  const hues = [0, -0, 1e-300, 29.999999999999996, 30, 90, 359.99999999999994, below360, 360, 720];
  hues.push(-1e-12, -30, -359.5, -360, -1000.25, 1e6 + 0.1);
  for (let i = 0; i < 20000; i++) hues.push(-400 + 1200 * rng.next());
  for (const h of hues) {
    const s = rng.next();
    const l = rng.next();
    assert.deepEqual(hsl(h, s, l), hslByRemainders(h, s, l), `hsl(${h}, ${s}, ${l})`);
  }
});
