/**
 * The predict sequence, shared by `deno task predict` and the page: decode an image, run the
 * processor and the model without gradients, and rank the classes, as Transformers'
 * image-classification pipeline does.
 *
 * @module
 */

import { decodeImage, type RgbImage } from "../data/image.ts";
import type { ImageProcessor } from "../data/image_processor.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import { noGrad, scopeAsync } from "../tensor/tensor.ts";
import { classNames } from "./model_folder.ts";

/** One class and its probability. */
export interface LabelScore {
  /** The class name (the model's id2label). */
  label: string;
  /** Its softmax probability. */
  score: number;
}

/** What {@link classifyImage} returns. */
export interface Classification {
  /** The most probable class. */
  label: string;
  /** Its probability. */
  score: number;
  /** The `topK` most probable classes, most probable first. */
  topK: LabelScore[];
  /** The model's raw outputs, one per class in label order. */
  logits: number[];
}

/** Options of {@link classifyImage}. */
export interface ClassifyOptions {
  /** How many classes to rank (3 by default; at most the model's number). */
  topK?: number;
  /** The file's name, for decoding errors. */
  name?: string;
}

/**
 * Softmax of one row of logits, in double precision.
 *
 * @param logits The model's outputs for one image.
 * @returns Probabilities that sum to 1.
 * @example
 * ```ts
 * import { softmaxRow } from "./classify.ts";
 * console.log(softmaxRow(new Float32Array([0, 0]))); // [0.5, 0.5]
 * ```
 */
export function softmaxRow(logits: ArrayLike<number>): number[] {
  const values = Array.from(logits);
  const m = Math.max(...values);
  const e = values.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * Classifies one image: decodes it when given as file bytes, preprocesses it with the model's
 * processor, and runs the model in evaluation mode without gradients (a model in training mode
 * is put back in it afterwards).
 *
 * @param model The classifier.
 * @param processor Its image processor.
 * @param image A JPEG or PNG file's bytes, or a decoded image.
 * @param options How many classes to rank, the file name for errors.
 * @returns The best class, the top k and the logits.
 * @throws {ImageDecodeError} Naming the file when its bytes are not an image.
 * @example
 * ```ts ignore
 * import { classifyImage, init, loadModelFolder } from "@tessera/vit";
 * await init();
 * const { model, processor } = await loadModelFolder("vit-base-beans-demo");
 * const bytes = await Deno.readFile("leaf.jpg");
 * const result = await classifyImage(model, processor, bytes, { topK: 2, name: "leaf.jpg" });
 * console.log(result.label, result.score);
 * ```
 */
export async function classifyImage(
  model: ImageClassifier,
  processor: ImageProcessor,
  image: Uint8Array | RgbImage,
  options: ClassifyOptions = {},
): Promise<Classification> {
  const decoded = image instanceof Uint8Array
    ? decodeImage(image, { name: options.name ?? "image" })
    : image;
  const wasTraining = model.training;
  model.eval();
  let logits: Float32Array;
  try {
    logits = await scopeAsync(async () => {
      const { pixelValues } = await processor.preprocess(decoded);
      return await noGrad(() => model.forward(pixelValues).logits).toArray();
    });
  } finally {
    if (wasTraining) model.train();
  }
  const names = classNames(model);
  const probs = softmaxRow(logits);
  const k = Math.min(options.topK ?? 3, names.length);
  const topK = probs.map((score, i) => ({ label: names[i], score }))
    .sort((a, b) => b.score - a.score).slice(0, k);
  return { label: topK[0].label, score: topK[0].score, topK, logits: [...logits] };
}
