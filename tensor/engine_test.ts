import assert from "node:assert/strict";
import { engine } from "./engine.ts";
import { mapKernel } from "../kernels/elementwise.ts";
import { Tensor } from "./tensor.ts";
import { init } from "./runtime.ts";

await init();

Deno.test("a WebGPU validation error surfaces at the next readback instead of passing silently", async () => {
  const t = Tensor.from([1, 2], [2]);
  const out = Tensor.empty([2]);
  // 70000 workgroups in x exceeds maxComputeWorkgroupsPerDimension.
  engine().dispatch(mapKernel("neg"), [t.storage, out.storage], { n: 2, s: 0 }, [70000]);
  await assert.rejects(
    () => t.toArray(),
    /WebGPU reported \d+ error.*must be less or equal to 65535/,
  );
  assert.deepEqual([...await t.toArray()], [1, 2], "later work proceeds");
  t.dispose();
  out.dispose();
});

Deno.test("a step records many dispatches into one submit", async () => {
  const before = engine().submits;
  const x = Tensor.from([1], [1]);
  engine().flush();
  const start = engine().submits;
  let y = x;
  for (let i = 0; i < 50; i++) y = Tensor.empty([1]);
  for (let i = 0; i < 50; i++) {
    engine().dispatch(mapKernel("neg"), [x.storage, y.storage], { n: 1, s: 0 }, [1]);
  }
  await y.toArray();
  assert.equal(engine().submits - start, 1);
  assert.ok(engine().submits > before);
});
