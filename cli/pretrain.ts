/**
 * `deno task pretrain`: formula-driven supervised pretraining of a small ViT on generated
 * images (contour scenes, fractal scenes or attribute scenes), deterministic from a seed,
 * saved as a Hugging Face model folder with a model card. The default run made the bundled
 * models/vit-tiny-contours.
 *
 * @module
 */

import {
  fractalCategory,
  type FractalSceneOptions,
  renderFractal,
  renderFractalScene,
} from "../data/fractal.ts";
import {
  CONTOUR_DENSITIES,
  contourCategory,
  type ContourDensityName,
  MARK_ATTRIBUTES,
  renderAttributeScene,
  renderContourScene,
} from "../data/contours.ts";
import { basename } from "node:path";
import { toPixelValues } from "../data/pixels.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { joinPath, readJson, writeAtomic } from "../io/files.ts";
import { makeViTConfig } from "../nn/config.ts";
import { interpolatePositions, ViTForImageClassification } from "../nn/vit.ts";
import { fromF16Bits, toF16Bits } from "../tensor/f16.ts";
import { describeAdapter } from "../tensor/device.ts";
import { init } from "../tensor/runtime.ts";
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
import { DEMO_CONFIG } from "./train.ts";
import { defineCli, runCli, UsageError } from "./_run.ts";

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

/** Whether an image size is a whole, positive number of patches. */
function onPatchGrid(size: number, patch: number): boolean {
  return size > 0 && Number.isInteger(size / patch);
}

/**
 * The model at another image size, as ViT is fine-tuned at a higher resolution than it was
 * pretrained at: the same weights, with the grid of position embeddings resized bicubically
 * (torch's `interpolate`, align_corners false, as Transformers' `interpolate_pos_encoding`).
 * The weights are first rounded to F16, as the saved file stores them, so that resizing a
 * saved pretraining-size model gives the same file.
 *
 * @param model The pretrained model (it is left as it is).
 * @param size The new image_size, a multiple of the patch size.
 * @returns A new model whose config says `size`.
 * @throws {RangeError} When `size` is not a positive multiple of the patch size.
 * @example
 * ```ts
 * import { atImageSize } from "./pretrain.ts";
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
export async function atImageSize(
  model: ViTForImageClassification,
  size: number,
): Promise<ViTForImageClassification> {
  const patch = model.config.patch_size;
  if (!onPatchGrid(size, patch)) {
    throw new RangeError(
      `image size ${size} is not a positive multiple of the patch size ${patch}`,
    );
  }
  const resized = new ViTForImageClassification({ ...model.config, image_size: size });
  const from = new Map(model.namedParameters());
  for (const [name, param] of resized.namedParameters()) {
    const source = from.get(name)!;
    const stored = fromF16Bits(toF16Bits(await source.toArray()));
    param.assign(
      name.endsWith("position_embeddings")
        ? await scopeAsync(() =>
          interpolatePositions(
            Tensor.from(stored, [...source.shape]),
            1,
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

function densityText(densities: readonly ContourDensityName[]): string {
  const parts = densities.map((d) => {
    const [n0, n1] = CONTOUR_DENSITIES[d].instances;
    return `${n0}–${n1} ${d} marks`;
  });
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(", ")} or ${parts.at(-1)}`;
}

function layoutText(options: PretrainOptions): string {
  const contours = `scenes of star-shaped polygon marks after the radial contour
  database (Kataoka et al., "Replacing Labeled Real-image Datasets with Auto-generated
  Contours", CVPR 2022, which pretrained ViTs better than fractals): each contour category
  has a vertex count (3–12), a radial irregularity, an aspect ratio, a style (filled,
  outlined, or filled with a lighter halo), a hue${
    options.tones ? ", a narrow lightness and saturation band" : ""
  } and a density
  (${densityText(options.densities)}) of its own, scattered over a two-colour value-noise
  texture (\`data/contours.ts\`)`;
  if (options.layout === "contours") return `Each image is one of the ${contours}.`;
  if (options.layout === "attributes") {
    return `Each image is an attribute scene (\`renderAttributeScene\` in \`data/contours.ts\`):
  star-shaped polygon marks (after the radial contour database of Kataoka et al., CVPR 2022)
  over a two-colour value-noise texture, whose attributes are drawn independently per image and
  each predicted by its own group of logits (the loss is the sum of the groups'
  cross-entropies): ${
      Object.entries(MARK_ATTRIBUTES).map(([k, v]) => `${k} (${v.length})`).join(", ")
    }. No single cue names a scene, so the features must carry how many marks there are and how
  large, their outline, style, hue and tone; a scene without marks scores the density only.`;
  }
  if (options.layout === "mixed") {
    const [n0, n1] = options.scene.instances;
    const [s0, s1] = options.scene.scale;
    return `Even categories are fractal scenes: ${n0}–${n1} instances (${s0}–${s1} of the image
  side, any rotation, a flip, a colour within ±15° of the category's hue) over a two-colour
  value-noise texture (\`renderFractalScene\`); odd ones are ${contours}.`;
  }
  if (options.layout === "single") {
    return `Each image is one instance (one map parameter scaled by 0.8–1.2, a flip and a rotation
  of up to ±0.25 rad, random colours) centred on a flat background.`;
  }
  const [n0, n1] = options.scene.instances;
  const [s0, s1] = options.scene.scale;
  return `Each image is a scene: ${n0}–${n1} instances of the category (each with one map
  parameter scaled by 0.8–1.2, any rotation, a flip, ${s0}–${s1} of the image side, a colour
  within ±15° of the category's hue) scattered over a two-colour value-noise texture
  (\`renderFractalScene\`). Finding small shapes on a textured surface and pooling what was
  found is what telling diseased leaves apart needs; one centred fractal on a flat background
  (FractalDB's layout, \`--layout single\`) gave features that did not transfer.`;
}

function saveText(options: PretrainOptions): string {
  const size = (options.config.image_size as number) ?? 224;
  const patch = (options.config.patch_size as number) ?? 16;
  if (options.saveImageSize === size) return "";
  const [from, to] = [size / patch, options.saveImageSize / patch];
  return `
- Saved at ${options.saveImageSize} px (\`--save-image-size\`): the ${from}×${from} grid of position
  embeddings resized bicubically to ${to}×${to}, as ViTs are fine-tuned at a higher resolution than
  they were pretrained at (Dosovitskiy et al., ICLR 2021; Touvron et al., "Fixing the train-test
  resolution discrepancy", NeurIPS 2019), so that a small spot covers more pixels. The config and
  the preprocessor say ${options.saveImageSize} px; the held-out accuracy below is at ${size} px.`;
}

/** The model card written beside the weights. */
export function modelCard(
  options: PretrainOptions,
  figures: Record<string, number>,
  adapter: string,
  name = "vit-tiny-contours",
): string {
  const fractals = ["scene", "single", "mixed"].includes(options.layout);
  const data = fractals
    ? `formula-driven supervised learning after FractalDB (Kataoka et al., "Pre-training
  without Natural Images", ACCV 2020; Nakashima et al., "Can Vision Transformers Learn without
  Natural Images?", AAAI 2022). Each of ${options.categories} categories${
      options.layout === "mixed" ? " (the even ones)" : ""
    } is an iterated function
  system of 2–4 random contractive affine maps, kept when its attractor covers 8–55 % of the
  frame, with a hue of its own (category index × 137.5°) (\`data/fractal.ts\`), drawn with up
  to ${options.points} chaos-game points per image-filling instance.`
    : `formula-driven supervised learning: the labels come from the generator, not from
  people.`;
  const labels = labelGroups(options);
  const chance = labels.length === 1
    ? `chance ${(100 / labels[0].length).toFixed(1)} %`
    : `chance per attribute ${(100 / Math.max(...labels.map((g) => g.length))).toFixed(1)}–${
      (100 / Math.min(...labels.map((g) => g.length))).toFixed(1)
    } %`;
  return `---
license: mit
library_name: tessera
tags:
- vision-transformer
- image-classification
- formula-driven-supervised-learning
---

# ${name}

A small Vision Transformer pretrained by Tessera's \`deno task pretrain\` on generated images
only (no natural images, no downloads), so that the default \`deno task train\` is a real
fine-tune: pretrained weights, a new head, then training on the beans-like dataset.

## How it was made

- Data: ${data}
  ${layoutText(options)}
  Every training image is fresh, rendered at ${(options.config.image_size as number) ?? 224} px.
- Model: ViTForImageClassification, ${JSON.stringify(options.config)}.
- Training: ${options.steps} steps of ${options.batchSize} images (each image seen once), AdamW
  lr ${options.learningRate} with 5 % linear warmup then cosine decay, weight decay
  ${options.weightDecay} (not on biases and LayerNorm weights), gradient clipping 1.0, seed
  ${options.seed}.${
    options.featureScale === 1 ? "" : `
- Then the final LayerNorm's weight and bias were multiplied by ${options.featureScale} and the
  head's weights divided by ${options.featureScale} (\`--feature-scale\`): the same function, but
  a new head on these features learns ${options.featureScale} times faster at a given learning
  rate. A new head on ${options.config.hidden_size} features starts near zero and AdamW moves each weight by about the
  learning rate a step, so at the blog's learning rate (chosen for ViT-B's 768 features) it
  barely moves in 130 steps; Tessera's docs/performance.md has the figures.`
  }${saveText(options)}
- Result: last-${options.logEvery}-step training loss ${figures.loss.toFixed(4)}, training accuracy
  ${(figures.trainAccuracy * 100).toFixed(1)} %, accuracy on ${10 * options.batchSize} held-out
  images ${(figures.heldOutAccuracy * 100).toFixed(1)} % (${chance}).
  ${figures.seconds.toFixed(0)} s (${(figures.seconds / 60).toFixed(1)} min) on ${adapter}.
- Weights are stored as F16 to keep the folder small; they load as f32.

Reproduce: \`${reproduceCommand(options)}\`.

## What it is for

Starting point for fine-tuning small ViTs on small image datasets in Tessera's demo and tests.
The classifier head (the pretraining's labels) is meaningless for other tasks and is replaced
when fine-tuning. It is not a substitute for google/vit-base-patch16-224-in21k.
`;
}

/**
 * The \`deno task pretrain\` command line that reproduces a recipe: the flags that differ from
 * the defaults.
 *
 * @param options The recipe.
 * @returns The command.
 * @example
 * ```ts
 * import { DEFAULT_PRETRAIN, reproduceCommand } from "./pretrain.ts";
 * console.log(reproduceCommand({ ...DEFAULT_PRETRAIN, steps: 10 })); // "deno task pretrain --steps 10"
 * ```
 */
export function reproduceCommand(options: PretrainOptions): string {
  const d = DEFAULT_PRETRAIN;
  const flags: [string, unknown, unknown][] = [
    ["--layout", options.layout, d.layout],
    ["--steps", options.steps, d.steps],
    ["--categories", options.categories, d.categories],
    ["--batch-size", options.batchSize, d.batchSize],
    ["--learning-rate", options.learningRate, d.learningRate],
    ["--weight-decay", options.weightDecay, d.weightDecay],
    ["--seed", options.seed, d.seed],
    ["--points", options.points, d.points],
    ["--densities", options.densities.join(","), d.densities.join(",")],
    ["--hues", options.hues, d.hues],
    ["--tones", options.tones, d.tones],
    ["--colour-weight", options.colourWeight, d.colourWeight],
    ["--feature-scale", options.featureScale, d.featureScale],
    ["--save-image-size", options.saveImageSize, d.saveImageSize],
    ["--instances", options.scene.instances.join(","), d.scene.instances.join(",")],
    ["--scale", options.scene.scale.join(","), d.scene.scale.join(",")],
    ["--image-size", options.config.image_size, d.config.image_size],
    ["--patch-size", options.config.patch_size, d.config.patch_size],
  ];
  const rest = Object.keys({ ...options.config, ...d.config }).filter((k) =>
    !["image_size", "patch_size"].includes(k) && options.config[k] !== d.config[k]
  );
  return [
    "deno task pretrain",
    ...flags.filter(([, v, def]) => v !== def).map(([f, v]) => v === true ? f : `${f} ${v}`),
    ...(rest.length ? [`--config CONFIG.json (${JSON.stringify(options.config)})`] : []),
  ].join(" ");
}

/**
 * Parses a `MIN,MAX` flag value.
 *
 * @param text The flag's value.
 * @param flag The flag, for the message.
 * @param integer Whole numbers only (instance counts); otherwise fractions in (0, 1].
 * @returns The pair.
 * @throws {UsageError} For anything but two ordered numbers in range.
 */
export function parseRange(text: string, flag: string, integer: boolean): [number, number] {
  const parts = text.split(",").map((p) => Number(p.trim()));
  const ok = parts.length === 2 &&
    parts.every((v) =>
      Number.isFinite(v) && (integer ? Number.isInteger(v) && v >= 0 : v > 0 && v <= 1)
    ) && parts[0] <= parts[1];
  if (!ok) {
    throw new UsageError(
      `${flag} takes MIN,MAX with MIN ≤ MAX (${
        integer ? "whole numbers ≥ 0" : "fractions in (0, 1]"
      }), got "${text}"`,
    );
  }
  return [parts[0], parts[1]];
}

/**
 * Parses a `--densities` flag value.
 *
 * @param text Comma-separated density names.
 * @returns The names, in order.
 * @throws {UsageError} For an unknown or repeated name.
 */
export function parseDensities(text: string): ContourDensityName[] {
  const names = text.split(",").map((p) => p.trim());
  const known = Object.keys(CONTOUR_DENSITIES);
  const bad = names.find((n, i) => !known.includes(n) || names.indexOf(n) !== i);
  if (bad !== undefined) {
    throw new UsageError(
      `--densities takes distinct names from ${known.join(", ")}, got "${text}"`,
    );
  }
  return names as ContourDensityName[];
}

/** The task: flags and what it does. */
export const PRETRAIN_CLI = defineCli({
  name: "pretrain",
  usage: `usage: deno task pretrain [--out DIR] [--steps N] [--categories N] [--batch-size N]
                          [--learning-rate LR] [--weight-decay WD] [--seed N]
                          [--layout scene|single|contours|mixed|attributes] [--densities D,…] [--hues N]
                          [--tones] [--colour-weight W] [--feature-scale K]
                          [--instances MIN,MAX] [--scale MIN,MAX]
                          [--points N] [--config CONFIG.json] [--image-size PX] [--patch-size PX]

Pretrains a ViT on generated images (contour or fractal categories, or attribute scenes) and
saves a Hugging Face model folder with a model card. The defaults reproduce
models/vit-tiny-contours.`,
  flags: {
    out: { type: "string", default: "models/vit-tiny-contours", value: "DIR" },
    steps: { type: "number", integer: true, positive: true, default: DEFAULT_PRETRAIN.steps },
    categories: {
      type: "number",
      integer: true,
      positive: true,
      default: DEFAULT_PRETRAIN.categories,
    },
    "batch-size": {
      type: "number",
      integer: true,
      positive: true,
      default: DEFAULT_PRETRAIN.batchSize,
    },
    "learning-rate": {
      type: "number",
      positive: true,
      default: DEFAULT_PRETRAIN.learningRate,
      value: "LR",
    },
    "weight-decay": {
      type: "number",
      min: 0,
      default: DEFAULT_PRETRAIN.weightDecay,
      value: "WD",
    },
    seed: { type: "number", integer: true, default: DEFAULT_PRETRAIN.seed, value: "N" },
    layout: {
      type: "string",
      choices: ["scene", "single", "contours", "mixed", "attributes"],
      default: DEFAULT_PRETRAIN.layout,
      value: "LAYOUT",
      help: "scene (fractals on a texture), single (one centred), contours (polygon marks on a " +
        "texture), mixed (scene and contours categories alternating) or attributes (marks " +
        "whose attributes are each predicted)",
    },
    densities: {
      type: "string",
      default: DEFAULT_PRETRAIN.densities.join(","),
      value: "D,…",
      help: `densities contour categories draw from: ${Object.keys(CONTOUR_DENSITIES).join(", ")}`,
    },
    "feature-scale": {
      type: "number",
      positive: true,
      default: DEFAULT_PRETRAIN.featureScale,
      value: "K",
      help: "multiply the final LayerNorm by K and divide the head by K after training",
    },
    "save-image-size": {
      type: "number",
      integer: true,
      positive: true,
      default: DEFAULT_PRETRAIN.saveImageSize,
      value: "PX",
      help: "the saved model's image_size (position embeddings resized bicubically)",
    },
    "colour-weight": {
      type: "number",
      min: 0,
      default: DEFAULT_PRETRAIN.colourWeight,
      value: "W",
      help: "weight of the colour-histogram objective (0: off)",
    },
    hues: {
      type: "number",
      integer: true,
      min: 0,
      default: DEFAULT_PRETRAIN.hues,
      value: "N",
      help: "distinct hues among contour categories (0: one per category)",
    },
    tones: {
      type: "boolean",
      default: DEFAULT_PRETRAIN.tones,
      help: "give each contour category its own lightness and saturation band",
    },
    instances: {
      type: "string",
      default: DEFAULT_PRETRAIN.scene.instances.join(","),
      value: "MIN,MAX",
      help: "fewest and most instances per scene",
    },
    scale: {
      type: "string",
      default: DEFAULT_PRETRAIN.scene.scale.join(","),
      value: "MIN,MAX",
      help: "instance size range in scenes, as fractions of the image side",
    },
    points: {
      type: "number",
      integer: true,
      positive: true,
      default: DEFAULT_PRETRAIN.points,
      help: "chaos-game points per image-filling instance",
    },
    config: { type: "string", value: "FILE", help: "ViT config fields (default: the demo's)" },
    "image-size": {
      type: "number",
      integer: true,
      positive: true,
      value: "PX",
      help: "overrides the config's image_size",
    },
    "patch-size": {
      type: "number",
      integer: true,
      positive: true,
      value: "PX",
      help: "overrides the config's patch_size",
    },
  },
  init,
  main: async ({ values }) => {
    const options: PretrainOptions = {
      ...DEFAULT_PRETRAIN,
      steps: values.steps,
      categories: values.categories,
      batchSize: values["batch-size"],
      learningRate: values["learning-rate"],
      seed: values.seed,
      weightDecay: values["weight-decay"],
      layout: values.layout as PretrainOptions["layout"],
      densities: parseDensities(values.densities),
      hues: values.hues,
      tones: values.tones,
      colourWeight: values["colour-weight"],
      featureScale: values["feature-scale"],
      saveImageSize: values["save-image-size"],
      points: values.points,
      scene: {
        instances: parseRange(values.instances, "--instances", true),
        scale: parseRange(values.scale, "--scale", false),
      },
      config: {
        ...(values.config ? await readJson(values.config) as Record<string, unknown> : DEMO_CONFIG),
        ...(values["image-size"] === undefined ? {} : { image_size: values["image-size"] }),
        ...(values["patch-size"] === undefined ? {} : { patch_size: values["patch-size"] }),
      },
    };
    const patch = makeViTConfig(options.config, "pretrain config").patch_size;
    if (!onPatchGrid(options.saveImageSize, patch)) {
      throw new UsageError(
        `--save-image-size ${options.saveImageSize} is not a multiple of the patch size ${patch}`,
      );
    }
    const adapter = describeAdapter();
    console.log(`adapter: ${adapter}`);
    const { model, figures } = await pretrain(options);
    const size = options.saveImageSize;
    const saved = size === model.config.image_size ? model : await atImageSize(model, size);
    await saved.savePretrained(values.out, { dtype: "F16" });
    await new ViTImageProcessor({ size }).savePretrained(values.out);
    await writeAtomic(
      joinPath(values.out, "README.md"),
      modelCard(options, figures, adapter, basename(values.out)),
    );
    console.log(
      `saved ${values.out}: held-out accuracy ${(figures.heldOutAccuracy * 100).toFixed(1)}% ` +
        `over ${
          options.layout === "attributes"
            ? "the attribute labels"
            : `${options.categories} categories`
        }, ${figures.seconds.toFixed(0)} s`,
    );
  },
});

if (import.meta.main) await runCli(PRETRAIN_CLI);
