/**
 * `deno task pretrain`: runs the recipe of `pretrain.ts` from flags and saves a Hugging Face
 * model folder (F16 weights, the processor, the model card). The defaults reproduce the bundled
 * models/vit-tiny-contours.
 *
 * @module
 */

import { basename } from "node:path";
import { CONTOUR_DENSITIES, type ContourDensityName } from "../demo/contours.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { joinPath, readJson, writeAtomic } from "../io/files.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { atImageSize, onPatchGrid } from "../nn/position_grid.ts";
import { describeAdapter } from "../tensor/device.ts";
import { init } from "../tensor/runtime.ts";
import { DEMO_CONFIG } from "../demo/config.ts";
import { defineCli, runCli, UsageError } from "./_run.ts";
import { modelCard } from "../demo/model_card.ts";
import { DEFAULT_PRETRAIN, pretrain, type PretrainOptions } from "../demo/pretrain.ts";

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
    const saved = size === model.config.image_size
      ? model
      : await atImageSize(model, size, { dtype: "F16" });
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
