/**
 * `deno task evaluate --model DIR --data DIR [--split validation|test] [--json]`: evaluates a
 * saved model on a dataset split. With `--json`, stdout is exactly one JSON object whose keys
 * carry the split as prefix (`test_accuracy`, `test_loss`, …), as Transformers does.
 *
 * @module
 */

import "../io/wide_simd.ts"; // before the device is acquired: Mesa reads the width once
import { parseArgs } from "node:util";
import { loadDataset } from "../data/parquet.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { ClassLabel, Dataset, type ImageExample } from "../data/dataset.ts";
import { exists, joinPath } from "../io/files.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import { ViTForImageClassification } from "../nn/vit.ts";
import { makeTrainingArguments } from "../train/args.ts";
import { Trainer } from "../train/trainer.ts";
import { runCli, UsageError } from "./_run.ts";

const USAGE = `usage: deno task evaluate --model DIR --data DIR [--split validation] [--json]
                          [--batch-size 8]

Evaluates a saved model (config.json, model.safetensors, preprocessor_config.json) on a split of
an ImageFolder or a Hub parquet download: loss, accuracy, per-class precision/recall/F1.`;

/** Loads a model folder and its processor. */
export async function loadModelDir(
  dir: string,
): Promise<{ model: ImageClassifier; processor: ViTImageProcessor }> {
  const model = await ViTForImageClassification.fromPretrained(dir, {
    log: (m) => console.warn(m),
  });
  const processor = await exists(joinPath(dir, "preprocessor_config.json"))
    ? await ViTImageProcessor.fromPretrained(dir)
    : new ViTImageProcessor({ size: model.config.image_size });
  return { model, processor };
}

/** Re-indexes a dataset's labels to the model's, by class name. */
export function alignLabels(
  split: Dataset<ImageExample>,
  model: ImageClassifier,
  where: string,
): Dataset<ImageExample> {
  const modelNames = Object.keys(model.config.id2label).sort((a, b) => Number(a) - Number(b))
    .map((k) => model.config.id2label[k]);
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

if (import.meta.main) {
  await runCli("evaluate", async () => {
    const { values } = parseArgs({
      args: Deno.args.filter((a) => a !== "--debug"),
      options: {
        model: { type: "string" },
        data: { type: "string" },
        split: { type: "string", default: "validation" },
        json: { type: "boolean", default: false },
        "batch-size": { type: "string", default: "8" },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.model) throw new UsageError("--model DIR is required");
    if (!values.data) throw new UsageError("--data DIR is required");
    const batch = Number(values["batch-size"]);
    if (!Number.isInteger(batch) || batch < 1) throw new UsageError("--batch-size must be ≥ 1");
    const { model, processor } = await loadModelDir(values.model);
    const ds = await loadDataset(values.data, { log: (m) => console.warn(m) });
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
        perDeviceEvalBatchSize: batch,
        reportTo: "none",
        outputDir: ".cache/eval",
      }),
      evalDataset: alignLabels(split, model, values.data),
      log: values.json ? () => {} : (l) => console.warn(l),
    });
    const metrics = await trainer.evaluate(undefined, values.split);
    const out: Record<string, unknown> = { ...metrics };
    delete out.epoch;
    out[`${values.split}_confusion_matrix`] = trainer.lastConfusionMatrix;
    out[`${values.split}_samples`] = split.length;
    if (values.json) console.log(JSON.stringify(out));
    else {
      console.log(`***** ${values.split} metrics *****`);
      for (const [k, v] of Object.entries(out)) {
        console.log(`  ${k.padEnd(34)} = ${JSON.stringify(v)}`);
      }
    }
  });
}
