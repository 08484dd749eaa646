/**
 * Interpolation weights as matrices, so that resizing becomes a matmul and is differentiable
 * for free: bicubic as `torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`.
 *
 * @module
 */

const A = -0.75;

function cubicWeights(t: number): [number, number, number, number] {
  const x0 = t + 1;
  const x1 = t;
  const x2 = 1 - t;
  const x3 = 2 - t;
  return [
    ((A * x0 - 5 * A) * x0 + 8 * A) * x0 - 4 * A,
    ((A + 2) * x1 - (A + 3)) * x1 * x1 + 1,
    ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1,
    ((A * x3 - 5 * A) * x3 + 8 * A) * x3 - 4 * A,
  ];
}

/**
 * The [outSize, inSize] matrix that resizes a line of `inSize` samples to `outSize` with
 * torch's bicubic kernel (A = -0.75, half-pixel centres, edge samples repeated).
 *
 * @param inSize Samples in.
 * @param outSize Samples out.
 * @returns Row-major weights.
 * @example
 * ```ts
 * import { bicubicMatrix } from "./interpolate.ts";
 * console.log(bicubicMatrix(2, 2)); // the identity: Float32Array [1, 0, 0, 1]
 * ```
 */
export function bicubicMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const real = scale * (i + 0.5) - 0.5;
    const base = Math.floor(real);
    const w = cubicWeights(real - base);
    for (let k = 0; k < 4; k++) {
      const src = Math.min(Math.max(base - 1 + k, 0), inSize - 1);
      m[i * inSize + src] += w[k];
    }
  }
  return m;
}
