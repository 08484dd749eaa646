import assert from "node:assert/strict";
import * as ops from "../ops.ts";
import { scope, Tensor } from "../core/tensor.ts";
import { init } from "../runtime.ts";

await init();

Deno.test("depthwiseConv2d() folds over 65535 workgroups, in forward and backward", async () => {
  // 4100 × 4100 positions of one channel: 16.8M elements, past 65535 · 256 invocations, with
  // a 1×1 filter so that the software adapter does one tap per element.
  const side = 4100;
  const n = side * side;
  const values = new Float32Array(n).map((_, i) => (i % 1000) / 1000);
  const x = Tensor.from(values, [1, side, side, 1], { requiresGrad: true });
  const w = Tensor.from([2], [1, 1, 1, 1], { requiresGrad: true });
  const b = Tensor.from([1], [1], { requiresGrad: true });
  const y = scope(() => {
    const out = ops.depthwiseConv2d(x, w, b, 0);
    ops.sum(out).backward();
    return out;
  });
  const got = await y.toArray();
  for (const i of [0, 12345, 65535 * 256 - 1, 65535 * 256, n - 1]) {
    assert.equal(got[i], Math.fround(2 * values[i] + 1), `y[${i}]`);
  }
  const dx = await x.grad!.toArray();
  assert.equal(dx[0], 2);
  assert.equal(dx[n - 1], 2, "the last element, in the second row of workgroups");
  // Σx and the count of positions, up to f32 summation error.
  const total = values.reduce((s, v) => s + v, 0);
  const [dw] = await w.grad!.toArray();
  assert.ok(Math.abs(dw - total) / total < 1e-4, `dw ${dw} vs ${total}`);
  const [db] = await b.grad!.toArray();
  assert.ok(Math.abs(db - n) / n < 1e-4, `db ${db} vs ${n}`);
  for (const t of [x, w, b, y]) {
    t.grad?.dispose();
    t.dispose();
  }
});

Deno.test("depthwiseConv2d() rejects a filter that does not fit its padding, in one line", () => {
  const x = Tensor.zeros([1, 4, 4, 2]);
  assert.throws(
    () => ops.depthwiseConv2d(x, Tensor.zeros([2, 1, 7, 7]), undefined, 1),
    /^Error: depthwiseConv2d: weight must be \[2, 1, 3, 3\] for padding 1, got \[2,1,7,7\]$/,
  );
  assert.throws(
    () => ops.depthwiseConv2d(Tensor.zeros([4, 4, 2]), Tensor.zeros([2, 1, 3, 3]), undefined, 1),
    /input must be \[B, H, W, C\], got \[4,4,2\]/,
  );
  x.dispose();
});
