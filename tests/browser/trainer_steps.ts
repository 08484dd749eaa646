/**
 * The Trainer run the browser test makes on both sides, in Chromium through the bundle of
 * `browser.ts` and in Deno through `mod.ts`: a tiny ViT with dropout, trained by the library's
 * Trainer (shuffled batches, AdamW with weight decay, warmup and linear decay, clipping at 1.0)
 * for {@link TRAINER_STEPS} steps on in-memory PNGs, with every step's loss, gradient norm and
 * learning rate, and the final weights. It takes the library as an argument, so that both sides
 * run this one source.
 *
 * @module
 */

import type * as Tessera from "../../browser.ts";
import { encodePng } from "../../data/png.ts";
import { TINY_VIT } from "./tiny_vit_steps.ts";

/** Optimiser steps of the run. */
export const TRAINER_STEPS = 20;

/** What {@link trainWithTrainer} measured. */
export interface TrainerReport {
  /** `describeAdapter()`. */
  adapter: string;
  /** Each step's loss, as the Trainer read it back (unrounded). */
  losses: number[];
  /** Each step's gradient norm before clipping (from the per-step log entries). */
  gradNorms: number[];
  /** Each step's learning rate. */
  learningRates: number[];
  /** The final weights, by Hugging Face name, flattened. */
  weights: Record<string, number[]>;
  /** Wall time of the whole run, in milliseconds. */
  ms: number;
}

/** A 16 px PNG of class `label` (its colour channel dominates) from a fixed sequence. */
function colourPng(label: number, index: number): Uint8Array {
  const size = 16;
  const data = new Uint8Array(size * size * 3);
  let s = index * 7919 + label * 104729 + 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < 3; c++) data[p * 3 + c] = (c === label ? 120 : 20) + rand() * 120;
  }
  return encodePng({ width: size, height: size, data });
}

/**
 * Trains a tiny ViT (seed 7, dropout 0.1 in the hidden layers and the attention) with the
 * Trainer for {@link TRAINER_STEPS} steps, in a fresh MemoryFileSystem.
 *
 * @param t The library (`mod.ts`, or the bundle of `browser.ts`).
 * @returns Every step's loss, gradient norm and learning rate, and the final weights.
 * @example
 * ```ts ignore
 * import * as tessera from "../../mod.ts";
 * import { trainWithTrainer } from "./trainer_steps.ts";
 * console.log((await trainWithTrainer(tessera)).losses);
 * ```
 */
export async function trainWithTrainer(t: typeof Tessera): Promise<TrainerReport> {
  await t.init();
  const names = ["red", "green", "blue"];
  const rows = Array.from({ length: 24 }, (_, i) => ({
    image: { path: `${names[i % 3]}/${i}.png`, bytes: colourPng(i % 3, i) },
    labels: i % 3,
  }));
  const dataset = new t.Dataset(rows, new t.ClassLabel(names));
  const config = t.makeViTConfig({
    ...TINY_VIT,
    image_size: 16,
    patch_size: 8,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    id2label: { "0": "red", "1": "green", "2": "blue" },
  }, "browser test");
  const model = new t.ViTForImageClassification(config, 7);
  const report: TrainerReport = {
    adapter: t.describeAdapter(),
    losses: [],
    gradNorms: [],
    learningRates: [],
    weights: {},
    ms: 0,
  };
  // Checkpoints (none are asked for) and logs stay in memory, as on the page.
  t.useFileSystem(new t.MemoryFileSystem());
  const start = performance.now();
  try {
    const trainer = new t.Trainer({
      model,
      processor: new t.ViTImageProcessor({ size: 16 }),
      trainDataset: dataset,
      args: t.makeTrainingArguments({
        outputDir: "out",
        perDeviceTrainBatchSize: 4,
        maxSteps: TRAINER_STEPS,
        learningRate: 2e-3,
        weightDecay: 0.01,
        warmupSteps: 3,
        maxGradNorm: 1.0,
        loggingSteps: 1,
        saveStrategy: "no",
        reportTo: "none",
        fp16: false,
        seed: 11,
        dataloaderNumWorkers: 0,
      }),
      log: () => {},
      callbacks: [{
        onStepEnd: (_a, _s, _c, p) => {
          report.losses.push(p.loss);
          report.learningRates.push(p.learningRate);
        },
        onLog: (_a, _s, _c, logs) => {
          if ("loss" in logs) report.gradNorms.push(logs.grad_norm ?? NaN);
        },
      }],
    });
    await trainer.train();
    report.ms = performance.now() - start;
    for (const [name, p] of model.namedParameters()) report.weights[name] = [...await p.toArray()];
  } finally {
    t.useFileSystem(null);
    model.dispose();
  }
  return report;
}
