/**
 * `deno task bench --peft-memory`: peak GPU memory and step time of one ViT-B/16 training step
 * at 224 px (random weights in the in21k layout, 3 labels) under full fine-tuning, LoRA r 16 on
 * query and value, LoRA with gradient checkpointing, and a frozen backbone. Memory is the buffer
 * pool's high-water mark during the step plus the optimiser arenas (values, gradients and two
 * moments of each trainable parameter) and the most bytes the CPU matmuls' scratch textures
 * held at once, as the train-step bench counts it; `held_mb` counts every buffer the pool holds
 * at the step's end (in use or free) instead of the pool's high-water mark.
 *
 * @module
 */

import { AdamW } from "../tensor/adamw.ts";
import { engine } from "../tensor/engine.ts";
import { concat } from "../tensor/ops.ts";
import { noGrad, scopeAsync, Tensor } from "../tensor/tensor.ts";
import { vitBase16 } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { prepareParameterEfficient } from "../train/parameter_efficient.ts";

/** One mode's figures. */
export interface PeftMemoryEntry {
  /** full, lora-r16, lora-r16+checkpointing or frozen-backbone. */
  mode: string;
  /** Images per step. */
  batch_size: number;
  /** PEFT's trainable-parameter line. */
  trainable: string;
  /** Peak memory of a step, MiB: the three parts below. */
  peak_mb: number;
  /** Everything the GPU holds for the step: the pool's buffers, arenas and textures, MiB. */
  held_mb: number;
  /** The buffer pool's high-water mark (frozen weights, activations, gradients in flight). */
  pool_peak_mb: number;
  /**
   * Bytes of every buffer the pool holds after the step, in use or free: what the GPU allocated
   * for the pool, size-class rounding and buffers of sizes no longer asked for included.
   */
  pool_held_mb: number;
  /** Optimiser arenas: values, gradients and moments of the trainable parameters. */
  arena_mb: number;
  /** Scratch textures of the CPU matmuls: the most held at once during the step. */
  textures_mb: number;
  /** Textures destroyed during the step to keep within the texture budget. */
  textures_evicted: number;
  /** Wall time of each measured step, ms. */
  step_ms: number[];
}

const MODES = [
  { mode: "full", peft: null, freeze: false, ckpt: false },
  { mode: "lora-r16", peft: "lora", freeze: false, ckpt: false },
  { mode: "lora-r16+checkpointing", peft: "lora", freeze: false, ckpt: true },
  { mode: "frozen-backbone", peft: null, freeze: true, ckpt: false },
] as const;

/**
 * Measures each mode.
 *
 * @param options Batch size, steps per mode, a logger, and the modes to run (all by default).
 * @returns One entry per mode.
 * @example
 * ```ts ignore
 * import { peftMemory } from "./peft_memory.ts";
 * const entries = await peftMemory({ batch: 16, steps: 1, log: console.log });
 * ```
 */
export async function peftMemory(options: {
  batch: number;
  steps: number;
  log: (line: string) => void;
  modes?: readonly string[];
}): Promise<PeftMemoryEntry[]> {
  const out: PeftMemoryEntry[] = [];
  const size = 224;
  const pixels = Tensor.from(
    new Float32Array(options.batch * 3 * size * size).map((_, i) => Math.sin(i)),
    [options.batch, 3, size, size],
  );
  const labels = Array.from({ length: options.batch }, (_, i) => i % 3);
  for (const m of MODES) {
    if (options.modes && !options.modes.includes(m.mode)) continue;
    const model = new ViTForImageClassification(vitBase16({ num_labels: 3 }), 0);
    const trainable = prepareParameterEfficient(model, {
      peft: m.peft,
      loraR: 16,
      loraAlpha: 16,
      loraDropout: 0.1,
      loraTargetModules: ["query", "value"],
      modulesToSave: ["classifier"],
      freezeBackbone: m.freeze,
      gradientCheckpointing: m.ckpt,
    });
    const params = model.parameters().filter((p) => p.requiresGrad);
    const opt = new AdamW(params, { lr: 1e-4 });
    model.train();
    engine().trim();
    engine().pool.resetPeak();
    engine().textures.resetPeak();
    const times: number[] = [];
    const evicted0 = engine().textures.evicted;
    for (let s = 0; s < options.steps; s++) {
      const t0 = performance.now();
      await scopeAsync(async () => {
        const { loss } = model.forward(pixels, labels);
        loss!.backward();
        const clip = opt.clipGradNorm(1);
        opt.step();
        opt.zeroGrad();
        await noGrad(() => concat([loss!.view([1]), clip], 0)).toArray();
      });
      times.push(performance.now() - t0);
    }
    const arenaBytes = params.reduce((n, p) => n + p.size, 0) * 4 * 4;
    const mib = (b: number) => b / 2 ** 20;
    const poolPeak = mib(engine().pool.stats.peakBytesInUse);
    const poolHeld = mib(engine().pool.stats.bytes);
    const textures = mib(engine().textures.peakBytes);
    const peak = poolPeak + mib(arenaBytes) + textures;
    out.push({
      mode: m.mode,
      batch_size: options.batch,
      trainable,
      peak_mb: peak,
      held_mb: poolHeld + mib(arenaBytes) + textures,
      pool_peak_mb: poolPeak,
      pool_held_mb: poolHeld,
      arena_mb: mib(arenaBytes),
      textures_mb: textures,
      textures_evicted: engine().textures.evicted - evicted0,
      step_ms: times,
    });
    options.log(
      `${m.mode.padEnd(24)} batch ${options.batch}: peak ${peak.toFixed(0)} MiB, held ` +
        `${(poolHeld + mib(arenaBytes) + textures).toFixed(0)} (pool ` +
        `${poolPeak.toFixed(0)} of ${poolHeld.toFixed(0)} held, arenas ${
          mib(arenaBytes).toFixed(0)
        }, textures ` +
        `${textures.toFixed(0)}, ${engine().textures.evicted - evicted0} evicted), steps ` +
        `${times.map((t) => (t / 1000).toFixed(1)).join(", ")} s; ${trainable}`,
    );
    model.dispose();
  }
  pixels.dispose();
  return out;
}
