/**
 * Plain-TS reference implementations of every primitive, in f64, for tests: each kernel is
 * checked against these on random shapes, and their finite differences give the reference
 * gradients.
 *
 * @module
 */

/** A host array with a shape. */
export interface HostTensor {
  /** Values, row-major. */
  data: Float64Array;
  /** Dimensions. */
  shape: number[];
}

/** Makes a host tensor. */
export function host(data: ArrayLike<number>, shape: readonly number[]): HostTensor {
  return { data: Float64Array.from(data), shape: [...shape] };
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** NumPy broadcasting of a binary function. */
export function refBroadcast(
  a: HostTensor,
  b: HostTensor,
  f: (x: number, y: number) => number,
): HostTensor {
  const rank = Math.max(a.shape.length, b.shape.length);
  const pa = [...new Array(rank - a.shape.length).fill(1), ...a.shape];
  const pb = [...new Array(rank - b.shape.length).fill(1), ...b.shape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const sa = strides(pa).map((s, i) => (pa[i] === 1 ? 0 : s));
  const sb = strides(pb).map((s, i) => (pb[i] === 1 ? 0 : s));
  const n = size(shape);
  const out = new Float64Array(n);
  const coord = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += coord[d] * sa[d];
      ib += coord[d] * sb[d];
    }
    out[i] = f(a.data[ia], b.data[ib]);
    for (let d = rank - 1; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  return { data: out, shape };
}

/** Element-wise map. */
export function refMap(x: HostTensor, f: (v: number) => number): HostTensor {
  return { data: x.data.map(f), shape: [...x.shape] };
}

/** erf to double precision (Abramowitz–Stegun 7.1.28 is too coarse; this uses a series/CF). */
export function refErf(x: number): number {
  const z = Math.abs(x);
  let result: number;
  if (z < 2.5) {
    // Maclaurin series, converges fast for small |x|.
    let term = z;
    let total = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      total += add;
      if (Math.abs(add) < 1e-17 * Math.abs(total)) break;
    }
    result = (2 / Math.sqrt(Math.PI)) * total;
  } else {
    // Continued fraction for erfc.
    let f = 0;
    for (let n = 60; n >= 1; n--) f = (n / 2) / (z + f);
    result = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
  }
  return x < 0 ? -result : result;
}

/** GELU, erf form. */
export function refGelu(x: number): number {
  return 0.5 * x * (1 + refErf(x / Math.SQRT2));
}

/** Reduction over one axis. */
export function refReduce(
  x: HostTensor,
  axis: number,
  kind: "sum" | "mean" | "max",
  keepDim = false,
): HostTensor {
  const outer = size(x.shape.slice(0, axis));
  const len = x.shape[axis];
  const inner = size(x.shape.slice(axis + 1));
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = kind === "max" ? -Infinity : 0;
      for (let r = 0; r < len; r++) {
        const v = x.data[(o * len + r) * inner + i];
        acc = kind === "max" ? Math.max(acc, v) : acc + v;
      }
      out[o * inner + i] = kind === "mean" ? acc / len : acc;
    }
  }
  const shape = keepDim
    ? x.shape.map((d, i) => (i === axis ? 1 : d))
    : x.shape.filter((_, i) => i !== axis);
  return { data: out, shape };
}

/** `alpha · op(a) · op(b) + bias`, batched over leading dimensions (equal in a and b). */
export function refMatmul(
  a: HostTensor,
  b: HostTensor,
  transA = false,
  transB = false,
  bias?: HostTensor,
  alpha = 1,
): HostTensor {
  const batchShape = b.shape.slice(0, -2);
  let [ar, ac] = a.shape.slice(-2);
  let batch = size(batchShape);
  if (batchShape.length === 0 && a.shape.length > 2) {
    ar *= size(a.shape.slice(0, -2));
    batch = 1;
  }
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const [br, bc] = b.shape.slice(-2);
  const n = transB ? br : bc;
  const out = new Float64Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let q = 0; q < k; q++) {
          const av = transA ? a.data[bi * m * k + q * m + i] : a.data[bi * m * k + i * k + q];
          const bv = transB ? b.data[bi * k * n + j * k + q] : b.data[bi * k * n + q * n + j];
          acc += av * bv;
        }
        out[(bi * m + i) * n + j] = alpha * acc + (bias ? bias.data[j] : 0);
      }
    }
  }
  const shape = batchShape.length > 0
    ? [...batchShape, m, n]
    : a.shape.length > 2 && !transA
    ? [...a.shape.slice(0, -1), n]
    : [m, n];
  return { data: out, shape };
}

/** Permutation of axes. */
export function refPermute(x: HostTensor, axes: readonly number[]): HostTensor {
  const shape = axes.map((a) => x.shape[a]);
  const inStrides = strides(x.shape);
  const n = size(shape);
  const out = new Float64Array(n);
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += coord[d] * inStrides[axes[d]];
    out[i] = x.data[src];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  return { data: out, shape };
}

/** Slice `[start, end)` along `axis`. */
export function refSlice(x: HostTensor, axis: number, start: number, end: number): HostTensor {
  const outer = size(x.shape.slice(0, axis));
  const len = x.shape[axis];
  const inner = size(x.shape.slice(axis + 1));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let r = start; r < end; r++) {
      for (let i = 0; i < inner; i++) out.push(x.data[(o * len + r) * inner + i]);
    }
  }
  return host(out, x.shape.map((d, i) => (i === axis ? end - start : d)));
}

/** Concatenation along `axis`. */
export function refConcat(xs: readonly HostTensor[], axis: number): HostTensor {
  const outer = size(xs[0].shape.slice(0, axis));
  const inner = size(xs[0].shape.slice(axis + 1));
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const len = x.shape[axis] * inner;
      for (let i = 0; i < len; i++) out.push(x.data[o * len + i]);
    }
  }
  const total = xs.reduce((s, x) => s + x.shape[axis], 0);
  return host(out, xs[0].shape.map((d, i) => (i === axis ? total : d)));
}

/** Rows of a 2-D tensor. */
export function refGatherRows(x: HostTensor, indices: readonly number[]): HostTensor {
  const cols = x.shape[1];
  const out: number[] = [];
  for (const r of indices) for (let c = 0; c < cols; c++) out.push(x.data[r * cols + c]);
  return host(out, [indices.length, cols]);
}

/** Softmax over the last axis. */
export function refSoftmax(x: HostTensor): HostTensor {
  const cols = x.shape[x.shape.length - 1];
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / cols; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x.data[r * cols + c]);
    let total = 0;
    for (let c = 0; c < cols; c++) total += Math.exp(x.data[r * cols + c] - m);
    for (let c = 0; c < cols; c++) out[r * cols + c] = Math.exp(x.data[r * cols + c] - m) / total;
  }
  return { data: out, shape: [...x.shape] };
}

/** LayerNorm over the last axis. */
export function refLayerNorm(x: HostTensor, w: HostTensor, b: HostTensor, eps: number): HostTensor {
  const cols = x.shape[x.shape.length - 1];
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / cols; r++) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x.data[r * cols + c];
    mean /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x.data[r * cols + c] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / cols + eps);
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = (x.data[r * cols + c] - mean) * rstd * w.data[c] + b.data[c];
    }
  }
  return { data: out, shape: [...x.shape] };
}

/** Mean cross-entropy from logits [N, C]; labels of -100 are ignored. */
export function refCrossEntropy(x: HostTensor, labels: readonly number[]): HostTensor {
  const [rows, cols] = x.shape;
  let total = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    if (labels[r] === -100) continue;
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x.data[r * cols + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x.data[r * cols + c] - m);
    total += m + Math.log(s) - x.data[r * cols + labels[r]];
    count++;
  }
  return host([total / count], []);
}

/**
 * Reference gradients by central differences in f64: the gradient of `sum(f(inputs) · weights)`
 * with respect to each input.
 *
 * @param f The reference forward.
 * @param inputs Its inputs (not modified).
 * @param weights Upstream gradient, same size as f's output.
 * @param h Step.
 * @returns One gradient per input.
 */
export function refGradients(
  f: (inputs: HostTensor[]) => HostTensor,
  inputs: HostTensor[],
  weights: Float64Array,
  h = 1e-5,
): Float64Array[] {
  return inputs.map((input, which) => {
    const grad = new Float64Array(input.data.length);
    for (let i = 0; i < input.data.length; i++) {
      const plus = inputs.map((t, j) => (j === which ? { ...t, data: t.data.slice() } : t));
      const minus = inputs.map((t, j) => (j === which ? { ...t, data: t.data.slice() } : t));
      plus[which].data[i] += h;
      minus[which].data[i] -= h;
      // Output by output, so that the outputs the step leaves alone cancel exactly: a difference
      // of the two weighted sums loses small gradients next to large outputs (exp(20)).
      const up = f(plus).data;
      const down = f(minus).data;
      let difference = 0;
      for (let k = 0; k < up.length; k++) difference += (up[k] - down[k]) * weights[k];
      grad[i] = difference / (2 * h);
    }
    return grad;
  });
}

/**
 * Multi-head self-attention on a packed projection `qkv` [B, T, 3·D]: per head,
 * `softmax(scale · Q Kᵀ) V`, heads side by side in the [B, T, D] result.
 */
export function refSelfAttention(qkv: HostTensor, heads: number, scale?: number): HostTensor {
  const [b, t, d3] = qkv.shape;
  const d = d3 / 3;
  const hd = d / heads;
  const alpha = scale ?? hd ** -0.5;
  const at = (bi: number, ti: number, part: number, h: number, e: number) =>
    qkv.data[(bi * t + ti) * d3 + part * d + h * hd + e];
  const out = new Float64Array(b * t * d);
  for (let bi = 0; bi < b; bi++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < t; i++) {
        const scores = new Float64Array(t);
        for (let j = 0; j < t; j++) {
          let acc = 0;
          for (let e = 0; e < hd; e++) acc += at(bi, i, 0, h, e) * at(bi, j, 1, h, e);
          scores[j] = alpha * acc;
        }
        const probs = refSoftmax({ data: scores, shape: [1, t] }).data;
        for (let e = 0; e < hd; e++) {
          let acc = 0;
          for (let j = 0; j < t; j++) acc += probs[j] * at(bi, j, 2, h, e);
          out[(bi * t + i) * d + h * hd + e] = acc;
        }
      }
    }
  }
  return { data: out, shape: [b, t, d] };
}

/**
 * The gradient of {@link refSelfAttention} with respect to `qkv` for an upstream gradient
 * `gout` [B, T, D], analytically in f64 (central differences cost a forward per input, too many
 * at ViT's 197 tokens). Per head, with `P = softmax(scale · Q Kᵀ)`: `dV = Pᵀ dO`,
 * `dS = P ∘ (dO Vᵀ - rowsum(P ∘ dO Vᵀ))`, `dQ = scale · dS K`, `dK = scale · dSᵀ Q`.
 */
export function refSelfAttentionGrad(
  qkv: HostTensor,
  heads: number,
  gout: HostTensor,
  scale?: number,
): HostTensor {
  const [b, t, d3] = qkv.shape;
  const d = d3 / 3;
  const hd = d / heads;
  const alpha = scale ?? hd ** -0.5;
  const idx = (bi: number, ti: number, part: number, h: number, e: number) =>
    (bi * t + ti) * d3 + part * d + h * hd + e;
  const dqkv = new Float64Array(qkv.data.length);
  const probs = new Float64Array(t * t);
  const dp = new Float64Array(t);
  for (let bi = 0; bi < b; bi++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < t; i++) {
        const row = probs.subarray(i * t, (i + 1) * t);
        for (let j = 0; j < t; j++) {
          let acc = 0;
          for (let e = 0; e < hd; e++) {
            acc += qkv.data[idx(bi, i, 0, h, e)] * qkv.data[idx(bi, j, 1, h, e)];
          }
          row[j] = alpha * acc;
        }
        row.set(refSoftmax({ data: row.slice(), shape: [1, t] }).data);
      }
      for (let i = 0; i < t; i++) {
        const go = (e: number) => gout.data[(bi * t + i) * d + h * hd + e];
        let dot = 0;
        for (let j = 0; j < t; j++) {
          let acc = 0;
          for (let e = 0; e < hd; e++) acc += go(e) * qkv.data[idx(bi, j, 2, h, e)];
          dp[j] = acc;
          dot += acc * probs[i * t + j];
        }
        for (let j = 0; j < t; j++) {
          const p = probs[i * t + j];
          const ds = alpha * p * (dp[j] - dot);
          for (let e = 0; e < hd; e++) {
            dqkv[idx(bi, j, 2, h, e)] += p * go(e);
            dqkv[idx(bi, i, 0, h, e)] += ds * qkv.data[idx(bi, j, 1, h, e)];
            dqkv[idx(bi, j, 1, h, e)] += ds * qkv.data[idx(bi, i, 0, h, e)];
          }
        }
      }
    }
  }
  return { data: dqkv, shape: [...qkv.shape] };
}

/**
 * Depthwise convolution of channels-last `x` [B, H, W, C] with `w` [C, 1, k, k] and `b` [C],
 * stride 1, zero padding `pad` on every side.
 */
export function refDepthwiseConv2d(
  x: HostTensor,
  w: HostTensor,
  b: HostTensor | null,
  pad: number,
): HostTensor {
  const [batch, height, width, channels] = x.shape;
  const k = w.shape[2];
  const out = new Float64Array(x.data.length);
  for (let n = 0; n < batch; n++) {
    for (let y = 0; y < height; y++) {
      for (let xx = 0; xx < width; xx++) {
        for (let c = 0; c < channels; c++) {
          let acc = b ? b.data[c] : 0;
          for (let i = 0; i < k; i++) {
            const sy = y + i - pad;
            if (sy < 0 || sy >= height) continue;
            for (let j = 0; j < k; j++) {
              const sx = xx + j - pad;
              if (sx < 0 || sx >= width) continue;
              acc += w.data[(c * k + i) * k + j] *
                x.data[((n * height + sy) * width + sx) * channels + c];
            }
          }
          out[((n * height + y) * width + xx) * channels + c] = acc;
        }
      }
    }
  }
  return { data: out, shape: [...x.shape] };
}
