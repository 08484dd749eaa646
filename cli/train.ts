/**
 * `deno task train`: the blog's fine-tuning run. With no arguments it fine-tunes the bundled
 * pretrained small ViT on the generated beans-like dataset (made on first use) with the blog's
 * hyper-parameters and writes to ./vit-base-beans-demo.
 *
 * @module
 */

import { loadDataset } from "../data/parquet.ts";
import type { Dataset, ImageExample } from "../data/dataset.ts";
import { exists, joinPath } from "../io/files.ts";
import { describeAdapter } from "../tensor/device.ts";
import { engine } from "../tensor/engine.ts";
import { init } from "../tensor/runtime.ts";
import {
  ArgumentError,
  BLOG_ARGUMENTS,
  kebab,
  makeTrainingArguments,
  parseTrainingFlags,
  TRAINING_DEFAULTS,
  type TrainingArguments,
} from "../train/args.ts";
import { fineTune } from "../train/fine_tune.ts";
import { Progress } from "../train/progress.ts";
import { DEFAULT_BEANS_DIR, makeBeans } from "../demo/make_beans.ts";
import { BUNDLED_MODEL_DIR } from "../demo/config.ts";
import { DATA_REVISION_FLAG, MODEL_REVISION_FLAG, resolveHubArg } from "./_hub.ts";
import { type CliArgs, defineCli, runCli, UsageError } from "./_run.ts";
import { PEFT_FLAGS } from "./_flags.ts";

const USAGE = `usage: deno task train [--data DIR|ID] [--model DIR|ID] [--output-dir DIR]
                       [--revision REV] [--data-revision REV] [TrainingArguments flags…]

Fine-tunes a ViT for image classification, as Hugging Face's Trainer does in the blog
"Fine-Tune ViT for Image Classification with 🤗 Transformers".`;

const TRAINING_HELP = "TrainingArguments (kebab-case of Hugging Face's names; defaults are the " +
  "blog's):\n" +
  Object.keys(TRAINING_DEFAULTS).map((k) => {
    const v = (BLOG_ARGUMENTS as Record<string, unknown>)[k] ??
      (TRAINING_DEFAULTS as unknown as Record<string, unknown>)[k];
    return `  --${kebab(k)}${" ".repeat(Math.max(1, 32 - kebab(k).length))}${JSON.stringify(v)}`;
  }).join("\n");

function pickEval(ds: Record<string, Dataset<ImageExample>>): Dataset<ImageExample> | undefined {
  return ds.validation ?? ds.test;
}

/** The task's own flags; the TrainingArguments flags are {@link trainingArguments}'. */
const FLAGS = {
  data: {
    type: "string",
    value: "DIR|ID",
    help: "an ImageFolder (split/class/*.jpg), a Hub parquet download, or a Hub dataset id\n" +
      `(default: a generated beans-like dataset in ${DEFAULT_BEANS_DIR}, made on first use)`,
  },
  model: {
    type: "string",
    value: "DIR|ID",
    help: "a Hugging Face model folder (config.json, model.safetensors) or Hub id to fine-tune;\n" +
      "the head is re-initialised for the dataset's labels\n" +
      "(default: the bundled pretrained model, models/vit-tiny-contours)",
  },
  revision: MODEL_REVISION_FLAG,
  "data-revision": DATA_REVISION_FLAG,
  ...PEFT_FLAGS,
} as const;

/** The blog's TrainingArguments with the flags given over them, or a usage error. */
function trainingArguments(argv: readonly string[]): TrainingArguments {
  try {
    return makeTrainingArguments({ ...BLOG_ARGUMENTS, ...parseTrainingFlags(argv).args });
  } catch (error) {
    if (error instanceof ArgumentError) throw new UsageError(error.message);
    throw error;
  }
}

async function main(
  { values, more: args }: CliArgs<typeof FLAGS, TrainingArguments>,
): Promise<number> {
  console.log(`adapter: ${describeAdapter()}`);

  // Hub ids become cached snapshot folders (a separate, network-only step).
  if (values.revision !== undefined && values.model === undefined) {
    throw new UsageError("--revision names a revision of the --model Hub id: give --model too");
  }
  if (values["data-revision"] !== undefined && values.data === undefined) {
    throw new UsageError("--data-revision names a revision of the --data Hub id: give --data too");
  }
  let dataDir = await resolveHubArg(values.data, "dataset", values["data-revision"]);
  if (!dataDir) {
    dataDir = DEFAULT_BEANS_DIR;
    if (!(await exists(dataDir))) {
      console.log(`making the generated beans-like dataset in ${dataDir} (first use)…`);
      await makeBeans(dataDir, { log: console.log });
    }
  }
  const ds = await loadDataset(dataDir);
  const train = ds.train;
  if (!train) {
    throw new UsageError(`${dataDir} has no train split (splits: ${Object.keys(ds).join(", ")})`);
  }
  const evalSet = pickEval(ds);
  if (args.evalStrategy !== "no" && !evalSet) {
    throw new UsageError(`${dataDir} has no validation or test split to evaluate on`);
  }
  console.log(
    `data: ${dataDir}: ` +
      Object.entries(ds).map(([k, v]) => `${k} ${v.length}`).join(", ") +
      `; classes: ${train.labels.names.join(", ")}`,
  );
  const model = await resolveHubArg(values.model, "model", values.revision) ??
    BUNDLED_MODEL_DIR;
  if (!values.model && !(await exists(joinPath(BUNDLED_MODEL_DIR, "config.json")))) {
    throw new UsageError(`the bundled model ${BUNDLED_MODEL_DIR} is missing: give --model DIR`);
  }

  const list = (v: string) => v.split(",").map((t) => t.trim()).filter((t) => t !== "");
  const encoder = new TextEncoder();
  const progress = new Progress({
    isTerminal: Deno.stdout.isTerminal(),
    write: (text) => Deno.stdout.writeSync(encoder.encode(text)),
  });
  const interrupt = new AbortController();
  const onSigint = () => {
    progress.log("interrupt: finishing this step, then saving a checkpoint…");
    interrupt.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const t0 = performance.now();
  let result;
  try {
    result = await fineTune({
      model,
      args,
      trainDataset: train,
      evalDataset: evalSet,
      log: (line) => progress.log(line),
      onProgress: (p) => progress.update(p),
      callbacks: [{ onTrainEnd: () => progress.done() }],
      signal: interrupt.signal,
      hostname: Deno.hostname(),
      parameterEfficient: {
        peft: values.peft === "lora" ? "lora" : null,
        loraR: values["lora-r"],
        loraAlpha: values["lora-alpha"],
        loraDropout: values["lora-dropout"],
        loraTargetModules: list(values["lora-target-modules"]),
        modulesToSave: list(values["modules-to-save"]),
        freezeBackbone: values["freeze-backbone"],
        gradientCheckpointing: values["gradient-checkpointing"],
      },
    });
  } catch (error) {
    // The output folder's checkpoints: the user's choice of flags, as a usage error.
    if (error instanceof ArgumentError) throw new UsageError(error.message);
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    progress.done();
  }
  if (result.stopped) return 130;
  const minutes = (performance.now() - t0) / 60000;
  const accuracy = result.evalMetrics?.eval_accuracy;
  console.log(
    `\ndone in ${minutes.toFixed(1)} min: ` +
      (accuracy !== undefined ? `eval accuracy ${(accuracy * 100).toFixed(1)}%, ` : "") +
      `model saved to ${args.outputDir} (plots: ${result.plots.join(", ")}); ` +
      `peak GPU pool ${(engine().pool.stats.peakBytesInUse / 2 ** 20).toFixed(0)} MiB`,
  );
  return 0;
}

/** The task: flags and what it does. */
export const TRAIN_CLI = defineCli({
  name: "train",
  usage: USAGE,
  flags: FLAGS,
  more: { help: TRAINING_HELP, parse: trainingArguments },
  init,
  main,
});

if (import.meta.main) await runCli(TRAIN_CLI);
