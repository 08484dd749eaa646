/**
 * The evaluate sequence, shared by `deno task evaluate` and the library's users: score a model
 * on one split with the Trainer's evaluation loop (loss, accuracy, per-class precision, recall
 * and F1, the confusion matrix), with the split's labels matched to the model's by name.
 *
 * @module
 */

import { ClassLabel, Dataset, type ImageExample } from "../data/dataset.ts";
import type { ImageProcessor } from "../data/image_processor.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import { ArgumentError, makeTrainingArguments } from "./args.ts";
import { classNames } from "./model_folder.ts";
import { Trainer } from "./trainer.ts";

/**
 * Re-indexes a dataset's labels to the model's, by class name, so that a dataset whose classes
 * are a subset of the model's, or in another order, is scored correctly.
 *
 * @param split The rows.
 * @param model The model whose id2label gives the order.
 * @param where The dataset's path, for the error.
 * @returns The rows with the model's label indices (the same dataset when they already agree).
 * @throws {ArgumentError} When the dataset has a class the model does not know.
 * @example
 * ```ts ignore
 * import { alignLabels, init, loadDataset, loadModelFolder } from "@tessera/vit";
 * await init();
 * const { model } = await loadModelFolder("vit-base-beans-demo");
 * const ds = await loadDataset("beans");
 * const scored = alignLabels(ds.validation, model, "beans");
 * ```
 */
export function alignLabels(
  split: Dataset<ImageExample>,
  model: ImageClassifier,
  where: string,
): Dataset<ImageExample> {
  const modelNames = classNames(model);
  const dataNames = split.labels.names;
  const missing = dataNames.filter((n) => !modelNames.includes(n));
  if (missing.length > 0) {
    throw new ArgumentError(
      `${where} has classes the model does not know: ${missing.join(", ")} ` +
        `(model classes: ${modelNames.join(", ")})`,
    );
  }
  if (dataNames.every((n, i) => modelNames[i] === n) && dataNames.length === modelNames.length) {
    return split;
  }
  const rows = Array.from({ length: split.length }, (_, i) => {
    const r = split.row(i);
    return { ...r, labels: modelNames.indexOf(dataNames[r.labels]) };
  });
  return new Dataset(rows, new ClassLabel(modelNames));
}

/** Options of {@link evaluateModel}. */
export interface EvaluateModelOptions {
  /** The split's name, the metrics' prefix (`validation_accuracy`, …); "eval" by default. */
  split?: string;
  /** Where the rows come from, for the error about unknown classes ("the dataset" by default). */
  where?: string;
  /** Evaluation batch size (8 by default, as Transformers'). */
  batchSize?: number;
  /** Receives the Trainer's log lines (none by default). */
  log?: (line: string) => void;
}

/**
 * Evaluates a model on a split: its labels are matched to the model's by name, then the
 * Trainer's evaluation loop runs. The result is what `deno task evaluate --json` prints: the
 * metrics with the split as prefix, `{split}_confusion_matrix` (rows: true class, columns:
 * predicted, in the model's label order) and `{split}_samples`.
 *
 * @param model The classifier.
 * @param processor Its image processor.
 * @param dataset The split's rows.
 * @param options The split's name, batch size, logger.
 * @returns The metrics, the confusion matrix and the number of samples.
 * @throws {ArgumentError} When the split has a class the model does not know.
 * @example
 * ```ts ignore
 * import { evaluateModel, init, loadDataset, loadModelFolder } from "@tessera/vit";
 * await init();
 * const { model, processor } = await loadModelFolder("vit-base-beans-demo");
 * const ds = await loadDataset("beans");
 * const out = await evaluateModel(model, processor, ds.test, { split: "test" });
 * console.log(out.test_accuracy, out.test_samples);
 * ```
 */
export async function evaluateModel(
  model: ImageClassifier,
  processor: ImageProcessor,
  dataset: Dataset<ImageExample>,
  options: EvaluateModelOptions = {},
): Promise<Record<string, unknown>> {
  const split = options.split ?? "eval";
  const trainer = new Trainer({
    model,
    processor,
    args: makeTrainingArguments({
      perDeviceEvalBatchSize: options.batchSize ?? 8,
      reportTo: "none",
      outputDir: ".cache/eval",
    }),
    evalDataset: alignLabels(dataset, model, options.where ?? "the dataset"),
    log: options.log ?? (() => {}),
  });
  const { metrics, confusionMatrix } = await trainer.evaluate(undefined, split);
  const out: Record<string, unknown> = { ...metrics };
  delete out.epoch;
  out[`${split}_confusion_matrix`] = confusionMatrix;
  out[`${split}_samples`] = dataset.length;
  return out;
}
