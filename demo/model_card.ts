/**
 * The model card that `deno task pretrain` writes beside the weights: what the recipe generated,
 * how it trained, what it reached, and the command that reproduces it.
 *
 * @module
 */

import { CONTOUR_DENSITIES, type ContourDensityName, MARK_ATTRIBUTES } from "./contours.ts";
import { DEFAULT_PRETRAIN, labelGroups, type PretrainOptions } from "./pretrain.ts";

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
  texture (\`demo/contours.ts\`)`;
  if (options.layout === "contours") return `Each image is one of the ${contours}.`;
  if (options.layout === "attributes") {
    return `Each image is an attribute scene (\`renderAttributeScene\` in \`demo/contours.ts\`):
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
  frame, with a hue of its own (category index × 137.5°) (\`demo/fractal.ts\`), drawn with up
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
 * import { DEFAULT_PRETRAIN } from "./pretrain.ts";
 * import { reproduceCommand } from "./model_card.ts";
 * console.log(reproduceCommand({ ...DEFAULT_PRETRAIN, steps: 10 }));
 * // "deno task pretrain --steps 10"
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
