import assert from "node:assert/strict";
import { concat, concatParameters, matmul, mul, sum } from "../ops.ts";
import { Tensor } from "../core/tensor.ts";
import { engine } from "../core/engine.ts";
import { AdamW } from "../adamw.ts";
import { init } from "../runtime.ts";
import { values } from "../conformance.ts";

await init();

// Rows of 4 and 64 rows: each weight and bias fills whole 256-byte arena slots, as ViT sizes do.
const [ROWS, K, T] = [64, 4, 5];

/** Three weights and three biases, and an input and output weighting for a scalar loss. */
function parameters(seed: number) {
  const make = (shape: number[], i: number) =>
    Tensor.from(values(shape.reduce((a, b) => a * b), seed + i), shape, { requiresGrad: true });
  return {
    weights: [0, 1, 2].map((i) => make([ROWS, K], i)),
    biases: [3, 4, 5].map((i) => make([ROWS], i)),
    x: Tensor.from(values(T * K, seed + 6), [T, K]),
    c: Tensor.from(values(T * 3 * ROWS, seed + 7), [T, 3 * ROWS]),
  };
}

/** The loss Σ c ⊙ (x Wᵀ + b) with W and b stacked by `stack`; its output and the grads. */
async function run(p: ReturnType<typeof parameters>, stack: (ts: Tensor[]) => Tensor) {
  const weight = stack(p.weights);
  const bias = stack(p.biases);
  const y = matmul(p.x, weight, { transB: true, bias });
  sum(mul(y, p.c)).backward();
  const grads = await Promise.all([...p.weights, ...p.biases].map((t) => t.grad!.toArray()));
  return { y: await y.toArray(), grads, weight };
}

Deno.test("concatParameters() views an arena's parameters and adds into their grads at once", async () => {
  // Weights and biases in separate groups, as the Trainer puts them: each group back to back.
  const pack = (p: ReturnType<typeof parameters>) =>
    new AdamW([...p.weights, ...p.biases], { noDecay: (i) => i >= 3 });
  // concat first, so that any first-use checks of the product's kernels count on its side.
  const copied = parameters(1);
  pack(copied);
  let before = engine().dispatches;
  const want = await run(copied, (ts) => concat(ts, 0));
  const concatDispatches = engine().dispatches - before;
  assert.notEqual(want.weight.storage.buffer, copied.weights[0].storage.buffer);

  const packed = parameters(1);
  pack(packed);
  before = engine().dispatches;
  const stacked = concatParameters(packed.weights);
  assert.equal(engine().dispatches, before, "the stack copied");
  assert.equal(stacked.storage.buffer, packed.weights[0].storage.buffer);
  assert.deepEqual(stacked.shape, [3 * ROWS, K]);
  stacked.dispose();
  before = engine().dispatches;
  const got = await run(packed, concatParameters);
  // Per stack, concat's three copies and three slices of the gradient are gone (the first
  // contribution to a zeroed grad is a buffer copy either way, not a dispatch).
  assert.ok(
    concatDispatches - (engine().dispatches - before) >= 12,
    `${engine().dispatches - before} dispatches against concat's ${concatDispatches}`,
  );
  // The same arithmetic either way: 0 + g into a zeroed grad, whether one add or three.
  assert.deepEqual(got.y, want.y);
  got.grads.forEach((g, i) => assert.deepEqual(g, want.grads[i], `grad ${i}`));
});

Deno.test("concatParameters() copies, as concat does, parameters that are not back to back", async () => {
  const unpacked = parameters(2);
  const want = await run(parameters(2), (ts) => concat(ts, 0));
  const got = await run(unpacked, concatParameters);
  assert.notEqual(got.weight.storage.buffer, unpacked.weights[0].storage.buffer);
  assert.deepEqual(got.y, want.y);
  got.grads.forEach((g, i) => assert.deepEqual(g, want.grads[i], `grad ${i}`));

  // Packed, but asked for out of order: also a copy, in the order asked.
  const p = parameters(3);
  new AdamW([...p.weights, ...p.biases], { noDecay: (i) => i >= 3 });
  const swapped = concatParameters([p.weights[1], p.weights[0], p.weights[2]]);
  const rows = await swapped.toArray();
  const first = await p.weights[1].toArray();
  assert.deepEqual(rows.slice(0, first.length), first);
  assert.notEqual(swapped.storage.buffer, p.weights[0].storage.buffer);
});
