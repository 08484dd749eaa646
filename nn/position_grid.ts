/**
 * The grid of learned position embeddings of ViT-style models at another image size: resized
 * bicubically (torch's `interpolate`, align_corners false), as Transformers'
 * `interpolate_pos_encoding` does, either per forward pass or once for a saved model.
 *
 * @module
 */

import { fromF16Bits, toF16Bits } from "../tensor/f16.ts";
import { concat, matmul, permute, slice } from "../tensor/ops.ts";
import { scopeAsync, Tensor } from "../tensor/tensor.ts";
import type { PreTrainedImageClassifier } from "./image_classifier.ts";
import { bicubicMatrix } from "./interpolate.ts";
import type { PreTrainedModelClass } from "./pretrained.ts";

/**
 * Position embeddings [1, leading + g², hidden] with their patch grid resized bicubically
 * (torch's `interpolate`, align_corners false) to `gh`×`gw`; the `leading` token rows (CLS, and
 * DeiT's distillation token) are kept as they are.
 *
 * @param positions The learned position embeddings.
 * @param leading Rows before the patch grid.
 * @param gh New grid height in patches.
 * @param gw New grid width in patches.
 * @returns [1, leading + gh·gw, hidden].
 * @example
 * ```ts
 * import { interpolatePositions } from "./position_grid.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const p = interpolatePositions(Tensor.zeros([1, 1 + 4, 8]), 1, 3, 2);
 * console.log(p.shape); // [1, 7, 8]
 * ```
 */
export function interpolatePositions(
  positions: Tensor,
  leading: number,
  gh: number,
  gw: number,
): Tensor {
  const d = positions.shape[2];
  const g = Math.round(Math.sqrt(positions.shape[1] - leading));
  const head = slice(positions, 1, 0, leading);
  const grid = slice(positions, 1, leading, leading + g * g).view([g, g * d]);
  const rows = matmul(Tensor.from(bicubicMatrix(g, gh), [gh, g]), grid).view([gh, g, d]);
  const cols = permute(rows, [1, 0, 2]).view([g, gh * d]);
  const resized = matmul(Tensor.from(bicubicMatrix(g, gw), [gw, g]), cols).view([gw, gh, d]);
  const patches = permute(resized, [1, 0, 2]).view([1, gh * gw, d]);
  return concat([head, patches], 1);
}

/**
 * Whether an image size is a whole, positive number of patches.
 *
 * @param size Image height or width.
 * @param patch Patch size.
 * @returns Whether `size` is a positive multiple of `patch`.
 * @example
 * ```ts
 * import { onPatchGrid } from "./position_grid.ts";
 * console.log(onPatchGrid(224, 16), onPatchGrid(100, 16)); // true false
 * ```
 */
export function onPatchGrid(size: number, patch: number): boolean {
  return size > 0 && Number.isInteger(size / patch);
}

/** A model with a square grid of learned position embeddings over patches (ViT, DeiT). */
export type PatchGridModel = PreTrainedImageClassifier & {
  readonly config: { image_size: number; patch_size: number };
};

/** Options of {@link atImageSize}. */
export interface AtImageSizeOptions {
  /**
   * "F16" rounds every weight to F16 first, as a file saved in F16 stores them, so that resizing
   * a saved model and saving the result gives the same file. "F32" (default) copies them.
   */
  dtype?: "F32" | "F16";
}

/**
 * The model at another image size, as ViT is fine-tuned at a higher resolution than it was
 * pretrained at: the same weights, with the grid of position embeddings resized bicubically
 * (torch's `interpolate`, align_corners false, as Transformers' `interpolate_pos_encoding`);
 * token rows before the grid (CLS, DeiT's distillation token) are kept.
 *
 * @param model The model (it is left as it is).
 * @param size The new image_size, a multiple of the patch size.
 * @param options Whether to round the weights to F16 first.
 * @returns A new model of the same class whose config says `size`.
 * @throws {RangeError} When `size` is not a positive multiple of the patch size.
 * @example
 * ```ts
 * import { atImageSize } from "./position_grid.ts";
 * import { init, makeViTConfig, ViTForImageClassification } from "../mod.ts";
 * await init();
 * const config = makeViTConfig({
 *   hidden_size: 8,
 *   num_hidden_layers: 1,
 *   num_attention_heads: 2,
 *   intermediate_size: 16,
 *   image_size: 16,
 *   patch_size: 4,
 * });
 * const model = new ViTForImageClassification(config);
 * const bigger = await atImageSize(model, 24);
 * console.log(bigger.vit.embeddings.positionEmbeddings.shape); // [1, 37, 8]
 * ```
 */
export async function atImageSize<M extends PatchGridModel>(
  model: M,
  size: number,
  options: AtImageSizeOptions = {},
): Promise<M> {
  const { image_size: before, patch_size: patch } = model.config;
  if (!onPatchGrid(size, patch)) {
    throw new RangeError(
      `image size ${size} is not a positive multiple of the patch size ${patch}`,
    );
  }
  const cls = model.constructor as PreTrainedModelClass<M>;
  const resized = new cls({ ...model.config, image_size: size });
  const from = new Map(model.namedParameters());
  for (const [name, param] of resized.namedParameters()) {
    const source = from.get(name)!;
    const values = await source.toArray();
    const stored = options.dtype === "F16" ? fromF16Bits(toF16Bits(values)) : values;
    param.assign(
      name.endsWith("position_embeddings")
        ? await scopeAsync(() =>
          interpolatePositions(
            Tensor.from(stored, [...source.shape]),
            source.shape[1] - (before / patch) ** 2,
            size / patch,
            size / patch,
          )
            .toArray()
        )
        : stored,
    );
  }
  return resized;
}
