/**
 * `deno task pretrain`: formula-driven supervised pretraining of a small ViT on generated
 * fractal categories (FractalDB-style), deterministic from a seed, saved as a Hugging Face
 * model folder with a model card. The default run made the bundled models/vit-tiny-fractal.
 *
 * @module
 */

import {
  fractalCategory,
  type FractalSceneOptions,
  renderFractal,
  renderFractalScene,
} from "../data/fractal.ts";
import { contourCategory, renderContourScene } from "../data/contours.ts";
import { toPixelValues } from "../data/pixels.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { joinPath, readJson, writeAtomic } from "../io/files.ts";
import { makeViTConfig } from "../nn/config.ts";
import { ViTForImageClassification } from "../nn/vit.ts";
import { describeAdapter } from "../tensor/device.ts";
import { init } from "../tensor/runtime.ts";
import { concat } from "../tensor/ops.ts";
import { noGrad, scopeAsync, Tensor } from "../tensor/tensor.ts";
import { argmaxRows } from "../train/metrics.ts";
import { learningRateAt } from "../train/schedule.ts";
import { createOptimizer } from "../train/trainer.ts";
import { DEMO_CONFIG } from "./train.ts";
import { defineCli, runCli, UsageError } from "./_run.ts";

/** The recipe's settings. */
export interface PretrainOptions {
  /** Fractal categories (classes). */
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
   * contour scenes.
   */
  layout: "scene" | "single" | "contours" | "mixed";
  /** Scene layout: fewest and most instances per image, and their size range. */
  scene: Required<Pick<FractalSceneOptions, "instances" | "scale">>;
  /** Log every this many steps. */
  logEvery: number;
}

/** The recipe of the bundled checkpoint. */
export const DEFAULT_PRETRAIN: PretrainOptions = {
  categories: 32,
  steps: 1000,
  batchSize: 32,
  learningRate: 1e-3,
  weightDecay: 0.05,
  seed: 0,
  config: DEMO_CONFIG,
  points: 4000,
  layout: "scene",
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
 * Pretrains a ViT on fractal categories.
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
  const id2label = Object.fromEntries(
    Array.from({ length: options.categories }, (_, i) => [String(i), `fractal_${i}`]),
  );
  const config = makeViTConfig({ ...options.config, id2label }, "pretrain config");
  const size = config.image_size;
  const processor = new ViTImageProcessor({ size, do_resize: false });
  const cats = Array.from(
    { length: options.categories },
    (_, i) => fractalCategory(options.seed, i),
  );
  const isContour = (i: number) =>
    options.layout === "contours" || (options.layout === "mixed" && i % 2 === 1);
  const contourCats = Array.from(
    { length: options.categories },
    (_, i) => isContour(i) ? contourCategory(options.seed, i) : undefined,
  );
  const model = new ViTForImageClassification(config, options.seed);
  // The Trainer's optimiser setup: no decay on biases and LayerNorm weights.
  const optimizer = createOptimizer(model, {
    lr: options.learningRate,
    weightDecay: options.weightDecay,
  });
  const batchOf = (step: number, n: number, split: number) => {
    const labels: number[] = [];
    const data = new Float32Array(n * 3 * size * size);
    for (let j = 0; j < n; j++) {
      const label = mix(options.seed, step, j * 2 + split) % options.categories;
      const seed = mix(step, j, 7919 + split);
      const contour = contourCats[label];
      const image = contour
        ? renderContourScene(contour, seed, size)
        : options.layout !== "single"
        ? renderFractalScene(cats[label], seed, size, { ...options.scene, points: options.points })
        : renderFractal(cats[label], seed, size, options.points);
      data.set(toPixelValues(image, processor.config), j * 3 * size * size);
      labels.push(label);
    }
    return { labels, pixels: Tensor.from(data, [n, 3, size, size]) };
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
    const { labels, pixels } = batchOf(step, options.batchSize, 0);
    const stats = await scopeAsync(async () => {
      const { logits, loss } = model.forward(pixels, labels);
      loss!.backward();
      optimizer.clipGradNorm(1.0);
      optimizer.lr = learningRateAt("cosine", options.learningRate, step, warmup, options.steps);
      optimizer.step();
      optimizer.zeroGrad();
      return await noGrad(() => concat([loss!.view([1]), logits.view([-1])], 0)).toArray();
    });
    pixels.dispose();
    lossSum += stats[0];
    lossCount++;
    const preds = argmaxRows(stats.subarray(1), options.categories);
    correct += preds.filter((p, i) => p === labels[i]).length;
    seen += labels.length;
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
  model.eval();
  let heldCorrect = 0;
  const heldBatches = 10;
  for (let b = 0; b < heldBatches; b++) {
    const { labels, pixels } = batchOf(1_000_000 + b, options.batchSize, 1);
    const logits = await scopeAsync(async () =>
      await noGrad(() => model.forward(pixels).logits).toArray()
    );
    pixels.dispose();
    heldCorrect += argmaxRows(logits, options.categories).filter((p, i) => p === labels[i]).length;
  }
  return {
    model,
    processor: new ViTImageProcessor({ size }),
    figures: {
      loss: lastLoss,
      trainAccuracy: lastAcc,
      heldOutAccuracy: heldCorrect / (heldBatches * options.batchSize),
      seconds: (performance.now() - t0) / 1000,
    },
  };
}

function layoutText(options: PretrainOptions): string {
  const contours = `scenes of star-shaped polygon marks after the radial contour
  database (Kataoka et al., CVPR 2022): each contour category has a vertex count (3–12), a
  radial irregularity, an aspect ratio, a style (filled, outlined, or filled with a lighter
  halo), a hue and a density (1–4 large marks or 6–16 small ones) of its own, scattered over a
  two-colour value-noise texture (\`data/contours.ts\`)`;
  if (options.layout === "contours") return `Each image is one of the ${contours}.`;
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

/** The model card written beside the weights. */
export function modelCard(
  options: PretrainOptions,
  figures: Record<string, number>,
  adapter: string,
): string {
  return `---
license: mit
library_name: tessera
tags:
- vision-transformer
- image-classification
- formula-driven-supervised-learning
---

# vit-tiny-fractal

A small Vision Transformer pretrained by Tessera's \`deno task pretrain\` on generated fractal
images only (no natural images, no downloads), so that the default \`deno task train\` is a real
fine-tune: pretrained weights, a new head, then training on the beans-like dataset.

## How it was made

- Data: formula-driven supervised learning after FractalDB (Kataoka et al., "Pre-training
  without Natural Images", ACCV 2020; Nakashima et al., "Can Vision Transformers Learn without
  Natural Images?", AAAI 2022). ${
    options.layout === "contours"
      ? `The ${options.categories} categories are contour families (below), not fractals; a fractal
  category (\`--layout scene\`) is`
      : `Each of ${options.categories} categories is`
  } an iterated function
  system of 2–4 random contractive affine maps, kept when its attractor covers 8–55 % of the
  frame, with a hue of its own (category index × 137.5°) (\`data/fractal.ts\`).
  ${layoutText(options)} Every training image is fresh, rendered at ${
    (options.config.image_size as number) ?? 224
  } px with
  up to ${options.points} chaos-game points per image-filling instance.
- Model: ViTForImageClassification, ${JSON.stringify(options.config)}.
- Training: ${options.steps} steps of ${options.batchSize} images (each image seen once), AdamW
  lr ${options.learningRate} with 5 % linear warmup then cosine decay, weight decay
  ${options.weightDecay} (not on biases and LayerNorm weights), gradient clipping 1.0, seed
  ${options.seed}.
- Result: last-${options.logEvery}-step training loss ${figures.loss.toFixed(4)}, training accuracy
  ${(figures.trainAccuracy * 100).toFixed(1)} %, accuracy on ${10 * options.batchSize} held-out
  instances ${(figures.heldOutAccuracy * 100).toFixed(1)} % (chance ${
    (100 / options.categories).toFixed(1)
  } %).
  ${figures.seconds.toFixed(0)} s on ${adapter}.
- Weights are stored as F16 to keep the folder small; they load as f32.

Reproduce: \`deno task pretrain\` (the defaults are this recipe).

## What it is for

Starting point for fine-tuning small ViTs on small image datasets in Tessera's demo and tests.
The classifier head (fractal categories) is meaningless for other tasks and is replaced when
fine-tuning. It is not a substitute for google/vit-base-patch16-224-in21k.
`;
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

/** The task: flags and what it does. */
export const PRETRAIN_CLI = defineCli({
  name: "pretrain",
  usage: `usage: deno task pretrain [--out DIR] [--steps N] [--categories N] [--batch-size N]
                          [--learning-rate LR] [--weight-decay WD] [--seed N]
                          [--layout scene|single|contours|mixed] [--instances MIN,MAX] [--scale MIN,MAX]
                          [--points N] [--config CONFIG.json] [--image-size PX] [--patch-size PX]

Pretrains a ViT on generated fractal categories (FractalDB-style) and saves a Hugging Face
model folder with a model card. The defaults reproduce models/vit-tiny-fractal.`,
  flags: {
    out: { type: "string", default: "models/vit-tiny-fractal", value: "DIR" },
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
      choices: ["scene", "single", "contours", "mixed"],
      default: DEFAULT_PRETRAIN.layout,
      value: "LAYOUT",
      help: "scene (fractals on a texture), single (one centred), contours (polygon marks on a " +
        "texture) or mixed (scene and contours categories alternating)",
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
    const adapter = describeAdapter();
    console.log(`adapter: ${adapter}`);
    const { model, processor, figures } = await pretrain(options);
    await model.savePretrained(values.out, { dtype: "F16" });
    await processor.savePretrained(values.out);
    await writeAtomic(joinPath(values.out, "README.md"), modelCard(options, figures, adapter));
    console.log(
      `saved ${values.out}: held-out accuracy ${(figures.heldOutAccuracy * 100).toFixed(1)}% ` +
        `over ${options.categories} categories, ${figures.seconds.toFixed(0)} s`,
    );
  },
});

if (import.meta.main) await runCli(PRETRAIN_CLI);
