import assert from "node:assert/strict";
import { REGISTER_VARIANTS } from "../kernels/matmul.ts";
import { Dropout, dropoutState, setDropoutSeed } from "../nn/layers.ts";
import { forceMatmulVariant, lastMatmulVariant, matmulVariantFor } from "./core/tuning.ts";
import { gpu } from "./core/context.ts";
import { engine } from "./core/engine.ts";
import { autocast, halfMatmuls } from "./ops/matmul.ts";
import { add, matmul, softmax } from "./ops.ts";
import { createRuntime, init, startupChecks } from "./runtime.ts";
import { scope, Tensor } from "./core/tensor.ts";

// Deno's WebGPU offers one adapter per process (the backend is chosen by DENO_WEBGPU_BACKEND
// when the process starts), so the two runtimes are two devices requested from it.
const a = await init();
const b = await createRuntime();

const values = Float32Array.from({ length: 24 * 40 }, (_, i) => Math.sin(i * 0.37));
const weights = Float32Array.from({ length: 40 * 16 }, (_, i) => Math.cos(i * 0.11));
const SHAPE = { batch: 1, m: 24, k: 40, n: 16, transA: false, transB: false };

/** softmax(x·w + x·w) on the active runtime, read back. */
async function compute(): Promise<Float32Array> {
  const x = Tensor.from(values, [24, 40]);
  const w = Tensor.from(weights, [40, 16]);
  const y = matmul(x, w);
  const out = softmax(add(y, y));
  return await out.toArray();
}

Deno.test("two runtimes each own a device, an engine, a pool, a texture cache and a tuning", () => {
  assert.notEqual(a, b);
  assert.notEqual(a.device, b.device);
  assert.notEqual(a.engine, b.engine);
  assert.notEqual(a.engine.pool, b.engine.pool);
  assert.notEqual(a.engine.textures, b.engine.textures);
  assert.notEqual(a.tuning, b.tuning);
  assert.notEqual(a.dropout, b.dropout);
  // init() made the first active; the second started without displacing it.
  assert.equal(gpu(), a);
  assert.equal(engine(), a.engine);
  assert.equal(b.run(() => engine()), b.engine);
  assert.ok(b.reports.length > 0 && b.reports.at(-1)!.families.every((f) => f.ok));
  assert.notEqual(a.reports, b.reports);
  assert.equal(startupChecks(), a.reports);
});

Deno.test("a tensor lives in its runtime's pool and its ops refuse another runtime", () => {
  const inUseA = a.engine.pool.stats.inUse;
  const inUseB = b.engine.pool.stats.inUse;
  const t = b.run(() => Tensor.from([1, 2, 3], [3]));
  assert.equal(t.runtime, b);
  assert.equal(b.engine.pool.stats.inUse, inUseB + 1);
  assert.equal(a.engine.pool.stats.inUse, inUseA);
  // The scope frees what the refused op had already allocated on the active runtime.
  assert.throws(() => scope(() => add(t, t)), /belongs to another runtime/);
  t.dispose();
  assert.equal(b.engine.pool.stats.inUse, inUseB);
  assert.equal(a.engine.pool.stats.inUse, inUseA);
});

Deno.test("a forced matmul variant on one runtime leaves the other's choice alone", async () => {
  const own = b.run(() => matmulVariantFor(SHAPE));
  const forced = REGISTER_VARIANTS.find((v) => v !== own && a.backend.canRun(v, SHAPE))!;
  assert.ok(forced, "no second variant to force");
  const before = await b.run(compute);
  forceMatmulVariant(forced);
  try {
    assert.equal(matmulVariantFor(SHAPE), forced);
    assert.equal(b.run(() => matmulVariantFor(SHAPE)), own);
    const dispatchesB = b.engine.dispatches;
    const texturesB = b.engine.textures.bytes;
    const onA = await compute();
    assert.equal(lastMatmulVariant(), forced);
    // a's work went to a's engine and texture cache only.
    assert.equal(b.engine.dispatches, dispatchesB);
    assert.equal(b.engine.textures.bytes, texturesB);
    const onB = await b.run(compute);
    assert.equal(b.run(() => lastMatmulVariant()), own);
    // Both compute the same function; b's result is what it was before a's override.
    assert.deepEqual(onB, before);
    for (let i = 0; i < onA.length; i++) assert.ok(Math.abs(onA[i] - onB[i]) < 1e-5);
  } finally {
    forceMatmulVariant(null);
  }
});

Deno.test("the dropout seed and counter of one runtime do not move the other's", () => {
  const saved = dropoutState();
  try {
    setDropoutSeed(1234, 5);
    assert.deepEqual(b.run(() => dropoutState()), { seed: 0, calls: 0 });
    const layer = new Dropout(0.5);
    const x = Tensor.from(new Float32Array(64).fill(1), [64]);
    layer.forward(x).dispose();
    x.dispose();
    assert.deepEqual(dropoutState(), { seed: 1234, calls: 6 });
    assert.deepEqual(b.run(() => dropoutState()), { seed: 0, calls: 0 });
  } finally {
    setDropoutSeed(saved.seed, saved.calls);
  }
});

Deno.test("autocast on one runtime does not make the other's matmuls half", () => {
  autocast(true, () => {
    assert.equal(halfMatmuls(), a.profile.f16);
    assert.equal(a.autocastHalf, true);
    assert.equal(b.run(() => halfMatmuls()), false);
  });
  assert.equal(a.autocastHalf, false);
});

Deno.test("gradients flow on the runtime the graph was built on", async () => {
  const x = b.run(() => Tensor.from([1, 2, 3], [3], { requiresGrad: true }));
  const y = b.run(() => add(x, x));
  // backward() runs on y's runtime though a is active here.
  y.backward(b.run(() => Tensor.from([1, 1, 1], [3])));
  assert.equal(x.grad!.runtime, b);
  assert.deepEqual(await x.grad!.toArray(), new Float32Array([2, 2, 2]));
});
