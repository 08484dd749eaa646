/**
 * The recipe behind the bundled model: formula-driven supervised pretraining of a small ViT on
 * generated images (contour scenes, fractal scenes or attribute scenes), deterministic from a
 * seed. `cli/pretrain.ts` runs it as `deno task pretrain` and saves the model folder with the
 * card of `model_card.ts`. The default run made the bundled models/vit-tiny-contours.
 *
 * @module
 */

import {
  fractalCategory,
  type FractalSceneOptions,
  renderFractal,
  renderFractalScene,
} from "./fractal.ts";
import {
  contourCategory,
  type ContourDensityName,
  MARK_ATTRIBUTES,
  renderAttributeScene,
  renderContourScene,
} from "./contours.ts";
import { toPixelValues } from "../data/pixels.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import {
  add,
  concat,
  crossEntropy,
  log as logarithm,
  mul,
  slice,
  softmax,
  sum,
} from "../tensor/ops.ts";
import { noGrad, scopeAsync, Tensor } from "../tensor/tensor.ts";
import { argmaxRows } from "../train/metrics.ts";
import { learningRateAt } from "../train/schedule.ts";
import { createOptimizer } from "../train/trainer.ts";
import { DEMO_CONFIG } from "../demo/config.ts";

/** The recipe's settings. */
export interface PretrainOptions {
  /** Categories (classes) of the fractal and contour layouts. */
  categories: number;
  /** Optimiser steps. */
  steps: number;
  /** Images per step. */
  batchSize: number;
  /** Peak learning rate (5 % warmup, then cosine). */
  learningRate: number;
  /** Weight decay. */
  weightDecay: number;
  /** Seed of the categories, the instances and the initialisation. */
  seed: number;
  /** ViT config fields (image_size sets the rendering size). */
  config: Record<string, unknown>;
  /** Chaos-game points per image (per image-filling instance in scenes). */
  points: number;
  /**
   * `scene`: several small instances of the category on a textured background
   * ({@link renderFractalScene}); `single`: one centred instance on a flat background, as in
   * FractalDB ({@link renderFractal}); `contours`: scenes of star-shaped polygon marks instead
   * of fractals ({@link renderContourScene}); `mixed`: even categories fractal scenes, odd ones
   * contour scenes; `attributes`: contour scenes whose attributes are each predicted
   * ({@link renderAttributeScene}).
   */
  layout: "scene" | "single" | "contours" | "mixed" | "attributes";
  /** The densities contour categories draw from. */
  densities: ContourDensityName[];
  /** Distinct hues among contour categories (0: one per category). */
  hues: number;
  /** Each contour category its own lightness and saturation band. */
  tones: boolean;
  /**
   * Weight of the colour-composition objective (0: off): extra logits predict each image's
   * colour histogram, so that the features keep which colours are present, however little.
   */
  colourWeight: number;
  /**
   * After training, the final LayerNorm's weight and bias are multiplied by this and the head's
   * weights divided by it: the same function (exactly, for a power of two), but a new head on
   * these features learns this many times faster at a given learning rate (see the model card).
   */
  featureScale: number;
  /**
   * The saved model's image_size: the pretraining grid of position embeddings is resized
   * bicubically to this size's grid, so that fine-tuning sees the images at a higher resolution
   * than pretraining did (see {@link atImageSize}). The pretraining size keeps them as they are.
   */
  saveImageSize: number;
  /** Scene layout: fewest and most instances per image, and their size range. */
  scene: Required<Pick<FractalSceneOptions, "instances" | "scale">>;
  /** Log every this many steps. */
  logEvery: number;
}

/** The recipe of the bundled checkpoint. */
export const DEFAULT_PRETRAIN: PretrainOptions = {
  categories: 32,
  steps: 10000,
  batchSize: 32,
  learningRate: 1e-3,
  weightDecay: 0.05,
  seed: 0,
  config: DEMO_CONFIG,
  points: 4000,
  layout: "contours",
  densities: ["small", "large"],
  hues: 0,
  tones: false,
  colourWeight: 0,
  featureScale: 8,
  saveImageSize: 120,
  scene: { instances: [1, 3], scale: [0.35, 0.8] },
  logEvery: 50,
};

function mix(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x27d4eb2d, 0x165667b1) >>> 0;
  h = Math.imul(h ^ b, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ c, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * Multiplies a classifier's final LayerNorm (weight and bias) by `k` and divides its head's
 * weights by `k`, which leaves its logits unchanged.
 *
 * @param model The model, changed in place.
 * @param k The factor.
 */
export async function scaleFeatures(model: ViTForImageClassification, k: number): Promise<void> {
  const scale = async (t: Tensor, by: number) => t.assign((await t.toArray()).map((v) => v * by));
  await scale(model.vit.layernorm.weight, k);
  await scale(model.vit.layernorm.bias, k);
  await scale(model.classifier.weight, 1 / k);
}

/**
 * The label names a recipe's head predicts, in groups that each get a softmax: one group of
 * categories, or one group per attribute of an attribute scene.
 *
 * @param options The recipe.
 * @returns The groups of label names, in logit order.
 * @example
 * ```ts
 * import { DEFAULT_PRETRAIN, labelGroups } from "./pretrain.ts";
 * console.log(labelGroups({ ...DEFAULT_PRETRAIN, layout: "attributes" })[0]);
 * // ["density=none", "density=tiny", "density=small", "density=large"]
 * ```
 */
export function labelGroups(options: PretrainOptions): string[][] {
  const groups = options.layout === "attributes"
    ? Object.entries(MARK_ATTRIBUTES).map(([name, values]) => values.map((v) => `${name}=${v}`))
    : [Array.from({ length: options.categories }, (_, i) => `${categoryKind(options, i)}_${i}`)];
  if (options.colourWeight > 0) {
    groups.push(Array.from({ length: COLOUR_BINS }, (_, i) => `colour=${colourBinName(i)}`));
  }
  return groups;
}

/** Whether category `i` of a recipe is drawn as contours or as a fractal. */
function categoryKind(options: PretrainOptions, i: number): "contour" | "fractal" {
  return options.layout === "contours" || (options.layout === "mixed" && i % 2 === 1)
    ? "contour"
    : "fractal";
}

/** Colour histogram: 8 levels per channel. */
const COLOUR_LEVELS = 8;
const COLOUR_BINS = COLOUR_LEVELS ** 3;

function colourBinName(bin: number): string {
  const step = 256 / COLOUR_LEVELS;
  const r = Math.floor(bin / COLOUR_LEVELS ** 2);
  const g = Math.floor(bin / COLOUR_LEVELS) % COLOUR_LEVELS;
  const b = bin % COLOUR_LEVELS;
  return [r, g, b].map((c) => c * step).join(",");
}

/**
 * The colour-composition target of an image: its colour histogram over {@link COLOUR_BINS}
 * bins, square-rooted and renormalised so that a colour covering a small part of the image
 * (a ring around a mark, say) still carries weight.
 *
 * @param data RGB bytes.
 * @returns A distribution over the bins.
 */
export function colourTarget(data: Uint8Array): Float32Array {
  const shift = Math.log2(256 / COLOUR_LEVELS);
  const counts = new Float32Array(COLOUR_BINS);
  for (let i = 0; i < data.length; i += 3) {
    const bin = ((data[i] >> shift) * COLOUR_LEVELS + (data[i + 1] >> shift)) * COLOUR_LEVELS +
      (data[i + 2] >> shift);
    counts[bin]++;
  }
  let total = 0;
  for (let i = 0; i < COLOUR_BINS; i++) total += counts[i] = Math.sqrt(counts[i]);
  for (let i = 0; i < COLOUR_BINS; i++) counts[i] /= total;
  return counts;
}

/**
 * Pretrains a ViT on generated categories or attribute scenes.
 *
 * @param options The recipe.
 * @param log Progress lines.
 * @returns The model, the processor and the run's figures.
 */
export async function pretrain(
  options: PretrainOptions,
  log: (line: string) => void = console.log,
): Promise<{
  model: ViTForImageClassification;
  processor: ViTImageProcessor;
  figures: { loss: number; trainAccuracy: number; heldOutAccuracy: number; seconds: number };
}> {
  const groups = labelGroups(options);
  const offsets = groups.map((_, g) => groups.slice(0, g).reduce((a, b) => a + b.length, 0));
  const id2label = Object.fromEntries(groups.flat().map((name, i) => [String(i), name]));
  const width = groups.flat().length;
  const config = makeViTConfig({ ...options.config, id2label }, "pretrain config");
  const size = config.image_size;
  const processor = new ViTImageProcessor({ size, do_resize: false });
  const cats = Array.from(
    { length: options.categories },
    (_, i) => fractalCategory(options.seed, i),
  );
  const contourCats = Array.from(
    { length: options.categories },
    (_, i) =>
      categoryKind(options, i) === "contour"
        ? contourCategory(options.seed, i, {
          densities: options.densities,
          hues: options.hues || undefined,
          tones: options.tones,
        })
        : undefined,
  );
  const model = new ViTForImageClassification(config, options.seed);
  // The Trainer's optimiser setup: no decay on biases and LayerNorm weights.
  const optimizer = createOptimizer(model, {
    lr: options.learningRate,
    weightDecay: options.weightDecay,
  });
  /** A batch's pixels and, per label group, one label per image. */
  const batchOf = (step: number, n: number, split: number) => {
    const labels: number[][] = groups.map(() => []);
    const colours = options.colourWeight > 0 ? new Float32Array(n * COLOUR_BINS) : undefined;
    const data = new Float32Array(n * 3 * size * size);
    for (let j = 0; j < n; j++) {
      const seed = mix(step, j, 7919 + split);
      let image;
      if (options.layout === "attributes") {
        const scene = renderAttributeScene(mix(options.seed, seed, split), size);
        image = scene.image;
        scene.labels.forEach((label, g) => labels[g].push(label));
      } else {
        const label = mix(options.seed, step, j * 2 + split) % options.categories;
        const contour = contourCats[label];
        image = contour
          ? renderContourScene(contour, seed, size)
          : options.layout !== "single"
          ? renderFractalScene(cats[label], seed, size, {
            ...options.scene,
            points: options.points,
          })
          : renderFractal(cats[label], seed, size, options.points);
        labels[0].push(label);
      }
      data.set(toPixelValues(image, processor.config), j * 3 * size * size);
      colours?.set(colourTarget(image.data), j * COLOUR_BINS);
    }
    return { labels, colours, pixels: Tensor.from(data, [n, 3, size, size]) };
  };
  const classGroups = options.colourWeight > 0 ? groups.length - 1 : groups.length;
  /**
   * The loss: the sum of each label group's cross-entropy, plus the colour objective's
   * cross-entropy against its soft target, weighted.
   */
  const lossOf = (logits: Tensor, labels: number[][], colours?: Float32Array) => {
    const part = (g: number) =>
      groups.length === 1 ? logits : slice(logits, 1, offsets[g], offsets[g] + groups[g].length);
    let loss = crossEntropy(part(0), labels[0]);
    for (let g = 1; g < classGroups; g++) loss = add(loss, crossEntropy(part(g), labels[g]));
    if (colours) {
      const n = labels[0].length;
      const logProbs = logarithm(add(softmax(part(classGroups)), 1e-6));
      const target = Tensor.from(colours, [n, COLOUR_BINS]);
      loss = add(loss, mul(sum(mul(logProbs, target)), -options.colourWeight / n));
    }
    return loss;
  };
  /** Correct predictions and labels scored, over all groups. */
  const score = (logits: Float32Array, labels: number[][]) => {
    let right = 0;
    let scored = 0;
    for (let g = 0; g < classGroups; g++) {
      labels[g].forEach((label, i) => {
        if (label === -100) return;
        const start = i * width + offsets[g];
        const [p] = argmaxRows(logits.subarray(start, start + groups[g].length), groups[g].length);
        scored++;
        if (p === label) right++;
      });
    }
    return { right, scored };
  };
  const warmup = Math.ceil(options.steps * 0.05);
  const t0 = performance.now();
  let lossSum = 0;
  let lossCount = 0;
  let correct = 0;
  let seen = 0;
  let lastLoss = NaN;
  let lastAcc = NaN;
  for (let step = 0; step < options.steps; step++) {
    const { labels, colours, pixels } = batchOf(step, options.batchSize, 0);
    const stats = await scopeAsync(async () => {
      const logits = model.forward(pixels).logits;
      const loss = lossOf(logits, labels, colours);
      loss.backward();
      optimizer.clipGradNorm(1.0);
      optimizer.lr = learningRateAt("cosine", options.learningRate, step, warmup, options.steps);
      optimizer.step();
      optimizer.zeroGrad();
      return await noGrad(() => concat([loss.view([1]), logits.view([-1])], 0)).toArray();
    });
    pixels.dispose();
    lossSum += stats[0];
    lossCount++;
    const { right, scored } = score(stats.subarray(1), labels);
    correct += right;
    seen += scored;
    if ((step + 1) % options.logEvery === 0 || step === options.steps - 1) {
      lastLoss = lossSum / lossCount;
      lastAcc = correct / seen;
      const s = (performance.now() - t0) / 1000;
      log(
        `step ${step + 1}/${options.steps}  loss ${lastLoss.toFixed(4)}  ` +
          `train acc ${(lastAcc * 100).toFixed(1)}%  ${s.toFixed(0)} s`,
      );
      lossSum =
        lossCount =
        correct =
        seen =
          0;
    }
  }
  if (options.featureScale !== 1) await scaleFeatures(model, options.featureScale);
  model.eval();
  let heldCorrect = 0;
  let heldSeen = 0;
  const heldBatches = 10;
  for (let b = 0; b < heldBatches; b++) {
    const { labels, pixels } = batchOf(1_000_000 + b, options.batchSize, 1);
    const logits = await scopeAsync(async () =>
      await noGrad(() => model.forward(pixels).logits).toArray()
    );
    pixels.dispose();
    const { right, scored } = score(logits, labels);
    heldCorrect += right;
    heldSeen += scored;
  }
  return {
    model,
    processor: new ViTImageProcessor({ size }),
    figures: {
      loss: lastLoss,
      trainAccuracy: lastAcc,
      heldOutAccuracy: heldCorrect / heldSeen,
      seconds: (performance.now() - t0) / 1000,
    },
  };
}
