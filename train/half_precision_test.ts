import assert from "node:assert/strict";
import { halfPrecision } from "./half_precision.ts";

const lavapipe = {
  software: true,
  f16: true,
  info: { description: "llvmpipe (LLVM 15.0.6, 256 bits)" },
};

Deno.test("fp16 trains in f32 on a software adapter, and says why", () => {
  const plan = halfPrecision(true, lavapipe);
  assert.equal(plan.half, false);
  assert.match(plan.note, /llvmpipe \(LLVM 15\.0\.6, 256 bits\) is a software adapter/);
  assert.match(plan.note, /training in f32/);
});

Deno.test("fp16 rounds to f16 on a hardware adapter with shader-f16, or when asked on a CPU", () => {
  assert.ok(halfPrecision(true, { ...lavapipe, software: false }).half);
  assert.ok(halfPrecision(true, lavapipe, true).half);
  assert.match(halfPrecision(true, lavapipe, true).note, /dynamic loss scaling/);
});

Deno.test("fp16 needs shader-f16, and without fp16 nothing is said", () => {
  const noF16 = { software: false, f16: false, info: { description: "" } };
  assert.equal(halfPrecision(true, noF16).half, false);
  assert.match(halfPrecision(true, noF16).note, /no shader-f16/);
  // Even asked for on a CPU, an adapter without shader-f16 stays in f32.
  assert.equal(halfPrecision(true, { ...noF16, software: true }, true).half, false);
  assert.deepEqual(halfPrecision(false, lavapipe), { half: false, note: "" });
});
