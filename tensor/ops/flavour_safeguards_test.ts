/**
 * Every flavour of the row kernels and the element-wise maps, forced on this adapter, on the
 * inputs that expose a missing numerical safeguard (logits of ±1e4, rows sitting on a large
 * common offset, exponentials near the f32 overflow), at lengths ending in every remainder of
 * the vector width, against f64 written out here on the same f32 inputs.
 */

import * as ops from "../ops.ts";
import { scope, Tensor } from "../core/tensor.ts";
import { forceRowFlavour } from "../core/tuning.ts";
import type { RowFlavour } from "../../kernels/rows.ts";
import { assertClose, rng, type Tolerance, uniform } from "../_test_util.ts";
import { init } from "../runtime.ts";

await init();

const FLAVOURS: readonly RowFlavour[] = ["thread", "vec4", "group", "texture"];
/**
 * Short rows ending in each remainder of a vec4, rows of 256 bytes (which the texture flavour
 * copies into textures; it runs the others as vec4), and rows longer than a row workgroup (128).
 */
const COLS = [12, 13, 14, 15, 64, 257, 258, 259, 260];
const ROWS = 5;

/** Logits of about ±1e4 with small differences: exp overflows without the max subtracted. */
function bigLogits(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? -1e4 : 1e4) + 6 * (r() - 0.5));
}

function withFlavour<T>(f: RowFlavour, fn: () => T): T {
  forceRowFlavour(f);
  try {
    return fn();
  } finally {
    forceRowFlavour(null);
  }
}

/** f64 softmax rows of `x` and the gradient of Σ softmax · g. */
function refSoftmaxAndGrad(x: Float32Array, g: Float32Array, cols: number): [number[], number[]] {
  const y: number[] = [];
  const dx: number[] = [];
  for (let o = 0; o < x.length; o += cols) {
    const row = Array.from(x.subarray(o, o + cols));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const z = e.reduce((p, q) => p + q, 0);
    const s = e.map((v) => v / z);
    const sg = s.reduce((p, v, c) => p + v * g[o + c], 0);
    y.push(...s);
    dx.push(...s.map((v, c) => v * (g[o + c] - sg)));
  }
  return [y, dx];
}

Deno.test("softmax in every row flavour stays exact on logits of ±1e4, forward and backward", async () => {
  const tol: Tolerance = { atol: 2e-6, rtol: 1e-4 };
  for (const f of FLAVOURS) {
    for (const cols of COLS) {
      const x = bigLogits(ROWS * cols, cols);
      const g = uniform(rng(cols + 1), ROWS * cols);
      const xt = Tensor.from(x, [ROWS, cols], { requiresGrad: true });
      const y = withFlavour(f, () =>
        scope(() => {
          const y = ops.softmax(xt);
          ops.sum(ops.mul(y, Tensor.from(g, [ROWS, cols]))).backward();
          return y;
        }));
      const [want, wantGrad] = refSoftmaxAndGrad(x, g, cols);
      assertClose(await y.toArray(), want, tol, `softmax ${f} [${ROWS},${cols}]`);
      assertClose(await xt.grad!.toArray(), wantGrad, tol, `softmax grad ${f} [${ROWS},${cols}]`);
      for (const u of [y, xt.grad!, xt]) u.dispose();
    }
  }
});

Deno.test("layer norm in every row flavour keeps rows at 1e4 plus noise, forward and backward", async () => {
  // The row's f32 sum near 1e4 · cols rounds the mean by up to 1e-3, about 5e-3 of σ here; a
  // one-pass variance (E[x²] - E[x]², with E[x²] near 1e8) loses the variance entirely.
  const tol: Tolerance = { atol: 1e-2, rtol: 1e-2 };
  for (const f of FLAVOURS) {
    for (const cols of COLS) {
      const r = rng(100 + cols);
      const x = Float32Array.from({ length: ROWS * cols }, () => 1e4 + 2 * (r() - 0.5));
      const w = uniform(r, cols, 0.5, 1.5);
      const b = uniform(r, cols);
      const g = uniform(r, ROWS * cols);
      const xt = Tensor.from(x, [ROWS, cols], { requiresGrad: true });
      const y = withFlavour(f, () =>
        scope(() => {
          const y = ops.layerNorm(xt, Tensor.from(w, [cols]), Tensor.from(b, [cols]), 1e-5);
          ops.sum(ops.mul(y, Tensor.from(g, [ROWS, cols]))).backward();
          return y;
        }));
      const want: number[] = [];
      const wantGrad: number[] = [];
      for (let o = 0; o < x.length; o += cols) {
        const row = Array.from(x.subarray(o, o + cols));
        const mean = row.reduce((p, q) => p + q, 0) / cols;
        const v = row.reduce((p, q) => p + (q - mean) ** 2, 0) / cols;
        const inv = 1 / Math.sqrt(v + 1e-5);
        const xh = row.map((q) => (q - mean) * inv);
        const gh = xh.map((_, c) => g[o + c] * w[c]);
        const gm = gh.reduce((p, q) => p + q, 0) / cols;
        const gxm = gh.reduce((p, q, c) => p + q * xh[c], 0) / cols;
        want.push(...xh.map((q, c) => q * w[c] + b[c]));
        wantGrad.push(...xh.map((q, c) => inv * (gh[c] - gm - q * gxm)));
      }
      assertClose(await y.toArray(), want, tol, `layer norm ${f} [${ROWS},${cols}]`);
      // The input gradient scales with 1/σ (about 1.7 here) and the same rounding of the mean.
      assertClose(await xt.grad!.toArray(), wantGrad, { atol: 3e-2, rtol: 3e-2 }, `grad ${f}`);
      for (const u of [y, xt.grad!, xt]) u.dispose();
    }
  }
});

Deno.test("cross-entropy of logits of ±1e4 is finite and exact, forward and backward", async () => {
  for (const cols of COLS) {
    const x = bigLogits(ROWS * cols, 7 * cols);
    const labels = Array.from({ length: ROWS }, (_, i) => (i * 5 + 1) % cols);
    const xt = Tensor.from(x, [ROWS, cols], { requiresGrad: true });
    const loss = scope(() => {
      const l = ops.crossEntropy(xt, labels);
      l.backward();
      return l;
    });
    let total = 0;
    const wantGrad: number[] = [];
    for (let r = 0; r < ROWS; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const m = Math.max(...row);
      const z = row.reduce((p, q) => p + Math.exp(q - m), 0);
      total += m + Math.log(z) - row[labels[r]];
      wantGrad.push(...row.map((q, c) => (Math.exp(q - m) / z - (c === labels[r] ? 1 : 0)) / ROWS));
    }
    // Losses near 2e4 carry f32's 1e-3 rounding.
    assertClose(await loss.toArray(), [total / ROWS], { atol: 1e-2, rtol: 1e-6 }, `loss ${cols}`);
    // The gradient is exp(x - lse) with lse near 1e4 kept in f32: 5e-4 relative rounding.
    assertClose(await xt.grad!.toArray(), wantGrad, { atol: 1e-6, rtol: 1.5e-3 }, `grad ${cols}`);
    for (const u of [loss, xt.grad!, xt]) u.dispose();
  }
});

Deno.test("exp, tanh and GELU near the f32 overflow stay finite and exact in scalar and vec4 maps", async () => {
  // Lengths 4k (vec4 maps where the backend takes vector loads) and 4k + 1..3 (scalar).
  for (const n of [64, 65, 66, 67]) {
    const r = rng(n);
    const big = Float32Array.from({ length: n }, () => 80 + 8.5 * r());
    const huge = Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (10 + 1e4 * r()));
    const [e, th, ge, gg] = scope(() => {
      const h = Tensor.from(huge, [n], { requiresGrad: true });
      const gelu = ops.gelu(h);
      ops.sum(gelu).backward();
      return [ops.exp(Tensor.from(big, [n])), ops.tanh(Tensor.from(huge, [n])), gelu, h.grad!];
    });
    assertClose(
      await e.toArray(),
      Float64Array.from(big, Math.exp),
      { atol: 0, rtol: 1e-5 },
      "exp",
    );
    const tanhWant = Float64Array.from(huge, Math.tanh);
    assertClose(await th.toArray(), tanhWant, { atol: 1e-6, rtol: 0 }, `tanh n=${n}`);
    const geluWant = Float64Array.from(huge, (v) => (v > 0 ? v : 0));
    assertClose(await ge.toArray(), geluWant, { atol: 1e-6, rtol: 1e-6 }, `gelu n=${n}`);
    const gradWant = Float64Array.from(huge, (v) => (v > 0 ? 1 : 0));
    assertClose(await gg.toArray(), gradWant, { atol: 1e-6, rtol: 0 }, `gelu grad n=${n}`);
    for (const u of [e, th, ge, gg]) u.dispose();
  }
});

Deno.test("layer norm in every row flavour maps a constant row to its bias (eps keeps 0/0 away)", async () => {
  // Zero variance: without eps in the square root the row is 0 · ∞, NaN.
  for (const f of FLAVOURS) {
    for (const cols of COLS) {
      const b = uniform(rng(200 + cols), cols);
      const y = withFlavour(f, () =>
        scope(() =>
          ops.layerNorm(
            ops.full([ROWS, cols], 3.25),
            ops.full([cols], 2),
            Tensor.from(b, [cols]),
            1e-5,
          )
        ));
      const want = Array.from({ length: ROWS * cols }, (_, i) => b[i % cols]);
      assertClose(await y.toArray(), want, { atol: 1e-6, rtol: 0 }, `constant row ${f} ${cols}`);
      y.dispose();
    }
  }
});
