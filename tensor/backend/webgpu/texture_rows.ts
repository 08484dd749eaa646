/**
 * Rows in textures for the `texture` flavour of the row kernels (softmax, layer norm): a row
 * tensor copied, as it is, into an rgba32float texture array, its rows `height` to a layer.
 *
 * @module
 */

import { engine, type Storage } from "../../core/engine.ts";
import type { CachedTexture } from "../../core/texture_cache.ts";
import { type OperandLayout, packOperand } from "./texture_matmul.ts";

/**
 * The most bytes of one row tensor copied into a texture: past it the copies would hold more
 * memory than the loads they save are worth. The bundled model's attention rows at its
 * evaluation batch fit; ViT-B's at a training batch of 16 do not.
 */
export const ROW_TEXTURE_MAX_BYTES = 32 * 2 ** 20;

/** How a row tensor lies in its texture: the layout to pack, and the rows per layer. */
export interface RowTextureLayout {
  /** The operand layout handed to the texture cache. */
  readonly layout: OperandLayout;
  /** Rows per texture layer (`params.height` of the kernels). */
  readonly height: number;
}

/**
 * Where `rows` rows of `stride` floats (the rows' first `cols` used) would lie in a texture, or
 * null where the rows cannot be copied in (rows not a multiple of 256 bytes, a start off 16
 * bytes, too many bytes, or no split of the rows into layers that fits the device).
 *
 * @param src The rows' region.
 * @param rows Number of rows.
 * @param stride Floats from one row to the next.
 * @returns The layout, or null.
 * @example
 * ```ts
 * import { init } from "../../runtime.ts";
 * import { Tensor } from "../../core/tensor.ts";
 * import { rowTextureLayout } from "./texture_rows.ts";
 * await init();
 * const x = Tensor.zeros([100, 64]);
 * console.log(rowTextureLayout(x.storage, 100, 64)?.height); // 100
 * console.log(rowTextureLayout(x.storage, 100, 60)); // null: 240-byte rows
 * ```
 */
export function rowTextureLayout(
  src: Storage,
  rows: number,
  stride: number,
): RowTextureLayout | null {
  const bytes = rows * stride * 4;
  if (
    rows === 0 || (stride * 4) % 256 !== 0 || src.byteOffset % 16 !== 0 ||
    bytes > ROW_TEXTURE_MAX_BYTES || bytes > src.byteLength
  ) {
    return null;
  }
  const cache = engine().textures;
  const width = stride / 4;
  // The fewest layers that divide the rows evenly and fit: one buffer-to-texture copy.
  for (let layers = 1; layers <= Math.min(rows, 4096); layers++) {
    if (rows % layers !== 0) continue;
    const height = rows / layers;
    const size = { width, height, layers };
    if (!cache.fits(size)) continue;
    return {
      layout: { size, length: stride, strides: { batch: height * stride, row: stride, k: 1 } },
      height,
    };
  }
  return null;
}

/**
 * The texture holding `src`'s rows as `at` says: one reused while `src` is unwritten, else
 * filled by a buffer-to-texture copy.
 *
 * @param src The rows' region.
 * @param at Its layout from {@link rowTextureLayout}.
 * @param except A texture not to take (the other input of the same kernel).
 * @returns The cached texture.
 */
export function rowTexture(
  src: Storage,
  at: RowTextureLayout,
  except?: CachedTexture,
): CachedTexture {
  return packOperand(src, at.layout, false, except);
}
