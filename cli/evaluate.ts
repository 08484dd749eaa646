/**
 * `deno task evaluate --model DIR --data DIR [--split validation|test] [--json]`: evaluates a
 * saved model on a dataset split. With `--json`, stdout is exactly one JSON object whose keys
 * carry the split as prefix (`test_accuracy`, `test_loss`, …), as Transformers does.
 *
 * @module
 */

import { loadDataset } from "../data/parquet.ts";
import { ClassLabel, Dataset, type ImageExample } from "../data/dataset.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import { init } from "../tensor/runtime.ts";
import { makeTrainingArguments } from "../train/args.ts";
import { Trainer } from "../train/trainer.ts";
import { classNames, loadModelFolder } from "./_model_folder.ts";
import { resolveHubArg } from "./_hub.ts";
import { defineCli, runCli, UsageError } from "./_run.ts";

/**
 * Re-indexes a dataset's labels to the model's, by class name, so that a dataset whose classes
 * are a subset of the model's, or in another order, is scored correctly.
 *
 * @param split The rows.
 * @param model The model whose id2label gives the order.
 * @param where The dataset's path, for the error.
 * @returns The rows with the model's label indices.
 * @throws {UsageError} When the dataset has a class the model does not know.
 * @example
 * ```ts ignore
 * const scored = alignLabels(ds.validation, model, "data/beans");
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
    throw new UsageError(
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

/** The task: flags and what it does. */
export const EVALUATE_CLI = defineCli({
  name: "evaluate",
  usage: `usage: deno task evaluate --model DIR --data DIR [--split validation] [--json]
                          [--batch-size 8]

Evaluates a saved model (config.json, model.safetensors, preprocessor_config.json) on a split of
an ImageFolder or a Hub parquet download: loss, accuracy, per-class precision/recall/F1.`,
  flags: {
    model: { type: "string", required: true, value: "DIR", help: "the model folder" },
    data: {
      type: "string",
      required: true,
      value: "DIR",
      help: "an ImageFolder or a Hub parquet download",
    },
    split: { type: "string", default: "validation", value: "NAME", help: "the split to score" },
    json: { type: "boolean", help: "print one JSON object on stdout" },
    "batch-size": { type: "number", integer: true, min: 1, default: 8, value: "N" },
  },
  init,
  main: async ({ values }) => {
    // Hub ids become cached snapshot folders (a separate, network-only step).
    const modelDir = (await resolveHubArg(values.model, "model"))!;
    const { model, processor } = await loadModelFolder(modelDir, {
      log: (m) => console.warn(m),
    });
    const dataDir = (await resolveHubArg(values.data, "dataset"))!;
    const ds = await loadDataset(dataDir, { log: (m) => console.warn(m) });
    const split = ds[values.split];
    if (!split) {
      throw new UsageError(
        `${values.data} has no split '${values.split}' (splits: ${Object.keys(ds).join(", ")})`,
      );
    }
    const trainer = new Trainer({
      model,
      processor,
      args: makeTrainingArguments({
        perDeviceEvalBatchSize: values["batch-size"],
        reportTo: "none",
        outputDir: ".cache/eval",
      }),
      evalDataset: alignLabels(split, model, dataDir),
      log: values.json ? () => {} : (l) => console.warn(l),
    });
    const { metrics, confusionMatrix } = await trainer.evaluate(undefined, values.split);
    const out: Record<string, unknown> = { ...metrics };
    delete out.epoch;
    out[`${values.split}_confusion_matrix`] = confusionMatrix;
    out[`${values.split}_samples`] = split.length;
    if (values.json) console.log(JSON.stringify(out));
    else {
      console.log(`***** ${values.split} metrics *****`);
      for (const [k, v] of Object.entries(out)) {
        console.log(`  ${k.padEnd(34)} = ${JSON.stringify(v)}`);
      }
    }
  },
});

if (import.meta.main) await runCli(EVALUATE_CLI);
