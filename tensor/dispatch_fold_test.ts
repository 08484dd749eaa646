/**
 * Dispatches past the 65,535-workgroup limit of one grid dimension: each kernel family at the
 * smallest size whose grid must fold into a second or third dimension, on this adapter's own
 * backend and on the GPU backend forced onto it, against f64 sums written out here (the
 * reference's general loops would take minutes at these sizes).
 */

import assert from "node:assert/strict";
import * as ops from "./ops.ts";
import { noGrad, scope, Tensor } from "./core/tensor.ts";
import { gpu } from "./core/context.ts";
import type { Backend } from "./core/backend.ts";
import { GpuBackend } from "./backend/gpu/gpu.ts";
import { forceMatmulVariant, forceRowFlavour } from "./core/tuning.ts";
import { REGISTER_VARIANTS } from "../kernels/matmul.ts";
import { elementwiseGrid } from "../kernels/elementwise.ts";
import { rowGrid } from "../kernels/rows.ts";
import { assertClose, rng, type Tolerance, uniform } from "./_test_util.ts";
import { init } from "./runtime.ts";

await init();

/** f32 kernels against f64 sums. */
const TOL: Tolerance = { atol: 2e-5, rtol: 2e-4 };
/** One more workgroup of 256 threads than one grid dimension holds. */
const PAST_LIMIT = 65535 * 256 + 1;

/** Runs `fn` on the adapter's own backend, then on the GPU backend forced onto it. */
async function onBothBackends(
  t: Deno.TestContext,
  fn: (be: string) => Promise<void>,
): Promise<void> {
  const own = gpu().backend;
  await t.step(`on the ${own.name} backend`, () => fn(own.name));
  const forced: Backend = new GpuBackend(gpu().profile);
  gpu().useBackend(forced);
  try {
    await t.step("on the GPU backend forced onto this adapter", () => fn(forced.name));
  } finally {
    gpu().useBackend(own);
  }
}

Deno.test("sizes chosen here fold the grid past 65,535 workgroups", () => {
  assert.equal(elementwiseGrid(PAST_LIMIT)[1], 2);
  assert.equal(rowGrid(65537, "group")[1], 2);
});

Deno.test("element-wise maps, broadcasts and strided copies past 65,535 workgroups match f64", async (t) => {
  // An odd length: the scalar map on every backend (vec4 maps fold at four times the length).
  const n = PAST_LIMIT;
  const x = uniform(rng(1), n);
  await onBothBackends(t, async (be) => {
    const y = noGrad(() => scope(() => ops.add(ops.mul(Tensor.from(x, [n]), 2), 0.5)));
    const got = await y.toArray();
    y.dispose();
    assertClose(got, Float64Array.from(x, (v) => 2 * v + 0.5), TOL, `${be}: 2x + 0.5`);
    // In place: an element the folded grid reaches twice would be added twice.
    const acc = Tensor.from(x, [n]);
    noGrad(() => scope(() => ops.accumulate(acc, Tensor.from(x, [n]))));
    const sum = await acc.toArray();
    acc.dispose();
    assertClose(sum, Float64Array.from(x, (v) => 2 * v), TOL, `${be}: x += x`);
  });
  // [rows, 4] * [1, 4] and its transpose: rows · 4 threads, past the limit.
  const rows = Math.ceil(PAST_LIMIT / 4);
  const a = uniform(rng(2), rows * 4);
  const b = Float32Array.of(1, -2, 3, 0.5);
  await onBothBackends(t, async (be) => {
    const [prod, tr] = noGrad(() =>
      scope(() => {
        const at = Tensor.from(a, [rows, 4]);
        return [ops.mul(at, Tensor.from(b, [1, 4])), ops.permute(at, [1, 0])];
      })
    );
    const [p, q] = [await prod.toArray(), await tr.toArray()];
    prod.dispose();
    tr.dispose();
    assertClose(p, Float64Array.from(a, (v, i) => v * b[i % 4]), TOL, `${be}: broadcast`);
    const want = new Float64Array(rows * 4);
    for (let r = 0; r < rows; r++) for (let c = 0; c < 4; c++) want[c * rows + r] = a[r * 4 + c];
    assertClose(q, want, { atol: 0, rtol: 0 }, `${be}: transposed copy`);
  });
});

Deno.test("softmax and layer norm over 65,537 rows, a workgroup per row, match f64 forward and backward", async (t) => {
  const [rows, cols] = [65537, 8];
  const x = uniform(rng(3), rows * cols, -3, 3);
  const g = uniform(rng(4), rows * cols);
  await onBothBackends(t, async (be) => {
    forceRowFlavour("group");
    try {
      const xt = Tensor.from(x, [rows, cols], { requiresGrad: true });
      const [s, ln] = scope(() => {
        const s = ops.softmax(xt);
        const ln = ops.layerNorm(xt, ops.full([cols], 1), Tensor.zeros([cols]), 1e-5);
        const gt = Tensor.from(g, [rows, cols]);
        ops.sum(ops.mul(ops.add(s, ln), gt)).backward();
        return [s, ln];
      });
      const [sv, lv, dx] = [await s.toArray(), await ln.toArray(), await xt.grad!.toArray()];
      for (const u of [s, ln, xt.grad!, xt]) u.dispose();
      const ws = new Float64Array(rows * cols);
      const wl = new Float64Array(rows * cols);
      const wd = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let m = -Infinity, z = 0, mean = 0, v = 0;
        for (let c = 0; c < cols; c++) m = Math.max(m, x[o + c]);
        for (let c = 0; c < cols; c++) z += Math.exp(x[o + c] - m);
        for (let c = 0; c < cols; c++) mean += x[o + c] / cols;
        for (let c = 0; c < cols; c++) v += (x[o + c] - mean) ** 2 / cols;
        const inv = 1 / Math.sqrt(v + 1e-5);
        let sg = 0, gm = 0, gxm = 0;
        for (let c = 0; c < cols; c++) {
          ws[o + c] = Math.exp(x[o + c] - m) / z;
          wl[o + c] = (x[o + c] - mean) * inv;
          sg += ws[o + c] * g[o + c];
          gm += g[o + c] / cols;
          gxm += g[o + c] * wl[o + c] / cols;
        }
        for (let c = 0; c < cols; c++) {
          wd[o + c] = ws[o + c] * (g[o + c] - sg) + inv * (g[o + c] - gm - wl[o + c] * gxm);
        }
      }
      assertClose(sv, ws, TOL, `${be}: softmax`);
      assertClose(lv, wl, { atol: 1e-4, rtol: 1e-3 }, `${be}: layer norm`);
      assertClose(dx, wd, { atol: 1e-4, rtol: 1e-3 }, `${be}: gradient`);
    } finally {
      forceRowFlavour(null);
    }
  });
});

Deno.test("sums and maxima over 65,537 outer rows match f64", async (t) => {
  const [rows, cols] = [65537, 3];
  const x = uniform(rng(5), rows * cols);
  await onBothBackends(t, async (be) => {
    const [s, m] = noGrad(() =>
      scope(() => {
        const xt = Tensor.from(x, [rows, cols]);
        return [ops.sum(xt, 1), ops.max(xt, 1)];
      })
    );
    const [sv, mv] = [await s.toArray(), await m.toArray()];
    s.dispose();
    m.dispose();
    const ws = new Float64Array(rows);
    const wm = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      ws[r] = x[3 * r] + x[3 * r + 1] + x[3 * r + 2];
      wm[r] = Math.max(x[3 * r], x[3 * r + 1], x[3 * r + 2]);
    }
    assertClose(sv, ws, TOL, `${be}: sum`);
    assertClose(mv, wm, { atol: 0, rtol: 0 }, `${be}: max`);
  });
});

Deno.test("a batched matmul of 65,537 products matches f64", async (t) => {
  const [batch, m, k, n] = [65537, 2, 3, 2];
  const a = uniform(rng(6), batch * m * k);
  const b = uniform(rng(7), batch * k * n);
  await onBothBackends(t, async (be) => {
    // The batch is split in dispatchMatmul, the same for every storage variant; the GPU
    // backend's tiled kernel (256 invocations per 2×2 product) would take minutes on a CPU
    // adapter, so it runs the register kernel here.
    if (be === "gpu") forceMatmulVariant(REGISTER_VARIANTS[REGISTER_VARIANTS.length - 1]);
    let out: Tensor;
    try {
      out = noGrad(() =>
        scope(() => ops.matmul(Tensor.from(a, [batch, m, k]), Tensor.from(b, [batch, k, n])))
      );
    } finally {
      forceMatmulVariant(null);
    }
    const got = await out.toArray();
    out.dispose();
    const want = new Float64Array(batch * m * n);
    for (let p = 0; p < batch; p++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let q = 0; q < k; q++) acc += a[p * m * k + i * k + q] * b[p * k * n + q * n + j];
          want[p * m * n + i * n + j] = acc;
        }
      }
    }
    assertClose(got, want, TOL, `${be}: batched matmul`);
  });
});
