/**
 * Test helper: a two-class stripes ImageFolder and a tiny ViT folder, as in-memory files, for
 * the train, evaluate and predict sequences' tests.
 *
 * @module
 */

import { encodePng } from "../data/png.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { type MemoryFile, MemoryFileSystem } from "../io/memory_fs.ts";
import { useFileSystem } from "../io/files.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { Rng } from "../tensor/rng.ts";

/** Side of the images and of the model's input. */
export const SIZE = 16;

/** One 16×16 PNG of horizontal (label 0) or vertical (label 1) stripes. */
export function stripePng(label: number, rng: Rng): Uint8Array {
  const data = new Uint8Array(SIZE * SIZE * 3);
  const period = 4 + Math.floor(rng.next() * 4);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const on = ((label === 0 ? y : x) % period) < period / 2;
      data.fill(on ? 220 : 30 + rng.next() * 40, (y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3);
    }
  }
  return encodePng({ width: SIZE, height: SIZE, data });
}

/** `data/{split}/{horizontal,vertical}/{i}.png`. */
export function stripeFiles(perClass: Record<string, number>, seed = 3): MemoryFile[] {
  const rng = new Rng(seed);
  const files: MemoryFile[] = [];
  for (const [split, n] of Object.entries(perClass)) {
    for (const [label, name] of ["horizontal", "vertical"].entries()) {
      for (let i = 0; i < n; i++) {
        files.push({ path: `data/${split}/${name}/${i}.png`, data: stripePng(label, rng) });
      }
    }
  }
  return files;
}

/**
 * A fresh in-memory file system, made the active one, with the stripes under `data/` and a
 * randomly initialised one-layer ViT folder under `model/` whose labels are `labels`.
 *
 * @param labels id2label of the saved model (its head is re-initialised for other labels).
 * @returns The file system.
 */
export async function memoryWithStripes(
  labels: Record<string, string> = { "0": "horizontal", "1": "vertical" },
): Promise<MemoryFileSystem> {
  const fs = MemoryFileSystem.fromFiles(stripeFiles({ train: 8, validation: 4 }));
  useFileSystem(fs);
  const config = makeViTConfig({
    hidden_size: 24,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 48,
    image_size: SIZE,
    patch_size: 8,
    id2label: labels,
  });
  const model = new ViTForImageClassification(config, 1);
  await model.savePretrained("model");
  await new ViTImageProcessor({ size: SIZE }).savePretrained("model");
  model.dispose();
  return fs;
}
