/**
 * Test helper: the data and starting weights of the trajectory golden
 * (`tests/fixtures/trajectory.safetensors`, from `gen_trajectory.py`), for the tests that train
 * on them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ClassLabel, Dataset, type ImageExample } from "../data/dataset.ts";
import { encodePng } from "../data/png.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { parseSafetensors } from "../nn/safetensors.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";

const file = new URL("fixtures/trajectory.safetensors", import.meta.url);
const parsed = parseSafetensors(await Deno.readFile(file), file.pathname);

/** The fixture's tensors by name. */
export const tensors = parsed.tensors;
/** The small ViT's config fields (HF names). */
export const config = JSON.parse(parsed.metadata.config);
/** The recipe: batch, steps, seed, lr, weight_decay, max_grad_norm, init_scale. */
export const recipe = JSON.parse(parsed.metadata.args);

/**
 * One tensor of the fixture.
 *
 * @param name Its name.
 * @returns Its values.
 */
export function fixture(name: string): Float32Array {
  const entry = tensors.get(name);
  assert.ok(entry, `the fixture has ${name}`);
  return entry.data;
}

/**
 * The fixture's images as in-memory PNGs (lossless, at the processor's size: no resize).
 *
 * @returns The dataset, in the fixture's order.
 */
export function fixtureDataset(): Dataset<ImageExample> {
  const images = tensors.get("images")!;
  const [n, , h, w] = images.shape;
  const labels = fixture("labels");
  const rows: ImageExample[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(h * w * 3);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < h * w; p++) data[p * 3 + c] = images.data[(i * 3 + c) * h * w + p];
    }
    const bytes = encodePng({ width: w, height: h, data });
    rows.push({ image: { path: `${i}.png`, bytes }, labels: labels[i] });
  }
  return new Dataset(rows, new ClassLabel(["red", "green", "blue"]));
}

/**
 * The small ViT with the fixture's starting weights.
 *
 * @returns The model.
 */
export function fixtureModel(): ViTForImageClassification {
  const id2label = { "0": "red", "1": "green", "2": "blue" };
  const model = new ViTForImageClassification(makeViTConfig({ ...config, id2label }));
  for (const [key, param] of model.namedParameters()) param.assign(fixture(`init.${key}`));
  return model;
}
