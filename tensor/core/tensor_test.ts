import assert from "node:assert/strict";
import { add, full, mul, sum } from "../ops.ts";
import { engine } from "./engine.ts";
import { gpu } from "../device.ts";
import { keep, noGrad, scope, scopeAsync, Tensor } from "./tensor.ts";
import { bucketSize } from "./pool.ts";
import { packParameters } from "./arena.ts";
import { init } from "../runtime.ts";

await init();

Deno.test("Tensor.from() round-trips values and rejects a wrong size", async () => {
  const t = Tensor.from([1.5, -2, 3], [3]);
  assert.deepEqual([...await t.toArray()], [1.5, -2, 3]);
  assert.throws(() => Tensor.from([1, 2], [3]), /2 values do not fill shape \[3\]/);
  t.dispose();
});

Deno.test("view() shares memory and survives disposal of the original", async () => {
  const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const v = t.view([3, -1]);
  assert.deepEqual(v.shape, [3, 2]);
  t.dispose();
  assert.deepEqual([...await v.toArray()], [1, 2, 3, 4, 5, 6]);
  assert.throws(() => t.view([6]), /used after dispose/);
  assert.throws(() => v.view([4]), /cannot reshape/);
  v.dispose();
});

Deno.test("scope() frees intermediates and keeps what is returned or kept", async () => {
  const before = engine().pool.stats.inUse;
  let inner: Tensor | null = null;
  let kept: Tensor | null = null;
  const out = scope(() => {
    const a = Tensor.from([1, 2], [2]);
    inner = add(a, a);
    kept = keep(mul(a, 3));
    return { result: add(inner, 1) };
  });
  assert.equal(inner!.disposed, true);
  assert.equal(kept!.disposed, false);
  assert.deepEqual([...await out.result.toArray()], [3, 5]);
  out.result.dispose();
  kept!.dispose();
  assert.equal(engine().pool.stats.inUse, before);
  const v = await scopeAsync(async () => await sum(Tensor.from([1, 2, 3], [3])).item());
  assert.equal(v, 6);
  assert.equal(engine().pool.stats.inUse, before);
});

Deno.test("backward() accumulates into .grad and releases the tape", async () => {
  const x = Tensor.from([1, 2, 3], [3], { requiresGrad: true });
  const y = scope(() => sum(mul(x, x)));
  y.backward();
  assert.deepEqual([...await x.grad!.toArray()], [2, 4, 6]);
  assert.equal(y._node(), null, "tape is released after backward");
  scope(() => sum(mul(x, 2)).backward());
  assert.deepEqual([...await x.grad!.toArray()], [4, 6, 8]);
  assert.throws(() => y.backward(), /already freed/);
  assert.throws(() => mul(x, x).backward(), /needs one element/);
  x.grad!.dispose();
  x.dispose();
  y.dispose();
});

Deno.test("a gradient zeroed by the engine takes its first contribution as a copy", async () => {
  const x = Tensor.from([1, 2, 3], [3], { requiresGrad: true });
  const w = Tensor.from([5, 6], [2], { requiresGrad: true });
  const { values, grads } = packParameters([x, w]);
  const e = engine();
  assert.ok(e.isZero(x.grad!.storage) && e.isZero(w.grad!.storage), "packed grads start zeroed");
  const dispatches = () => e.dispatches;
  let before = dispatches();
  scope(() => sum(mul(x, x)).backward());
  // The product's backward runs kernels; the accumulation into x.grad adds none.
  const firstKernels = dispatches() - before;
  assert.ok(!e.isZero(x.grad!.storage), "x.grad was written");
  assert.ok(e.isZero(w.grad!.storage), "w.grad, in the same buffer, is still zero");
  assert.deepEqual([...await x.grad!.toArray()], [2, 4, 6]);
  before = dispatches();
  scope(() => sum(mul(x, x)).backward());
  assert.equal(dispatches() - before, firstKernels + 1, "the second contribution is an add kernel");
  assert.deepEqual([...await x.grad!.toArray()], [4, 8, 12]);
  grads.zero();
  x.grad!.assign(new Float32Array([1, 1, 1]));
  scope(() => sum(mul(x, x)).backward());
  assert.deepEqual([...await x.grad!.toArray()], [3, 5, 7], "a host write is added to");
  grads.zero();
  scope(() => sum(mul(x, x)).backward());
  assert.deepEqual([...await x.grad!.toArray()], [2, 4, 6], "zeroGrad() copies again");
  assert.deepEqual([...await w.grad!.toArray()], [0, 0]);
  values.destroy();
  grads.destroy();
});

Deno.test("backward() handles a tensor used twice and a diamond graph", async () => {
  const x = Tensor.from([3], [1], { requiresGrad: true });
  scope(() => {
    const a = mul(x, 2);
    const b = mul(x, x);
    sum(mul(add(a, b), a)).backward(); // (2x + x²)·2x = 4x² + 2x³ → 8x + 6x² = 78 at 3
  });
  assert.deepEqual([...await x.grad!.toArray()], [78]);
});

Deno.test("noGrad() records no tape", () => {
  const x = Tensor.from([1], [1], { requiresGrad: true });
  const y = noGrad(() => mul(x, x));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.isLeaf, true);
});

Deno.test("backward through a deep chain does not overflow the stack", async () => {
  const x = Tensor.from([1], [1], { requiresGrad: true });
  const y = scope(() => {
    let h = x;
    for (let i = 0; i < 3000; i++) h = add(h, 0.001);
    return sum(h);
  });
  y.backward();
  assert.deepEqual([...await x.grad!.toArray()], [1]);
});

Deno.test("the buffer pool buckets sizes and reuses freed buffers", () => {
  assert.equal(bucketSize(1), 256);
  assert.equal(bucketSize(257), 384);
  assert.equal(bucketSize(385), 512);
  assert.equal(bucketSize(3000), 3072);
  const created = engine().pool.stats.created;
  for (let i = 0; i < 5; i++) full([1000], 1).dispose();
  assert.ok(engine().pool.stats.created - created <= 1);
});

Deno.test("f16 storage round-trips where the adapter has shader-f16", {
  ignore: !gpu().profile.f16,
}, async () => {
  const values = [0, 1, -2.5, 65504, 1e-5, 0.1, 3.14159];
  const t = Tensor.from(values, [7], { dtype: "f16" });
  const back = await t.toArray();
  const expected = [0, 1, -2.5, 65504, 0.00001001358, 0.0999755859375, 3.140625];
  back.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1e-9, `f16 ${values[i]} → ${v}`));
  assert.throws(() => add(t, t), /expects f32/);
});
