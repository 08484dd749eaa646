import assert from "node:assert/strict";
import * as ops from "../ops.ts";
import { scope, Tensor } from "../core/tensor.ts";
import { backend } from "../core/backend.ts";
import { SoftwareBackend } from "../backend/software/software.ts";
import { engine } from "../core/engine.ts";
import { mergeCopyDims } from "../../kernels/copy.ts";
import {
  forceMatmulVariant,
  forceRowFlavour,
  lastMatmulVariant,
  matmulVariantFor,
} from "../core/tuning.ts";
import type { RowFlavour } from "../../kernels/rows.ts";
import {
  REGISTER_VARIANTS,
  smallTile,
  TEXTURE_VARIANTS,
  TEXTURENN_VARIANTS,
  TEXTURETN_VARIANTS,
  TILED_VARIANTS,
  VEC4_VARIANTS,
  VEC4TN_VARIANTS,
} from "../../kernels/matmul.ts";
import * as ref from "../reference.ts";
import { assertClose, rng, type Tolerance, uniform } from "../_test_util.ts";
import { init } from "../runtime.ts";

await init();

/** f32 kernels against the f64 reference. */
const FORWARD: Tolerance = { atol: 2e-5, rtol: 2e-4 };
/** Kernel gradients against central differences of the f64 reference. */
const BACKWARD: Tolerance = { atol: 1e-4, rtol: 1e-3 };

interface Case {
  name: string;
  shapes: number[][];
  /** Input value range per case (positive for log/sqrt). */
  range?: [number, number];
  /** Value range per input, where inputs differ. */
  ranges?: [number, number][];
  /** Forward and backward tolerances, where the defaults do not fit. */
  tol?: [Tolerance, Tolerance];
  gpu: (xs: Tensor[]) => Tensor;
  ref: (xs: ref.HostTensor[]) => ref.HostTensor;
  /** Inputs that get no gradient check (index lists, etc.). */
  noGrad?: number[];
}

const pos: [number, number] = [0.5, 2];

/** Runs `fn` (an op's forward, whose backward keeps the flavour) with one row flavour. */
function withRowFlavour<T>(flavour: RowFlavour, fn: () => T): T {
  forceRowFlavour(flavour);
  try {
    return fn();
  } finally {
    forceRowFlavour(null);
  }
}

const CASES: Case[] = [
  {
    name: "add broadcasts [3,1,5] + [4,1]",
    shapes: [[3, 1, 5], [4, 1]],
    gpu: ([a, b]) => ops.add(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x + y),
  },
  {
    name: "add of equal shapes",
    shapes: [[7, 3], [7, 3]],
    gpu: ([a, b]) => ops.add(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x + y),
  },
  {
    name: "add scalar",
    shapes: [[5]],
    gpu: ([a]) => ops.add(a, 2.5),
    ref: ([a]) => ref.refMap(a, (x) => x + 2.5),
  },
  {
    name: "sub broadcasts [2,3,4] - [3,1]",
    shapes: [[2, 3, 4], [3, 1]],
    gpu: ([a, b]) => ops.sub(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x - y),
  },
  {
    name: "sub scalar",
    shapes: [[3, 2]],
    gpu: ([a]) => ops.sub(a, 0.75),
    ref: ([a]) => ref.refMap(a, (x) => x - 0.75),
  },
  {
    name: "mul broadcasts [5] * [2,3,5]",
    shapes: [[5], [2, 3, 5]],
    gpu: ([a, b]) => ops.mul(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x * y),
  },
  {
    name: "mul scalar",
    shapes: [[4, 3]],
    gpu: ([a]) => ops.mul(a, -1.5),
    ref: ([a]) => ref.refMap(a, (x) => x * -1.5),
  },
  {
    name: "div broadcasts [3,4] / [3,1]",
    shapes: [[3, 4], [3, 1]],
    range: pos,
    gpu: ([a, b]) => ops.div(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x / y),
  },
  {
    // A reciprocal through exp(-log(b)) or a sign dropped in the backward fails here.
    name: "div by negative divisors, broadcast [3,4] / [3,1]",
    shapes: [[3, 4], [3, 1]],
    ranges: [[-2, 2], [-2, -0.5]],
    gpu: ([a, b]) => ops.div(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x / y),
  },
  {
    name: "div of equal shapes [4,6] by negative divisors, four per invocation",
    shapes: [[4, 6], [4, 6]],
    ranges: [[-2, 2], [-2, -0.5]],
    gpu: ([a, b]) => ops.div(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x / y),
  },
  {
    name: "div scalar",
    shapes: [[6]],
    gpu: ([a]) => ops.div(a, 4),
    ref: ([a]) => ref.refMap(a, (x) => x / 4),
  },
  {
    name: "neg",
    shapes: [[3, 3]],
    gpu: ([a]) => ops.neg(a),
    ref: ([a]) => ref.refMap(a, (x) => -x),
  },
  {
    name: "exp",
    shapes: [[2, 5]],
    gpu: ([a]) => ops.exp(a),
    ref: ([a]) => ref.refMap(a, Math.exp),
  },
  {
    // A polynomial or table good only near zero fails here.
    name: "exp over [-20, 20]",
    shapes: [[3, 7]],
    range: [-20, 20],
    gpu: ([a]) => ops.exp(a),
    ref: ([a]) => ref.refMap(a, Math.exp),
  },
  {
    name: "log",
    shapes: [[11]],
    range: pos,
    gpu: ([a]) => ops.log(a),
    ref: ([a]) => ref.refMap(a, Math.log),
  },
  {
    name: "sqrt",
    shapes: [[3, 7]],
    range: pos,
    gpu: ([a]) => ops.sqrt(a),
    ref: ([a]) => ref.refMap(a, Math.sqrt),
  },
  {
    name: "rsqrt",
    shapes: [[9]],
    range: pos,
    gpu: ([a]) => ops.rsqrt(a),
    ref: ([a]) => ref.refMap(a, (x) => 1 / Math.sqrt(x)),
  },
  {
    name: "tanh",
    shapes: [[4, 5]],
    range: [-3, 3],
    gpu: ([a]) => ops.tanh(a),
    ref: ([a]) => ref.refMap(a, Math.tanh),
  },
  {
    name: "relu",
    shapes: [[13]],
    gpu: ([a]) => ops.relu(a),
    ref: ([a]) => ref.refMap(a, (x) => Math.max(x, 0)),
  },
  {
    name: "gelu (erf form)",
    shapes: [[3, 9]],
    range: [-4, 4],
    gpu: ([a]) => ops.gelu(a),
    ref: ([a]) => ref.refMap(a, ref.refGelu),
  },
  {
    // 60 elements: four per invocation with vec4 loads on CPU adapters, forward and backward.
    name: "gelu of [6,10], a multiple of 4",
    shapes: [[6, 10]],
    range: [-4, 4],
    gpu: ([a]) => ops.gelu(a),
    ref: ([a]) => ref.refMap(a, ref.refGelu),
  },
  {
    name: "div of equal shapes [4,6], a multiple of 4",
    shapes: [[4, 6], [4, 6]],
    range: pos,
    gpu: ([a, b]) => ops.div(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x / y),
  },
  ...[3, 2, -1, -2, 5, 0, 1].map((p): Case => ({
    // Negative bases: WGSL's pow is undefined there, torch multiplies out integer powers.
    name: `pow ${p} of bases of both signs`,
    shapes: [[8]],
    range: [-2, 2],
    gpu: ([a]) => ops.pow(a, p),
    ref: ([a]) => ref.refMap(a, (x) => x ** p),
  })),
  {
    name: "pow 1.5 of positive bases",
    shapes: [[8]],
    range: pos,
    gpu: ([a]) => ops.pow(a, 1.5),
    ref: ([a]) => ref.refMap(a, (x) => x ** 1.5),
  },
  {
    name: "sum over axis 1 of [3,5,7]",
    shapes: [[3, 5, 7]],
    gpu: ([a]) => ops.sum(a, 1),
    ref: ([a]) => ref.refReduce(a, 1, "sum"),
  },
  {
    name: "sum over all",
    shapes: [[4, 6]],
    gpu: ([a]) => ops.sum(a),
    ref: ([a]) => ref.host(ref.refReduce(ref.host(a.data, [1, a.data.length]), 1, "sum").data, []),
  },
  {
    name: "sum over a long axis 1 of [2,700,3], split into chunks",
    shapes: [[2, 700, 3]],
    gpu: ([a]) => ops.sum(a, 1),
    ref: ([a]) => ref.refReduce(a, 1, "sum"),
  },
  {
    name: "mean over all of [90,40], split into chunks",
    shapes: [[90, 40]],
    gpu: ([a]) => ops.mean(a),
    ref: ([a]) =>
      ref.host([ref.refReduce(ref.host(a.data, [1, a.data.length]), 1, "sum").data[0] / 3600], []),
  },
  {
    name: "mean over last axis with keepDim",
    shapes: [[5, 3]],
    gpu: ([a]) => ops.mean(a, -1, { keepDim: true }),
    ref: ([a]) => ref.refReduce(a, 1, "mean", true),
  },
  {
    name: "max over axis 0",
    shapes: [[6, 4]],
    gpu: ([a]) => ops.max(a, 0),
    ref: ([a]) => ref.refReduce(a, 0, "max"),
  },
  {
    name: "reshape",
    shapes: [[2, 6]],
    gpu: ([a]) => ops.reshape(a, [3, -1]),
    ref: ([a]) => ref.host(a.data, [3, 4]),
  },
  {
    name: "permute [2,3,4] by [2,0,1]",
    shapes: [[2, 3, 4]],
    gpu: ([a]) => ops.permute(a, [2, 0, 1]),
    ref: ([a]) => ref.refPermute(a, [2, 0, 1]),
  },
  {
    // The attention heads' layout change: a size-1 axis, and D stays whole (merged copy dims).
    name: "permute [2,1,3,4,5] by [0,3,1,2,4]",
    shapes: [[2, 1, 3, 4, 5]],
    gpu: ([a]) => ops.permute(a, [0, 3, 1, 2, 4]),
    ref: ([a]) => ref.refPermute(a, [0, 3, 1, 2, 4]),
  },
  {
    // D = 8 is contiguous in both layouts: copied in runs of 4.
    name: "permute [2,3,2,8] by [0,2,1,3]",
    shapes: [[2, 3, 2, 8]],
    gpu: ([a]) => ops.permute(a, [0, 2, 1, 3]),
    ref: ([a]) => ref.refPermute(a, [0, 2, 1, 3]),
  },
  {
    name: "transpose of the last two axes",
    shapes: [[2, 5, 3]],
    gpu: ([a]) => ops.transpose(a, 1, 2),
    ref: ([a]) => ref.refPermute(a, [0, 2, 1]),
  },
  {
    name: "slice of [3,6] columns 1 to 5: runs of 4 starting off a multiple of 4",
    shapes: [[3, 6]],
    gpu: ([a]) => ops.slice(a, 1, 1, 5),
    ref: ([a]) => ref.refSlice(a, 1, 1, 5),
  },
  {
    name: "slice of [2,6,8] rows 1 to 5: vec4 runs on CPU adapters",
    shapes: [[2, 6, 8]],
    gpu: ([a]) => ops.slice(a, 1, 1, 5),
    ref: ([a]) => ref.refSlice(a, 1, 1, 5),
  },
  {
    name: "slice",
    shapes: [[3, 7, 2]],
    gpu: ([a]) => ops.slice(a, 1, 2, 6),
    ref: ([a]) => ref.refSlice(a, 1, 2, 6),
  },
  {
    name: "concat along axis 1",
    shapes: [[2, 3, 2], [2, 1, 2], [2, 4, 2]],
    gpu: (xs) => ops.concat(xs, 1),
    ref: (xs) => ref.refConcat(xs, 1),
  },
  {
    name: "gatherRows with a repeated row",
    shapes: [[5, 3]],
    gpu: ([a]) => ops.gatherRows(a, [4, 0, 4, 2]),
    ref: ([a]) => ref.refGatherRows(a, [4, 0, 4, 2]),
  },
  {
    name: "expand [3,1] to [2,3,4]",
    shapes: [[3, 1]],
    gpu: ([a]) => ops.expand(a, [2, 3, 4]),
    ref: ([a]) => ref.refBroadcast(a, ref.host(new Float64Array(24), [2, 3, 4]), (x) => x),
  },
  {
    name: "softmax over the last axis of [3,2,7]",
    shapes: [[3, 2, 7]],
    range: [-3, 3],
    gpu: ([a]) => ops.softmax(a),
    ref: ([a]) => ref.refSoftmax(a),
  },
  {
    name: "depthwiseConv2d 7x7 pad 3 of [2,5,6,3] (taps past every edge)",
    shapes: [[2, 5, 6, 3], [3, 1, 7, 7], [3]],
    gpu: ([x, w, b]) => ops.depthwiseConv2d(x, w, b, 3),
    ref: ([x, w, b]) => ref.refDepthwiseConv2d(x, w, b, 3),
  },
  {
    // Rows of 520: the weight gradient sums one row per chunk, so taps cross chunk boundaries.
    name: "depthwiseConv2d 3x3 pad 1 of [1,3,520,1]: weight gradient in chunks of rows",
    shapes: [[1, 3, 520, 1], [1, 1, 3, 3], [1]],
    gpu: ([x, w, b]) => ops.depthwiseConv2d(x, w, b, 1),
    ref: ([x, w, b]) => ref.refDepthwiseConv2d(x, w, b, 1),
  },
  {
    name: "depthwiseConv2d 3x3 pad 1 of [1,4,3,5] without bias",
    shapes: [[1, 4, 3, 5], [5, 1, 3, 3]],
    gpu: ([x, w]) => ops.depthwiseConv2d(x, w, undefined, 1),
    ref: ([x, w]) => ref.refDepthwiseConv2d(x, w, null, 1),
  },
  {
    name: "layerNorm of [4,3,10]",
    shapes: [[4, 3, 10], [10], [10]],
    gpu: ([x, w, b]) => ops.layerNorm(x, w, b, 1e-5),
    ref: ([x, w, b]) => ref.refLayerNorm(x, w, b, 1e-5),
  },
  {
    // f32 steps of 4e-6 against a spread of 1: a one-pass variance E[x²] - E[x]² loses ~1e-3.
    name: "layerNorm of [5,16] rows with a mean of 61",
    shapes: [[5, 16], [16], [16]],
    ranges: [[60, 62], [0.5, 1.5], [-1, 1]],
    tol: [{ atol: 2e-4, rtol: 1e-3 }, { atol: 1e-3, rtol: 1e-3 }],
    gpu: ([x, w, b]) => ops.layerNorm(x, w, b, 1e-5),
    ref: ([x, w, b]) => ref.refLayerNorm(x, w, b, 1e-5),
  },
  {
    name: "layerNorm of [150,8]: weight and bias gradients summed in chunks of rows",
    shapes: [[150, 8], [8], [8]],
    gpu: ([x, w, b]) => ops.layerNorm(x, w, b, 1e-5),
    ref: ([x, w, b]) => ref.refLayerNorm(x, w, b, 1e-5),
  },
  // Rows longer than a GPU row workgroup (128), in every flavour of the row kernels; and rows
  // of 13, which start off multiples of four and end past the last whole vec4 of the tensor.
  ...(["thread", "vec4", "group", "texture"] as const).flatMap((f): Case[] => [
    {
      name: `softmax of [5,300], ${f} per row`,
      shapes: [[5, 300]],
      range: [-3, 3],
      gpu: ([a]) => withRowFlavour(f, () => ops.softmax(a)),
      ref: ([a]) => ref.refSoftmax(a),
    },
    {
      name: `softmax of [7,13], ${f} per row`,
      shapes: [[7, 13]],
      range: [-3, 3],
      gpu: ([a]) => withRowFlavour(f, () => ops.softmax(a)),
      ref: ([a]) => ref.refSoftmax(a),
    },
    {
      name: `softmax of [6,3], ${f} per row: rows inside one vec4 or across two`,
      shapes: [[6, 3]],
      range: [-3, 3],
      gpu: ([a]) => withRowFlavour(f, () => ops.softmax(a)),
      ref: ([a]) => ref.refSoftmax(a),
    },
    {
      name: `layerNorm of [6,200], ${f} per row`,
      shapes: [[6, 200], [200], [200]],
      gpu: ([x, w, b]) => withRowFlavour(f, () => ops.layerNorm(x, w, b, 1e-5)),
      ref: ([x, w, b]) => ref.refLayerNorm(x, w, b, 1e-5),
    },
    // Rows of 256 and 512 bytes, which the texture flavour copies into textures.
    {
      name: `softmax of [9,128], ${f} per row`,
      shapes: [[9, 128]],
      range: [-3, 3],
      gpu: ([a]) => withRowFlavour(f, () => ops.softmax(a)),
      ref: ([a]) => ref.refSoftmax(a),
    },
    {
      name: `layerNorm of [7,64], ${f} per row`,
      shapes: [[7, 64], [64], [64]],
      gpu: ([x, w, b]) => withRowFlavour(f, () => ops.layerNorm(x, w, b, 1e-5)),
      ref: ([x, w, b]) => ref.refLayerNorm(x, w, b, 1e-5),
    },
  ]),
  {
    name: "selfAttention of [2,5,12] with 2 heads: packed queries, keys and values",
    shapes: [[2, 5, 12]],
    range: [-2, 2],
    gpu: ([x]) => ops.selfAttention(x, 2),
    ref: ([x]) => ref.refSelfAttention(x, 2),
  },
  {
    // Rows of 768 and 256 bytes: on CPU adapters each head is copied into textures, not packed.
    name: "selfAttention of [2,5,192] with 2 heads, rows a multiple of 256 bytes",
    shapes: [[2, 5, 192]],
    range: [-1, 1],
    gpu: ([x]) => ops.selfAttention(x, 2),
    ref: ([x]) => ref.refSelfAttention(x, 2),
  },
  {
    // A hook on the probabilities (dropout) takes the path through head copies and the tape;
    // without one, CPU adapters read the heads straight out of the projection in textures.
    name: "selfAttention of [2,5,12] with a hook on the probabilities",
    shapes: [[2, 5, 12]],
    range: [-2, 2],
    gpu: ([x]) => ops.selfAttention(x, 2, undefined, (p) => p),
    ref: ([x]) => ref.refSelfAttention(x, 2),
  },
  {
    name: "selfAttention of [1,7,9] with 3 heads of odd width and a scale of 0.7",
    shapes: [[1, 7, 9]],
    range: [-2, 2],
    gpu: ([x]) => ops.selfAttention(x, 3, 0.7),
    ref: ([x]) => ref.refSelfAttention(x, 3, 0.7),
  },
  {
    // exp overflows f32 past 88: without the row maximum subtracted this is NaN.
    name: "softmax of [4,9] with logits in [-150, 150]",
    shapes: [[4, 9]],
    range: [-150, 150],
    gpu: ([a]) => ops.softmax(a),
    ref: ([a]) => ref.refSoftmax(a),
  },
  {
    name: "crossEntropy of logits in [-150, 150]",
    shapes: [[4, 9]],
    range: [-150, 150],
    gpu: ([x]) => ops.crossEntropy(x, [3, 0, 8, 5]),
    ref: ([x]) => ref.refCrossEntropy(x, [3, 0, 8, 5]),
  },
  {
    name: "crossEntropy with an ignored row",
    shapes: [[5, 7]],
    range: [-2, 2],
    gpu: ([x]) => ops.crossEntropy(x, [3, 0, -100, 6, 1]),
    ref: ([x]) => ref.refCrossEntropy(x, [3, 0, -100, 6, 1]),
  },
  {
    // Appended, so that the earlier cases keep their seeds. Both hold the whole last dimension,
    // a multiple of 4: four elements per invocation.
    name: "add broadcasts [3,5,8] + [1,5,8] (position embeddings), four per invocation",
    shapes: [[3, 5, 8], [1, 5, 8]],
    gpu: ([a, b]) => ops.add(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x + y),
  },
  {
    name: "div broadcasts [4] / [2,3,1,4] with negative divisors, four per invocation",
    shapes: [[4], [2, 3, 1, 4]],
    ranges: [[-2, 2], [-2, -0.5]],
    gpu: ([a, b]) => ops.div(a, b),
    ref: ([a, b]) => ref.refBroadcast(a, b, (x, y) => x / y),
  },
];

const MATMUL_SHAPES: {
  name: string;
  a: number[];
  b: number[];
  transA: boolean;
  transB: boolean;
}[] = [
  { name: "NN 37x19·19x23", a: [37, 19], b: [19, 23], transA: false, transB: false },
  { name: "NT 37x20·41x20", a: [37, 20], b: [41, 20], transA: false, transB: true },
  { name: "NT odd K 5x7·3x7", a: [5, 7], b: [3, 7], transA: false, transB: true },
  { name: "TN 19x37·19x23", a: [19, 37], b: [19, 23], transA: true, transB: false },
  { name: "TT 19x37·23x19", a: [19, 37], b: [23, 19], transA: true, transB: true },
  { name: "batched NN 3x5x7·3x7x6", a: [3, 5, 7], b: [3, 7, 6], transA: false, transB: false },
  { name: "batched NT 2x9x8·2x17x8", a: [2, 9, 8], b: [2, 17, 8], transA: false, transB: true },
  { name: "folded [2,3,4]·[5,4]ᵀ", a: [2, 3, 4], b: [5, 4], transA: false, transB: true },
];

for (const c of MATMUL_SHAPES) {
  CASES.push({
    name: `matmul ${c.name}`,
    shapes: [c.a, c.b],
    gpu: ([a, b]) => ops.matmul(a, b, { transA: c.transA, transB: c.transB }),
    ref: ([a, b]) => ref.refMatmul(a, b, c.transA, c.transB),
  });
}
CASES.push({
  name: "matmul with fused bias and alpha",
  shapes: [[6, 5], [4, 5], [4]],
  gpu: ([a, b, bias]) => ops.matmul(a, b, { transB: true, bias, alpha: 0.5 }),
  ref: ([a, b, bias]) => ref.refMatmul(a, b, false, true, bias, 0.5),
});

function hostOf(data: Float32Array, shape: number[]): ref.HostTensor {
  return ref.host(data, shape);
}

async function checkCase(c: Case, seed: number): Promise<void> {
  const random = rng(seed);
  const values = c.shapes.map((s, i) => {
    const [lo, hi] = c.ranges?.[i] ?? c.range ?? [-1, 1];
    return uniform(random, s.reduce((a, b) => a * b, 1), lo, hi);
  });
  const hosts = values.map((v, i) => hostOf(v, c.shapes[i]));
  const expected = c.ref(hosts);
  const weights = new Float64Array(expected.data.length).map(() => random() * 2 - 1);
  const refGrads = ref.refGradients(c.ref, hosts, weights);
  const [forward, backward] = c.tol ?? [FORWARD, BACKWARD];
  // All inputs requiring gradients; then, with several inputs, each alone, so that the backward
  // branches for operands that need no gradient run too.
  const subsets = [values.map(() => true)];
  if (values.length > 1) subsets.push(...values.map((_, i) => values.map((_, j) => i === j)));
  for (const wanted of subsets) {
    const what = wanted.every((w) => w) ? "" : ` (only input ${wanted.indexOf(true)} needs grad)`;
    const inputs = values.map((v, i) => Tensor.from(v, c.shapes[i], { requiresGrad: wanted[i] }));
    const out = scope(() => {
      const y = c.gpu(inputs);
      y.backward(Tensor.from(Float32Array.from(weights), y.shape));
      return y;
    });
    if (out.shape.join() !== expected.shape.join()) {
      throw new Error(`${c.name}: shape [${out.shape}] != expected [${expected.shape}]`);
    }
    assertClose(await out.toArray(), expected.data, forward, `${c.name} forward${what}`);
    for (let i = 0; i < inputs.length; i++) {
      const grad = inputs[i].grad;
      if (!wanted[i]) {
        assert.ok(!grad, `${c.name}: input ${i} needs no gradient but got one${what}`);
        continue;
      }
      if (!grad) throw new Error(`${c.name}: input ${i} got no gradient${what}`);
      assertClose(
        await grad.toArray(),
        refGrads[i],
        backward,
        `${c.name} grad of input ${i}${what}`,
      );
    }
    out.dispose();
    for (const t of inputs) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

Deno.test("every op's forward and backward match the f64 reference", async (t) => {
  for (const [i, c] of CASES.entries()) {
    await t.step(c.name, () => checkCase(c, 1000 + i));
  }
});

Deno.test("every matmul variant is correct on odd and tile-crossing shapes", async (t) => {
  const variants = [
    ...REGISTER_VARIANTS,
    ...VEC4_VARIANTS,
    ...VEC4TN_VARIANTS,
    ...TEXTURE_VARIANTS,
    ...TEXTURETN_VARIANTS,
    ...TEXTURENN_VARIANTS,
    // One SIMD vector per workgroup at 512 bits: more idle invocations past the last tile.
    { ...TEXTURE_VARIANTS[1], workgroup: 16 },
    { ...smallTile(TEXTURETN_VARIANTS), workgroup: 16 },
    ...TILED_VARIANTS,
  ];
  // Each vec4 family meets shapes it is eligible for (vec4: NT with K % 4 == 0; vec4tn: TN with
  // M and N % 4 == 0), batched and not, crossing its tiles;
  // a forced variant that cannot run a shape falls back to the automatic choice.
  const shapes = [
    { a: [35, 21], b: [21, 70], transA: false, transB: false },
    { a: [35, 24], b: [70, 24], transA: false, transB: true },
    { a: [2, 21, 35], b: [2, 21, 9], transA: true, transB: false },
    { a: [21, 35], b: [9, 21], transA: true, transB: true },
    { a: [2, 35, 24], b: [2, 70, 24], transA: false, transB: true },
    { a: [35, 24], b: [24, 68], transA: false, transB: false },
    { a: [2, 35, 24], b: [2, 24, 36], transA: false, transB: false },
    { a: [21, 36], b: [21, 68], transA: true, transB: false },
    { a: [2, 21, 20], b: [2, 21, 36], transA: true, transB: false },
    // Five batch entries of six 32×32 tiles: the texture families number tiles across entries,
    // so entries start and end inside workgroups.
    { a: [5, 35, 24], b: [5, 70, 24], transA: false, transB: true },
    // Rows of 256 bytes, which the texture families copy into textures instead of packing
    // them with a kernel: batched NT, and TN as stored.
    { a: [2, 35, 64], b: [2, 70, 64], transA: false, transB: true },
    { a: [33, 64], b: [33, 128], transA: true, transB: false },
    // Crosses the GPU family's largest blocks (128 × 128, K steps of 16) in every layout.
    { a: [133, 40], b: [40, 140], transA: false, transB: false },
    { a: [40, 133], b: [140, 40], transA: true, transB: true },
  ];
  for (const v of variants) {
    await t.step(`${v.family} ${v.tm}x${v.tn}/${v.workgroup}`, async () => {
      forceMatmulVariant(v);
      let ran = 0;
      try {
        for (const [i, s] of shapes.entries()) {
          const random = rng(77 + i);
          const a = uniform(random, s.a.reduce((x, y) => x * y));
          const b = uniform(random, s.b.reduce((x, y) => x * y));
          const bias = uniform(random, 140);
          const n = s.transB ? s.b.at(-2)! : s.b.at(-1)!;
          const expected = ref.refMatmul(
            ref.host(a, s.a),
            ref.host(b, s.b),
            s.transA,
            s.transB,
            ref.host(bias.subarray(0, n), [n]),
          );
          const out = scope(() =>
            ops.matmul(Tensor.from(a, s.a), Tensor.from(b, s.b), {
              transA: s.transA,
              transB: s.transB,
              bias: Tensor.from(bias.subarray(0, n), [n]),
            })
          );
          assertClose(await out.toArray(), expected.data, FORWARD, `shape ${i}`);
          out.dispose();
          // The forced variant ran wherever it can run the shape (no silent fallback).
          const [rowsA, colsA] = s.a.slice(-2);
          const shape = {
            batch: s.a.length === 3 ? s.a[0] : 1,
            m: s.transA ? colsA : rowsA,
            k: s.transA ? rowsA : colsA,
            n,
            transA: s.transA,
            transB: s.transB,
          };
          if (backend().canRun(v, shape)) {
            assert.deepEqual(lastMatmulVariant(), v, `shape ${i} ran another variant`);
            ran++;
          }
        }
        assert.ok(ran > 0, "the forced variant ran on no shape");
      } finally {
        forceMatmulVariant(null);
      }
    });
  }
});

Deno.test(
  "a matmul operand held in a texture is packed again once its buffer is written",
  async () => {
    // On CPU adapters operands are packed into textures that later matmuls reuse while their
    // source is unwritten: a by copy (rows of 256 bytes), b by the packing kernel (transposed).
    const random = rng(5);
    const data = () => uniform(random, 35 * 64);
    const bData = uniform(random, 64 * 36);
    const b = Tensor.from(bData, [64, 36]);
    const check = async (a: Tensor, aData: Float32Array, bHost: Float32Array, what: string) => {
      const expected = ref.refMatmul(ref.host(aData, [35, 64]), ref.host(bHost, [64, 36]));
      const out = ops.matmul(a, b);
      assertClose(await out.toArray(), expected.data, FORWARD, what);
      out.dispose();
    };
    const a1 = data();
    const a = Tensor.from(a1, [35, 64]);
    await check(a, a1, bData, "first product");
    await check(a, a1, bData, "the same operands again");
    const a2 = data();
    a.assign(a2);
    await check(a, a2, bData, "after a host write into a");
    const delta = uniform(random, 64 * 36);
    ops.accumulate(b, Tensor.from(delta, [64, 36]));
    await check(a, a2, bData.map((x, i) => x + delta[i]), "after a kernel wrote into b");
    // A freed operand's region handed to a new tensor that a kernel fills.
    const bNow = bData.map((x, i) => x + delta[i]);
    const c = ops.mul(a, 2);
    await check(c, a2.map((x) => 2 * x), bNow, "a kernel's output");
    c.dispose();
    const d = ops.mul(a, -3);
    await check(d, a2.map((x) => -3 * x), bNow, "another output, maybe in the same region");
    for (const t of [a, b, d]) t.dispose();
  },
);

Deno.test(
  "large NN products too tall for textures run as NT on a transposed copy of b",
  async () => {
    // One row more than a texture can hold, so the texture family does not apply.
    const m = engine().device.limits.maxTextureDimension2D + 1;
    const cases = [
      { a: [m, 64], b: [64, 128], batch: 1 },
      { a: [2, m, 64], b: [2, 64, 128], batch: 2 },
    ];
    for (const [i, c] of cases.entries()) {
      const shape = { batch: c.batch, m, k: 64, n: 128, transA: false, transB: false };
      const be = backend();
      if (be instanceof SoftwareBackend) assert.equal(be.texturesFit(shape), false);
      assert.equal(
        be.runsAsNT(shape),
        be.name === "software",
        "the rewrite applies on CPU adapters only",
      );
      const random = rng(300 + i);
      const a = uniform(random, c.a.reduce((x, y) => x * y));
      const b = uniform(random, c.b.reduce((x, y) => x * y));
      const bias = uniform(random, 128);
      const expected = ref.refMatmul(
        ref.host(a, c.a),
        ref.host(b, c.b),
        false,
        false,
        ref.host(bias, [128]),
        0.5,
      );
      const out = scope(() =>
        ops.matmul(Tensor.from(a, c.a), Tensor.from(b, c.b), {
          bias: Tensor.from(bias, [128]),
          alpha: 0.5,
        })
      );
      assertClose(await out.toArray(), expected.data, FORWARD, `case ${i}`);
      out.dispose();
    }
  },
);

Deno.test("strided copies drop size-1 axes and merge axes contiguous in both layouts", () => {
  // [B, S, H, D] → [B, H, S, D]: D stays one run; B and the rest stay apart.
  assert.deepEqual(mergeCopyDims([2, 5, 3, 4], [60, 12, 4, 1], [60, 4, 20, 1]), {
    shape: [2, 5, 3, 4],
    srcStrides: [60, 12, 4, 1],
    dstStrides: [60, 4, 20, 1],
  });
  assert.deepEqual(mergeCopyDims([2, 1, 3, 4], [12, 99, 4, 1], [12, 7, 4, 1]), {
    shape: [24],
    srcStrides: [1],
    dstStrides: [1],
  });
  // Rows 1–2 of a [4, 6] matrix are one run; its columns 0–2 are two.
  assert.deepEqual(mergeCopyDims([2, 6], [6, 1], [6, 1]).shape, [12]);
  assert.deepEqual(mergeCopyDims([2, 3], [6, 1], [3, 1]).shape, [2, 3]);
  assert.deepEqual(mergeCopyDims([1, 1], [5, 1], [1, 1]).shape, [1]);
});

Deno.test("a Linear layer's bias gradient comes out of its weight gradient's product", async () => {
  // On CPU adapters the texturetn product gᵀ·x also sums g's columns: the 32×32 tile (with
  // weight rows past the last full tile and K not a multiple of 4) and the small one.
  for (const [rows, k, n] of [[301, 64, 70], [37, 20, 9]]) {
    const random = rng(rows);
    const x = uniform(random, rows * k);
    const w = uniform(random, n * k);
    const b = uniform(random, n);
    const g = uniform(random, rows * n);
    const s = { batch: 1, m: n, k: rows, n: k, transA: true, transB: false };
    if (backend().name === "software") assert.equal(matmulVariantFor(s).family, "texturetn");
    const grad = { requiresGrad: true };
    const inputs = [
      Tensor.from(x, [rows, k], grad),
      Tensor.from(w, [n, k], grad),
      Tensor.from(b, [n], grad),
    ];
    scope(() => {
      const y = ops.matmul(inputs[0], inputs[1], { transB: true, bias: inputs[2] });
      y.backward(Tensor.from(g, [rows, n]));
    });
    const dw = new Float64Array(n * k);
    const db = new Float64Array(n);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) {
        const gj = g[r * n + j];
        db[j] += gj;
        for (let c = 0; c < k; c++) dw[j * k + c] += gj * x[r * k + c];
      }
    }
    const tol: Tolerance = { atol: 1e-4, rtol: 1e-4 };
    assertClose(await inputs[1].grad!.toArray(), dw, tol, `weight gradient ${rows}×${k}×${n}`);
    assertClose(await inputs[2].grad!.toArray(), db, tol, `bias gradient ${rows}×${k}×${n}`);
    for (const t of inputs) {
      t.grad?.dispose();
      t.dispose();
    }
  }
});

Deno.test("the analytic attention gradient of the reference equals its central differences", () => {
  const random = rng(19);
  const qkv = ref.host(uniform(random, 2 * 6 * 12, -2, 2), [2, 6, 12]);
  const gout = ref.host(uniform(random, 2 * 6 * 4), [2, 6, 4]);
  const numeric = ref.refGradients(([x]) => ref.refSelfAttention(x, 2, 0.6), [qkv], gout.data)[0];
  const analytic = ref.refSelfAttentionGrad(qkv, 2, gout, 0.6).data;
  assertClose(analytic, numeric, { atol: 1e-8, rtol: 1e-6 }, "attention gradient");
});

Deno.test(
  "selfAttention at 197 tokens (ViT-B/16's sequence) matches the f64 reference, " +
    "forward and gradients",
  async (t) => {
    // Past 64 tokens: the score rows span several row-kernel groups and texture tiles. [1,197,192]
    // has rows of 768 bytes (texture-friendly heads on CPU adapters), [2,197,24] does not.
    for (const [shape, heads] of [[[1, 197, 192], 2], [[2, 197, 24], 4]] as const) {
      await t.step(`[${shape}] with ${heads} heads`, async () => {
        const random = rng(shape[2]);
        const size = shape[0] * shape[1] * shape[2];
        const x = uniform(random, size, -2, 2);
        const g = uniform(random, size / 3);
        const qkv = ref.host(x, [...shape]);
        const gout = ref.host(g, [shape[0], shape[1], shape[2] / 3]);
        const input = Tensor.from(x, [...shape], { requiresGrad: true });
        const out = scope(() => {
          const y = ops.selfAttention(input, heads);
          y.backward(Tensor.from(g, y.shape));
          return y;
        });
        const expected = ref.refSelfAttention(qkv, heads).data;
        assertClose(await out.toArray(), expected, FORWARD, "forward");
        const grad = ref.refSelfAttentionGrad(qkv, heads, gout).data;
        assertClose(await input.grad!.toArray(), grad, BACKWARD, "gradient");
        input.grad!.dispose();
        input.dispose();
        out.dispose();
      });
    }
  },
);

Deno.test(
  "dropout keeps 1-p of the elements, scales them by 1/(1-p), and masks the gradient alike",
  async () => {
    const n = 40000;
    const x = Tensor.from(new Float32Array(n).fill(1), [n], { requiresGrad: true });
    const masks: boolean[][] = [];
    for (const [p, seed] of [[0.3, 99], [0.3, 100], [0.9, 7]]) {
      const out = scope(() => {
        const y = ops.dropout(x, p, seed);
        y.backward(Tensor.from(new Float32Array(n).fill(2), [n]));
        return y;
      });
      const y = await out.toArray();
      const grad = await x.grad!.toArray();
      const scale = Math.fround(1 / (1 - p));
      const kept = y.filter((v) => v !== 0).length;
      // The keep count is binomial: within 5 standard deviations of n(1-p).
      const sd = Math.sqrt(n * p * (1 - p));
      assert.ok(Math.abs(kept - n * (1 - p)) < 5 * sd, `p=${p}: kept ${kept} of ${n}`);
      y.forEach((v, i) => {
        if (v !== 0) assert.ok(Math.abs(v - scale) <= 1e-6 * scale, `p=${p}: kept value ${v}`);
        assert.equal(grad[i], v === 0 ? 0 : 2 * v, `p=${p}: gradient ${i} follows the mask`);
      });
      masks.push([...y].map((v) => v !== 0));
      x.grad!.dispose();
      x.grad = null;
      out.dispose();
    }
    // Another seed draws another mask: independent masks agree on p² + (1-p)² of the elements.
    const same = masks[0].filter((k, i) => k === masks[1][i]).length / n;
    assert.ok(Math.abs(same - 0.58) < 0.02, `two seeds agree on ${same} of the mask`);
    x.dispose();
  },
);

Deno.test("dropout with p = 0 is the identity, forward and backward", async () => {
  const values = uniform(rng(4), 37);
  const x = Tensor.from(values, [37], { requiresGrad: true });
  const out = scope(() => {
    const y = ops.dropout(x, 0, 5);
    y.backward(Tensor.from(new Float32Array(37).fill(3), [37]));
    return y;
  });
  assert.deepEqual(await out.toArray(), values);
  assert.deepEqual([...await x.grad!.toArray()], new Array(37).fill(3));
  out.dispose();
  x.dispose();
});

Deno.test(
  "dropout with p = 1 zeroes everything, with no NaN or inf",
  async () => {
    const x = Tensor.from(uniform(rng(6), 4096), [4096], { requiresGrad: true });
    const out = scope(() => {
      const y = ops.dropout(x, 1, 5);
      y.backward(Tensor.from(new Float32Array(4096).fill(1), [4096]));
      return y;
    });
    assert.ok((await out.toArray()).every((v) => v === 0), "all zeros");
    assert.ok((await x.grad!.toArray()).every((v) => v === 0), "zero gradient");
    out.dispose();
    x.dispose();
  },
);

Deno.test("max() over an empty axis throws, as torch's does", () => {
  const x = Tensor.zeros([3, 0, 4]);
  assert.throws(() => ops.max(x, 1), /max.*(empty|length 0|non-zero size)/);
  x.dispose();
});
