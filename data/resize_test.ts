/**
 * Non-square resizes against PIL: each axis scaled by its own factor, down in one and up in the
 * other, with every filter, from exact PNG pixels (tests/fixtures/gen_images.py, nonsquare.json).
 * The square sizes are checked in data/fidelity_test.ts.
 */
import assert from "node:assert/strict";
import { decodeImage, type RgbImage } from "./image.ts";
import { type Resample, resize } from "./resize.ts";

const DIR = new URL("../tests/fixtures/images/", import.meta.url);

async function load(name: string): Promise<RgbImage> {
  return decodeImage(await Deno.readFile(new URL(name, DIR)), { name });
}

interface Case {
  source: string;
  filter: Resample;
  width: number;
  height: number;
  expected: string;
}

Deno.test(
  "resize() to non-square sizes equals PIL's resize exactly, with every filter",
  async () => {
    const cases = JSON.parse(await Deno.readTextFile(new URL("nonsquare.json", DIR))) as Case[];
    assert.ok(cases.length >= 24, "the fixture lists the non-square cases");
    for (const c of cases) {
      const got = resize(await load(c.source), c.width, c.height, c.filter);
      const expected = await load(c.expected);
      assert.deepEqual([got.width, got.height], [c.width, c.height], c.expected);
      let worst = 0;
      for (let i = 0; i < got.data.length; i++) {
        worst = Math.max(worst, Math.abs(got.data[i] - expected.data[i]));
      }
      assert.equal(worst, 0, `${c.expected}: max |diff| ${worst}`);
    }
  },
);
