/**
 * Self-attention on a packed projection in three fused kernels (`kernels/attention.ts`), for
 * software adapters: one for the forward, two for the backward, and no [T, T] tensor at all.
 *
 * @module
 */

import {
  ATTENTION_STATS_WIDTH,
  attentionForwardKernel,
  attentionKeyValueGradKernel,
  attentionQueryGradKernel,
  type AttentionTiles,
} from "../../../kernels/attention.ts";
import { engine } from "../../core/engine.ts";
import { record, Tensor } from "../../core/tensor.ts";
import { type OperandLayout, packOperand } from "../webgpu/texture_matmul.ts";

/** Widest head the kernels take: wider ones keep too many registers per invocation. */
const WIDEST_HEAD = 64;

/** Most workgroups of a one-dimensional grid (WebGPU's default limit). */
const MAX_GROUPS = 65535;

/**
 * The tiles of one kernel for a head width: queries (or keys) per invocation and the step of
 * the walk over the other. More rows per invocation let each texel fetched meet more of them;
 * wide heads own fewer, as their registers spill.
 */
function tilesFor(kernel: "forward" | "queries" | "keys", hd: number, lanes: number) {
  const own = hd > 32 ? 8 : kernel === "queries" ? 8 : 16;
  return { lanes, hd, own, step: 4 };
}

/**
 * Widest head whose backward runs fused: on wider heads the two backward kernels ran slower
 * than the texture products they replace (the forward still gains).
 */
const WIDEST_FUSED_BACKWARD = 32;

/**
 * `softmax(alpha · Q Kᵀ) V` per head of the packed projection `qkv` [B, T, 3·D], as
 * {@link attentionForwardKernel} and its two backward kernels compute it; null where the head
 * width is not a multiple of 4, is wider than the kernels take (narrower with `grad`), or the
 * textures or grid would exceed the device's limits.
 *
 * @param qkv The packed projection [B, T, 3·D].
 * @param heads Number of heads.
 * @param alpha Scale of the scores.
 * @param grad Record the backward.
 * @param half Round the projection (and the context's gradient) to f16 as they are packed.
 * @param lanes f32 lanes per SIMD vector (the workgroup size).
 * @returns The context [B, T, D], or null.
 * @example
 * ```ts
 * import { fusedAttention } from "./fused_attention.ts";
 * import { init, Tensor } from "../../../mod.ts";
 * await init();
 * // One head of width 4, two tokens.
 * const qkv = Tensor.from(new Float32Array(24).fill(0.5), [1, 2, 12]);
 * console.log(fusedAttention(qkv, 1, 0.5, false, false, 8)?.shape); // [1, 2, 4]
 * ```
 */
export function fusedAttention(
  qkv: Tensor,
  heads: number,
  alpha: number,
  grad: boolean,
  half: boolean,
  lanes: number,
): Tensor | null {
  const [b, t, d3] = qkv.shape;
  const d = d3 / 3;
  const hd = d / heads;
  const z = b * heads;
  if (hd % 4 !== 0 || hd > (grad ? WIDEST_FUSED_BACKWARD : WIDEST_HEAD)) return null;
  const byTokens = (width: number): OperandLayout => ({
    size: { width: width / 4, height: t, layers: b },
    length: width,
    strides: { batch: t * width, row: width, k: 1 },
  });
  const w = ATTENTION_STATS_WIDTH;
  const statsRows = Math.ceil((z * t) / w);
  const statsLayout: OperandLayout = {
    size: { width: w, height: statsRows, layers: 1 },
    length: 4 * w,
    strides: { batch: 4 * w * statsRows, row: 4 * w, k: 1 },
  };
  const layouts = [byTokens(d3), byTokens(d), statsLayout];
  const kernels = ["forward", "queries", "keys"] as const;
  const tiles: AttentionTiles[] = kernels.map((k) => tilesFor(k, hd, lanes));
  const groups = tiles.map((s) => Math.ceil((z * Math.ceil(t / s.own)) / lanes));
  // Only the kernels that will run must fit: the forward alone without `grad`.
  const used = grad ? kernels.length : 1;
  if (
    !layouts.slice(0, used).every((l) => engine().textures.fits(l.size)) ||
    groups.slice(0, used).some((n) => n > MAX_GROUPS)
  ) {
    return null;
  }
  const params = { t, d, heads, z, alpha };
  const packed = packOperand(qkv.storage, layouts[0], half);
  const out = Tensor.empty([b, t, d]);
  const lse = Tensor.empty([z * t]);
  engine().dispatch(
    attentionForwardKernel(tiles[0]),
    [packed.view, out.storage, lse.storage],
    params,
    [groups[0]],
  );
  if (!grad) {
    lse.dispose();
    return out;
  }
  return record(out, [qkv], (g) => {
    const dqkv = Tensor.empty(qkv.shape);
    const stats = Tensor.empty([4 * w * statsRows]);
    const texQkv = packOperand(qkv.storage, layouts[0], half);
    const texDo = packOperand(g.storage, layouts[1], half, texQkv);
    engine().dispatch(
      attentionQueryGradKernel(tiles[1]),
      [texQkv.view, texDo.view, out.storage, lse.storage, dqkv.storage, stats.storage],
      params,
      [groups[1]],
    );
    const texStats = packOperand(stats.storage, statsLayout, false, texDo);
    engine().dispatch(
      attentionKeyValueGradKernel(tiles[2]),
      [texQkv.view, texDo.view, texStats.view, dqkv.storage],
      params,
      [groups[2]],
    );
    stats.dispose();
    lse.dispose();
    return [dqkv];
  }, "selfAttention");
}
