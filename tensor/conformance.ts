/**
 * The start-up check: before the runtime hands out a backend, it runs each kernel family that
 * backend will use on inputs with known answers (the plain-TS reference) and compares: the
 * backend's named product kernels ({@link Backend.matmulChecks}: the plainest storage tile on a
 * software adapter, every workgroup tile on a GPU) at small layouts and across several blocks,
 * the row, map, reduction, copy, attention, optimizer and convolution kernels. Every other
 * product variant is checked the first time it is chosen (`first_use.ts`), and the autotuner
 * checks its candidates before it caches one; {@link checkBackend} with `production` runs them
 * all at once. A backend that gets any family wrong is passed over for the next candidate (for
 * example one element per invocation instead of four); when none passes, the runtime refuses
 * with one line instead of training on wrong numbers.
 *
 * @module
 */

import { type MatmulShape, type MatmulVariant, variantName } from "../kernels/matmul.ts";
import { AdamW } from "./ops/adamw.ts";
import { add, crossEntropy, gelu, layerNorm, matmul, mul, permute, softmax, sum } from "./ops.ts";
import { depthwiseConv2d } from "./ops.ts";
import * as ref from "./reference.ts";
import { noGrad, scopeAsync, Tensor } from "./core/tensor.ts";
import type { Backend, MatmulCheck } from "./core/backend.ts";
import { type ConformanceReport, gpu, type Runtime } from "./core/context.ts";
import { describeProfile } from "./core/profile.ts";
import { forceMatmulVariant, lastMatmulVariant } from "./core/tuning.ts";

export type { ConformanceReport, FamilyCheck } from "./core/context.ts";

/** Thrown when no backend computes right on this adapter. */
export class WrongResultsError extends Error {
  /**
   * Creates the error.
   *
   * @param adapter The adapter's one-line description.
   * @param failed The families that failed on the last backend tried.
   */
  constructor(adapter: string, failed: readonly string[]) {
    super(
      `this WebGPU adapter computes wrong results (${adapter}; failed: ${failed.join(", ")}). ` +
        "Update its driver; on Linux without a GPU, Tessera is tested on Mesa's Vulkan driver " +
        "(`apt-get install mesa-vulkan-drivers`).",
    );
    this.name = "WrongResultsError";
  }
}

/**
 * Values in [-1, 1) from a small fixed sequence: known inputs, the same on every run.
 *
 * @param n How many.
 * @param seed Where the sequence starts.
 * @returns The values.
 */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) / 2 ** 23 - 1;
  }
  return out;
}

/** Relative-and-absolute tolerance of every family: far above f32 rounding, far below a bug. */
const ATOL = 1e-4;
const RTOL = 1e-3;

/**
 * The worst error of `got` against `want`, in units of the checks' tolerance
 * (`1e-4 + 1e-3 · |want|`): at most 1 passes; a NaN or a length mismatch is Infinity.
 *
 * @param got The values computed.
 * @param want The reference.
 * @returns The scaled error.
 */
export function scaledError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (ATOL + RTOL * Math.abs(want[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

/** A family's pending result: the tensor to read and what it should hold. */
export interface Pending {
  /** The family's name in the report. */
  family: string;
  /** The result, or null where the kernel did not run. */
  got: Tensor | null;
  /** The reference. */
  want: ArrayLike<number>;
}

/** NN, NT and TN, as [transA, transB]. */
const ALL_LAYOUTS: readonly (readonly [boolean, boolean])[] = [[false, false], [false, true], [
  true,
  false,
]];

/** Layouts each product is tried in: rows of 256 bytes (copied into textures) and odd sizes. */
const LAYOUTS: readonly [number, number, number][] = [[36, 64, 36], [9, 13, 7]];

/**
 * A product spanning three blocks of a variant along M and N, the last one partial
 * (a block is a workgroup's 16 × 16 invocations for `tiled`, one invocation's tile otherwise),
 * over a K that is a whole number of vec4s but not of 32.
 */
function multiBlock(v: MatmulVariant): [number, number, number] {
  const [bm, bn] = v.family === "tiled" ? [16 * v.tm, 16 * v.tn] : [v.tm, v.tn];
  // vec4tn runs only M and N that are whole vec4s.
  const [rm, rn] = v.family === "vec4tn" ? [4, 4] : [3, 5];
  return [2 * bm + rm, 68, 2 * bn + rn];
}

/**
 * The variants the check runs: the backend's named checks, and with `production` the largest
 * and the smallest tile of each family among the variants it chooses or times (the ones its
 * products run; the autotuner checks the rest of its candidates before caching one).
 */
function checkedVariants(be: Backend, production: boolean): MatmulCheck[] {
  const out = new Map<string, MatmulCheck>();
  for (const c of be.matmulChecks) out.set(variantName(c.variant), c);
  if (!production) return [...out.values()];
  // In full, every layout of the named ones too.
  for (const [name, c] of out) out.set(name, { name: c.name, variant: c.variant });
  const largest = new Map<string, MatmulVariant>();
  const smallest = new Map<string, MatmulVariant>();
  for (const [transA, transB] of [[false, false], [false, true], [true, false]] as const) {
    for (const [m, k, n] of [[259, 68, 261], [260, 68, 264], [9, 12, 7], [8, 12, 8]]) {
      const s: MatmulShape = { batch: 1, m, k, n, transA, transB };
      for (const v of [...be.candidates(s), be.variantFor(s)]) {
        const big = largest.get(v.family);
        if (!big || v.tm * v.tn > big.tm * big.tn) largest.set(v.family, v);
        const small = smallest.get(v.family);
        if (!small || v.tm * v.tn < small.tm * small.tn) smallest.set(v.family, v);
      }
    }
  }
  for (const v of [...largest.values(), ...smallest.values()]) {
    const name = variantName(v);
    if (!out.has(name)) out.set(name, { name: `matmul ${name}`, variant: v });
  }
  return [...out.values()];
}

function matmulChecks(be: Backend, pending: Pending[], production: boolean): void {
  // Each variant is forced in turn, at the layouts of small tiles and at several of its blocks.
  for (
    const { name: family, variant: v, layouts = ALL_LAYOUTS } of checkedVariants(be, production)
  ) {
    for (const [m, k, n] of [...LAYOUTS, multiBlock(v)]) {
      for (const [transA, transB] of layouts) {
        const s: MatmulShape = { batch: 1, m, k, n, transA, transB };
        if (!be.canRun(v, s)) continue;
        const a = values(m * k, m + k);
        const b = values(k * n, k + n);
        const bias = values(n, n);
        const aShape = transA ? [k, m] : [m, k];
        const bShape = transB ? [n, k] : [k, n];
        const want = ref.refMatmul(
          ref.host(a, aShape),
          ref.host(b, bShape),
          transA,
          transB,
          ref.host(bias, [n]),
          0.5,
        ).data;
        forceMatmulVariant(v);
        try {
          const got = noGrad(() =>
            matmul(Tensor.from(a, aShape), Tensor.from(b, bShape), {
              transA,
              transB,
              alpha: 0.5,
              bias: Tensor.from(bias, [n]),
            })
          );
          const ran = lastMatmulVariant();
          pending.push({
            family,
            got: ran?.family === v.family && ran.tm === v.tm && ran.tn === v.tn ? got : null,
            want,
          });
        } finally {
          forceMatmulVariant(null);
        }
      }
    }
  }
}

/**
 * A Linear layer's backward (the backend's weight, bias and input gradients, fused where it
 * fuses them), at a size that takes production tiles when `production` is set.
 */
function linearBackwardCheck(pending: Pending[], production: boolean): void {
  const [m, k, n] = production ? [131, 68, 133] : [67, 68, 69];
  const x = values(m * k, 21);
  const w = values(n * k, 22);
  const bias = values(n, 23);
  const g = values(m * n, 24);
  const xt = Tensor.from(x, [m, k], { requiresGrad: true });
  const wt = Tensor.from(w, [n, k], { requiresGrad: true });
  const bt = Tensor.from(bias, [n], { requiresGrad: true });
  const y = matmul(xt, wt, { transB: true, bias: bt });
  sum(mul(y, Tensor.from(g, [m, n]))).backward();
  const dx = new Float64Array(m * k);
  const dw = new Float64Array(n * k);
  const db = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const gij = g[i * n + j];
      db[j] += gij;
      for (let q = 0; q < k; q++) {
        dx[i * k + q] += gij * w[j * k + q];
        dw[j * k + q] += gij * x[i * k + q];
      }
    }
  }
  pending.push({ family: "linear backward", got: xt.grad, want: dx });
  pending.push({ family: "linear backward", got: wt.grad, want: dw });
  pending.push({ family: "linear backward", got: bt.grad, want: db });
}

function rowChecks(be: Backend, pending: Pending[]): void {
  const rows = be.rowFlavourFor("softmax", true);
  for (const [r, c] of [[3, 37], [4, 64]]) {
    const x = values(r * c, r * c).map((v) => 8 * v);
    pending.push({
      family: `softmax ${rows}`,
      got: noGrad(() => softmax(Tensor.from(x, [r, c]))),
      want: ref.refSoftmax(ref.host(x, [r, c])).data,
    });
    const w = values(c, c + 1);
    const b = values(c, c + 2);
    pending.push({
      family: `layer norm ${rows}`,
      got: noGrad(() =>
        layerNorm(Tensor.from(x, [r, c]), Tensor.from(w, [c]), Tensor.from(b, [c]), 1e-5)
      ),
      want: ref.refLayerNorm(ref.host(x, [r, c]), ref.host(w, [c]), ref.host(b, [c]), 1e-5).data,
    });
    const labels = [...Array(r).keys()].map((i) => (i * 7) % c);
    pending.push({
      family: "cross-entropy",
      got: noGrad(() => crossEntropy(Tensor.from(x, [r, c]), labels)),
      want: ref.refCrossEntropy(ref.host(x, [r, c]), labels).data,
    });
  }
}

function elementwiseChecks(pending: Pending[]): void {
  for (const n of [64, 7]) {
    const a = values(n, n);
    const b = values(n, n + 9);
    pending.push({
      family: "maps",
      got: noGrad(() => add(Tensor.from(a, [n]), Tensor.from(b, [n]))),
      want: a.map((v, i) => v + b[i]),
    });
    pending.push({
      family: "maps",
      got: noGrad(() => gelu(Tensor.from(a, [n]))),
      want: Float64Array.from(a, (v) => ref.refGelu(v)),
    });
    pending.push({
      family: "broadcasts",
      got: noGrad(() => mul(Tensor.from(a, [n, 1]), Tensor.from(b.subarray(0, 4), [1, 4]))),
      want: ref.refBroadcast(ref.host(a, [n, 1]), ref.host(b.subarray(0, 4), [1, 4]), (x, y) =>
        x * y).data,
    });
    // Both operands hold the whole last dimension: four elements per invocation on CPU adapters.
    const rows = values(n * 8, n + 3);
    const row = values(8, n + 5);
    pending.push({
      family: "broadcasts",
      got: noGrad(() => add(Tensor.from(rows, [n, 8]), Tensor.from(row, [1, 8]))),
      want: ref.refBroadcast(ref.host(rows, [n, 8]), ref.host(row, [1, 8]), (x, y) => x + y).data,
    });
  }
  const x = values(5 * 33, 3);
  for (const axis of [0, 1]) {
    pending.push({
      family: "reductions",
      got: noGrad(() => sum(Tensor.from(x, [5, 33]), axis)),
      want: ref.refReduce(ref.host(x, [5, 33]), axis, "sum").data,
    });
  }
  // [B, S, H, D] → [B, H, S, D], with D whole vec4s and not.
  for (const d of [8, 3]) {
    const shape = [2, 3, 4, d];
    const y = values(2 * 3 * 4 * d, d);
    pending.push({
      family: "strided copies",
      got: noGrad(() => permute(Tensor.from(y, shape), [0, 2, 1, 3])),
      want: ref.refPermute(ref.host(y, shape), [0, 2, 1, 3]).data,
    });
  }
}

/**
 * The backend's fused attention, forward and backward, on a small input, where it fuses
 * attention (nothing is added where it does not).
 *
 * @param be The backend (installed).
 * @param pending Receives the results to compare.
 */
export function attentionCheck(be: Backend, pending: Pending[]): void {
  const [b, t, heads, hd] = [2, 5, 2, 4];
  const d3 = 3 * heads * hd;
  const qkv = values(b * t * d3, 17);
  const got = noGrad(() =>
    be.selfAttention(Tensor.from(qkv, [b, t, d3]), heads, 0.5, false, false)
  );
  if (!got) return;
  pending.push({
    family: "attention",
    got,
    want: ref.refSelfAttention(ref.host(qkv, [b, t, d3]), heads, 0.5).data,
  });
  // The backward kernels, where the backend fuses attention.
  const x = Tensor.from(qkv, [b, t, d3], { requiresGrad: true });
  const g = values(b * t * heads * hd, 18);
  const y = be.selfAttention(x, heads, 0.5, true, false);
  if (!y) return;
  sum(mul(y, Tensor.from(g, [b, t, heads * hd]))).backward();
  pending.push({
    family: "attention backward",
    got: x.grad,
    want: ref.refSelfAttentionGrad(
      ref.host(qkv, [b, t, d3]),
      heads,
      ref.host(g, [b, t, heads * hd]),
      0.5,
    ).data,
  });
}

/** ConvNeXt's depthwise 7×7 convolution, on a map smaller than the filter and a larger one. */
function depthwiseConvCheck(pending: Pending[]): void {
  for (const [h, w, c] of [[5, 4, 3], [9, 8, 5]]) {
    const shape = [2, h, w, c];
    const x = values(2 * h * w * c, h + c);
    const f = values(c * 49, c);
    const b = values(c, c + 3);
    pending.push({
      family: "depthwise conv",
      got: noGrad(() =>
        depthwiseConv2d(Tensor.from(x, shape), Tensor.from(f, [c, 1, 7, 7]), Tensor.from(b, [c]), 3)
      ),
      want:
        ref.refDepthwiseConv2d(ref.host(x, shape), ref.host(f, [c, 1, 7, 7]), ref.host(b, [c]), 3)
          .data,
    });
  }
}

/** One AdamW step on known values against the update written out. */
function adamwCheck(pending: Pending[]): void {
  for (const n of [68, 7]) {
    const p0 = values(n, n + 5);
    const g = values(n, n + 6);
    const param = Tensor.from(p0, [n], { requiresGrad: true });
    const opt = new AdamW([param], { lr: 0.1, weightDecay: 0.01 });
    // The gradient of Σ p·g is g, accumulated where the optimizer reads it.
    sum(mul(param, Tensor.from(g, [n]))).backward();
    opt.step();
    // One step from zero moments: m̂ = g, v̂ = g², so the update is lr · g / (|g| + eps).
    const want = Float64Array.from(
      p0,
      (p, i) => p * (1 - 0.1 * 0.01) - 0.1 * g[i] / (Math.abs(g[i]) + 1e-8),
    );
    pending.push({ family: "optimizer update", got: param, want });
  }
}

/**
 * Runs every kernel family of a backend, which must be the runtime's current one, on known
 * inputs and compares each with the plain-TS reference.
 *
 * @param be The backend under check (installed).
 * @param production Also run each family's largest and smallest tile across several blocks,
 *   and the Linear backward at a size that takes them. Off at start-up, where the first-use
 *   check runs each variant when it is first chosen: on a CPU adapter compiling them all
 *   lengthens the check by tens of seconds.
 * @returns Each family's result and the check's wall time.
 */
export async function checkBackend(be: Backend, production = false): Promise<ConformanceReport> {
  const t0 = performance.now();
  const pending: Pending[] = [];
  const steps = [
    () => matmulChecks(be, pending, production),
    () => rowChecks(be, pending),
    () => elementwiseChecks(pending),
    // Fused attention is checked on first use (`first_use.ts`), and here in full.
    () => production && attentionCheck(be, pending),
    // Its products are checked on their own (first use); in full, it takes production tiles.
    () => production && linearBackwardCheck(pending, production),
    () => adamwCheck(pending),
    () => depthwiseConvCheck(pending),
  ];
  // Every tensor made here, inputs and outputs, is freed when the scope ends.
  const read = await scopeAsync(async () => {
    for (const step of steps) {
      try {
        step();
      } catch (error) {
        // A kernel that fails to compile or dispatch fails its family.
        const message = (error as Error).message.split("\n")[0];
        pending.push({ family: `error: ${message}`, got: null, want: [] });
      }
    }
    return await Promise.all(pending.map((p) => p.got?.toArray().catch(() => null) ?? null));
  });
  const byFamily = new Map<string, number>();
  pending.forEach((p, i) => {
    const got = read[i];
    const error = got ? scaledError(got, p.want) : Infinity;
    byFamily.set(p.family, Math.max(byFamily.get(p.family) ?? 0, error));
  });
  const families = [...byFamily].map(([family, error]) => ({ family, error, ok: error <= 1 }));
  return { families, ms: performance.now() - t0 };
}

/**
 * Picks the first candidate backend that passes {@link checkBackend}, making each in turn the
 * runtime's backend and running its check with the runtime active. Throws
 * {@link WrongResultsError} when none passes.
 *
 * @param candidates Backends in order of preference (the fastest first, the plainest last).
 * @param runtime The runtime to choose for (default the active one).
 * @returns The chosen backend and the reports of every one tried.
 */
export async function chooseBackend(
  candidates: readonly Backend[],
  runtime: Runtime = gpu(),
): Promise<{ backend: Backend; reports: ConformanceReport[] }> {
  const reports: ConformanceReport[] = [];
  for (const be of candidates) {
    runtime.useBackend(be);
    // The kernels are recorded synchronously, with the runtime active; the reads after use the
    // tensors' own runtime.
    const report = await runtime.run(() => checkBackend(be));
    reports.push(report);
    if (report.families.every((f) => f.ok)) return { backend: be, reports };
  }
  const last = reports.at(-1)?.families.filter((f) => !f.ok).map((f) => f.family) ?? [];
  throw new WrongResultsError(describeProfile(candidates[0].profile), last);
}
