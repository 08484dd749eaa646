/**
 * AdamW over parameter arenas: one dispatch per arena buffer updates every parameter in it,
 * and global-norm clipping runs on the GPU without a readback.
 *
 * @module
 */

import { Arena, packParameters } from "../core/arena.ts";
import { backend } from "../core/backend.ts";
import { keep, Tensor } from "../core/tensor.ts";

/** Hyper-parameters of {@link AdamW}, with Hugging Face's defaults. */
export interface AdamWOptions {
  /** Learning rate (5e-5). */
  lr?: number;
  /** First-moment decay (0.9). */
  beta1?: number;
  /** Second-moment decay (0.999). */
  beta2?: number;
  /** Denominator epsilon (1e-8). */
  eps?: number;
  /** Decoupled weight decay (0). */
  weightDecay?: number;
  /** Parameters excluded from weight decay (HF excludes biases and LayerNorm weights). */
  noDecay?: (index: number) => boolean;
  /** Largest arena buffer in bytes (defaults to the device's storage-binding limit). */
  maxChunkBytes?: number;
}

interface Group {
  params: Tensor[];
  values: Arena;
  grads: Arena;
  m: Arena;
  v: Arena;
  weightDecay: number;
}

const SUM_SQUARES_BLOCK = 4096;

/**
 * Decoupled-weight-decay Adam, as `torch.optim.AdamW`, over parameters packed into arenas.
 * Constructing it moves the parameters into arenas and gives them persistent `.grad` tensors.
 *
 * @example
 * ```ts
 * import { AdamW, mul, sum, Tensor } from "../../mod.ts";
 * const w = Tensor.from([1, -2], [2], { requiresGrad: true });
 * const opt = new AdamW([w], { lr: 0.1 });
 * sum(mul(w, w)).backward();
 * opt.step();
 * console.log(await w.toArray()); // ≈ [0.9, -1.9]
 * ```
 */
export class AdamW {
  /** Current learning rate; schedulers set it before each step. */
  lr: number;
  /** Steps taken. */
  stepCount = 0;
  readonly #beta1: number;
  readonly #beta2: number;
  readonly #eps: number;
  readonly #groups: Group[] = [];
  readonly #clip: Tensor;
  readonly #noClip: Tensor;
  readonly #partials: Tensor;
  #clipActive = false;

  /**
   * Packs the parameters into arenas and allocates the moment buffers.
   *
   * @param params Parameters to optimise (f32, requiring grad).
   * @param options Hyper-parameters.
   */
  constructor(params: readonly Tensor[], options: AdamWOptions = {}) {
    this.lr = options.lr ?? 5e-5;
    this.#beta1 = options.beta1 ?? 0.9;
    this.#beta2 = options.beta2 ?? 0.999;
    this.#eps = options.eps ?? 1e-8;
    const weightDecay = options.weightDecay ?? 0;
    const noDecay = options.noDecay ?? (() => false);
    const decayed = params.filter((_, i) => !noDecay(i));
    const plain = params.filter((_, i) => noDecay(i));
    for (const [list, wd] of [[decayed, weightDecay], [plain, 0]] as const) {
      if (list.length === 0) continue;
      const { values, grads } = packParameters(list, options.maxChunkBytes);
      const sizes = list.map((p) => p.size);
      const m = Arena.allocate(sizes, options.maxChunkBytes);
      const v = Arena.allocate(sizes, options.maxChunkBytes);
      m.zero();
      v.zero();
      this.#groups.push({ params: [...list], values, grads, m, v, weightDecay: wd });
    }
    this.#clip = keep(Tensor.from([1, 0], [2]));
    this.#noClip = keep(Tensor.from([1, 0], [2]));
    let blocks = 0;
    for (const g of this.#groups) {
      for (const c of g.grads.chunks) blocks += Math.ceil(c.length / SUM_SQUARES_BLOCK);
    }
    this.#partials = keep(Tensor.zeros([Math.max(1, blocks)]));
  }

  /** Zeroes every gradient (one clear per arena buffer). */
  zeroGrad(): void {
    for (const g of this.#groups) g.grads.zero();
  }

  /**
   * Computes the global L2 norm of all gradients on the GPU and makes the next {@link step}
   * scale gradients by `min(1, maxNorm / (norm + 1e-6))`, as `clip_grad_norm_`.
   *
   * @param maxNorm The largest allowed norm (0: no clipping, only the unscale).
   * @param gradScale The loss scale of mixed precision; gradients are divided by it.
   * @returns A 2-element tensor `[coefficient, norm]` that stays valid until the next call.
   */
  clipGradNorm(maxNorm: number, gradScale = 1): Tensor {
    let offset = 0;
    for (const g of this.#groups) {
      g.grads.chunks.forEach((chunk, c) => {
        const blocks = Math.ceil(chunk.length / SUM_SQUARES_BLOCK);
        backend().sumSquares(
          g.grads.chunkStorage(c),
          chunk.length,
          SUM_SQUARES_BLOCK,
          this.#partials,
          offset,
        );
        offset += blocks;
      });
    }
    backend().clipCoefficient(this.#partials, this.#clip, offset, maxNorm, 1 / gradScale);
    this.#clipActive = true;
    return this.#clip;
  }

  /** Applies one update to every parameter (one dispatch per arena buffer). */
  step(): void {
    this.stepCount++;
    const clip = this.#clipActive ? this.#clip : this.#noClip;
    this.#clipActive = false;
    const t = this.stepCount;
    for (const g of this.#groups) {
      g.values.chunks.forEach((chunk, c) => {
        backend().adamw({
          values: g.values.chunkStorage(c),
          grads: g.grads.chunkStorage(c),
          m: g.m.chunkStorage(c),
          v: g.v.chunkStorage(c),
          clip,
          length: chunk.length,
          hyper: {
            lr: this.lr,
            beta1: this.#beta1,
            beta2: this.#beta2,
            eps: this.#eps,
            weightDecay: g.weightDecay,
            biasCorrection1: 1 - this.#beta1 ** t,
            biasCorrection2: 1 - this.#beta2 ** t,
          },
        });
      });
    }
  }

  /** The parameters in arena order (decayed group first). */
  get parameters(): Tensor[] {
    return this.#groups.flatMap((g) => g.params);
  }

  /**
   * The optimiser state, for a checkpoint: steps taken and the two moments of every
   * parameter, in {@link AdamW.parameters} order (one readback per arena buffer).
   */
  async exportState(): Promise<{ step: number; expAvg: Float32Array[]; expAvgSq: Float32Array[] }> {
    const expAvg: Float32Array[] = [];
    const expAvgSq: Float32Array[] = [];
    for (const g of this.#groups) {
      expAvg.push(...await g.m.readAll());
      expAvgSq.push(...await g.v.readAll());
    }
    return { step: this.stepCount, expAvg, expAvgSq };
  }

  /** Restores a state from {@link AdamW.exportState}. */
  importState(state: { step: number; expAvg: Float32Array[]; expAvgSq: Float32Array[] }): void {
    let at = 0;
    for (const g of this.#groups) {
      const n = g.params.length;
      g.m.writeAll(state.expAvg.slice(at, at + n));
      g.v.writeAll(state.expAvgSq.slice(at, at + n));
      at += n;
    }
    if (at !== state.expAvg.length) {
      throw new Error("optimizer state has the wrong number of tensors");
    }
    this.stepCount = state.step;
  }

  /** Reads every parameter's values (one readback per arena buffer), in parameters order. */
  async readParameters(): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const g of this.#groups) out.push(...await g.values.readAll());
    return out;
  }
}
