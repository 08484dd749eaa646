/**
 * Fused neural-network primitives: softmax, layer normalisation, cross-entropy from logits and
 * dropout, each a kernel forward and a kernel backward.
 *
 * @module
 */

import type { RowFlavour } from "../../kernels/rows.ts";
import { backend } from "../core/backend.ts";
import { assertF32 } from "./_dispatch.ts";
import { sum } from "./reduce.ts";
import { record, Tensor } from "../core/tensor.ts";

function rowsOf(x: Tensor): [number, number] {
  if (x.rank === 0) throw new Error("expected at least one dimension");
  const cols = x.shape[x.rank - 1];
  return [cols === 0 ? 0 : x.size / cols, cols];
}

/**
 * Softmax over the last axis, in f32 with the row maximum subtracted.
 *
 * @example
 * ```ts
 * import { softmax, Tensor } from "../../mod.ts";
 * console.log(await softmax(Tensor.from([0, 0], [1, 2])).toArray()); // Float32Array [0.5, 0.5]
 * ```
 */
export function softmax(x: Tensor): Tensor {
  assertF32(x, "softmax");
  const [rows, cols] = rowsOf(x);
  const f = backend().rowFlavourFor("softmax", true);
  const y = dispatchSoftmax(false, f, [x], rows, cols, cols);
  return record(
    y,
    [x],
    (g) => [dispatchSoftmax(true, f, [y, g], rows, cols, cols)],
    "softmax",
  );
}

/**
 * Records one softmax kernel (forward: input `x`; backward: output `y` and its gradient) of
 * flavour `f` over `rows` rows of `cols` values `stride` apart, into a new tensor laid out as
 * the first input.
 */
function dispatchSoftmax(
  backward: boolean,
  f: RowFlavour,
  inputs: readonly Tensor[],
  rows: number,
  cols: number,
  stride: number,
): Tensor {
  const out = Tensor.empty(inputs[0].shape);
  backend().softmax(inputs, out, backward, f, rows, cols, stride);
  return out;
}

/**
 * Softmax over `rows` rows of `cols` values that lie `stride` apart (`stride` ≥ `cols`, a
 * multiple of 4) in `x`, with the vec4 (or texture) row kernels of CPU adapters: the result has the same
 * layout, with zeros from each row's end up to the next multiple of 4 (no tape).
 *
 * @param x The rows, `rows · stride` values.
 * @param rows Number of rows.
 * @param cols Values per row.
 * @param stride Distance between rows.
 * @returns The probabilities, laid out as `x`.
 */
export function softmaxPadded(x: Tensor, rows: number, cols: number, stride: number): Tensor {
  return dispatchSoftmax(
    false,
    backend().rowFlavourFor("softmax padded", true),
    [x],
    rows,
    cols,
    stride,
  );
}

/**
 * The gradient of {@link softmaxPadded} from its output `y` and the output's gradient `g`, in
 * the same padded layout (zeros in the padding).
 *
 * @param y The probabilities.
 * @param g Their gradient.
 * @param rows Number of rows.
 * @param cols Values per row.
 * @param stride Distance between rows.
 * @returns The gradient of the softmax's input.
 */
export function softmaxPaddedBackward(
  y: Tensor,
  g: Tensor,
  rows: number,
  cols: number,
  stride: number,
): Tensor {
  return dispatchSoftmax(
    true,
    backend().rowFlavourFor("softmax padded", true),
    [y, g],
    rows,
    cols,
    stride,
  );
}

/**
 * Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`,
 * with the biased variance, as `torch.nn.LayerNorm`.
 *
 * @example
 * ```ts
 * import { layerNorm, Tensor } from "../../mod.ts";
 * const x = Tensor.from([1, 3], [1, 2]);
 * const y = layerNorm(x, Tensor.from([1, 1], [2]), Tensor.from([0, 0], [2]));
 * console.log(await y.toArray()); // ≈ [-1, 1]
 * ```
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-12): Tensor {
  assertF32(x, "layerNorm");
  const [rows, cols] = rowsOf(x);
  if (weight.size !== cols || bias.size !== cols) {
    throw new Error(`layerNorm: weight/bias of ${weight.size}/${bias.size} for ${cols} columns`);
  }
  const y = Tensor.empty(x.shape);
  const stats = Tensor.empty([rows, 2]);
  const f = backend().rowFlavourFor("layer norm", cols % 4 === 0);
  backend().layerNorm(x, weight, bias, y, stats, f, eps);
  const out = record(y, [x, weight, bias], (g) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape);
      backend().layerNormBackwardInput(x, weight, stats, g, dx, f, eps);
    }
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (weight.requiresGrad || bias.requiresGrad) {
      const [sw, sb] = backend().layerNormBackwardParams(x, stats, g, cols);
      dw = sw.view(weight.shape);
      db = sb.view(bias.shape);
      sw.dispose();
      sb.dispose();
    }
    stats.dispose();
    return [dx, dw, db];
  }, "layerNorm");
  if (!out.requiresGrad) stats.dispose();
  return out;
}

/**
 * Mean cross-entropy between logits [N, C] and integer labels, as
 * `torch.nn.functional.cross_entropy`; labels of -100 are ignored.
 *
 * @example
 * ```ts
 * import { crossEntropy, Tensor } from "../../mod.ts";
 * const loss = crossEntropy(Tensor.from([0, 0], [1, 2]), [1]);
 * console.log(await loss.item()); // ≈ 0.6931
 * ```
 */
export function crossEntropy(logits: Tensor, labels: readonly number[] | Int32Array): Tensor {
  assertF32(logits, "crossEntropy");
  if (logits.rank !== 2) {
    throw new Error(`crossEntropy: logits must be [N, C], got [${logits.shape}]`);
  }
  const [rows, cols] = logits.shape;
  if (labels.length !== rows) {
    throw new Error(`crossEntropy: ${labels.length} labels for ${rows} rows of logits`);
  }
  let count = 0;
  for (const label of labels) {
    if (label === -100) continue;
    if (!Number.isInteger(label) || label < 0 || label >= cols) {
      throw new Error(`crossEntropy: label ${label} is out of range for ${cols} classes`);
    }
    count++;
  }
  const labelBuffer = Tensor.fromBits(Int32Array.from(labels), [rows]);
  const perRow = Tensor.empty([rows]);
  const lse = Tensor.empty([rows]);
  backend().crossEntropy(logits, labelBuffer, perRow, lse);
  // Mean over counted rows; with none counted PyTorch returns NaN, and so does 0/0 here.
  const total = sum(perRow);
  perRow.dispose();
  const loss = Tensor.empty([]);
  backend().map("mulScalar", [total, loss], 1, count === 0 ? NaN : 1 / count, false);
  total.dispose();
  const out = record(loss, [logits], (g) => {
    const dx = Tensor.empty(logits.shape);
    backend().crossEntropyBackward(logits, labelBuffer, lse, g, dx, count === 0 ? NaN : 1 / count);
    labelBuffer.dispose();
    lse.dispose();
    return [dx];
  }, "crossEntropy");
  if (!out.requiresGrad) {
    labelBuffer.dispose();
    lse.dispose();
  }
  return out;
}

/**
 * Inverted dropout: zeroes each element with probability `p` and scales the rest by
 * `1 / (1 - p)`. The mask is a hash of `seed` and the element index, so equal seeds give equal
 * masks and the backward pass needs no stored mask. Identity when `p` is 0.
 *
 * @example
 * ```ts
 * import { dropout, Tensor } from "../../mod.ts";
 * const y = dropout(Tensor.from(new Float32Array(8).fill(1), [8]), 0.5, 1234);
 * console.log(await y.toArray()); // each element 0 or 2
 * ```
 */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  assertF32(x, "dropout");
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (p === 0) return x.view(x.shape);
  // Everything dropped, as torch does; the kernel's 1/(1 − p) would be infinite.
  if (p === 1) return record(Tensor.zeros(x.shape), [x], (g) => [Tensor.zeros(g.shape)], "dropout");
  const apply = (input: Tensor): Tensor => {
    const out = Tensor.empty(input.shape);
    backend().dropout(input, out, seed, p);
    return out;
  };
  return record(apply(x), [x], (g) => [apply(g)], "dropout");
}
