/**
 * IEEE f16 rounding in f32 arithmetic, as WGSL, for kernels that must not trust (or cannot
 * use) the shader's `f16` conversion.
 *
 * @module
 */

/**
 * WGSL `fn roundF16_(x: f32) -> f32`: round to nearest even at 11 significant bits (multiples
 * of 2^-24 below 2^-14), overflow to ±inf from 65520 up, NaN and infinities unchanged.
 *
 * @example
 * ```ts
 * import { ROUND_F16_WGSL } from "./f16_round.ts";
 * console.log(ROUND_F16_WGSL.includes("fn roundF16_")); // true
 * ```
 */
export const ROUND_F16_WGSL = `fn roundF16_(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  let a = b & 0x7fffffffu;
  if (a >= 0x7f800000u) { return x; }
  if (a >= 0x477ff000u) { return bitcast<f32>((b & 0x80000000u) | 0x7f800000u); }
  if (a < 0x38800000u) { return round(x * 16777216.0) * 5.9604644775390625e-8; }
  return bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);
}
`;
