/**
 * `deno task train`: the blog's fine-tuning run. With no arguments it fine-tunes the bundled
 * pretrained small ViT on the generated beans-like dataset (made on first use) with the blog's
 * hyper-parameters and writes to ./vit-base-beans-demo.
 *
 * @module
 */

import { loadDataset } from "../data/parquet.ts";
import type { ImageProcessor } from "../data/image_processor.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import type { Dataset, ImageExample } from "../data/dataset.ts";
import { ensureWritableDir, exists, joinPath, readJson } from "../io/files.ts";
import { makeViTConfig, type ViTConfig } from "../models/vit/config.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { describeAdapter, gpu } from "../tensor/device.ts";
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
import { listCheckpoints } from "../train/checkpoint.ts";
import { writePlots } from "../train/plots.ts";
import { Progress } from "../train/progress.ts";
import { Trainer } from "../train/trainer.ts";
import { DEFAULT_BEANS_DIR, makeBeans } from "../demo/make_beans.ts";
import { loadModelFolder } from "./_model_folder.ts";
import { type CliArgs, defineCli, runCli, UsageError } from "./_run.ts";
import { PEFT_FLAGS } from "./_flags.ts";
import { prepareParameterEfficient } from "../train/parameter_efficient.ts";
import type { PreTrainedModel } from "../nn/pretrained.ts";

/** The pretrained model the default run fine-tunes. */
export const BUNDLED_MODEL_DIR = new URL("../models/vit-tiny-contours", import.meta.url).pathname;

/** A small config for training from scratch when no model is given and none is bundled. */
export const DEMO_CONFIG: Record<string, unknown> = {
  hidden_size: 128,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  intermediate_size: 256,
  image_size: 96,
  patch_size: 12,
};

const USAGE = `usage: deno task train [--data DIR] [--model DIR] [--config CONFIG.json]
                       [--output-dir DIR] [TrainingArguments flags…]

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
    value: "DIR",
    help: "an ImageFolder (split/class/*.jpg) or a Hub parquet download\n" +
      `(default: a generated beans-like dataset in ${DEFAULT_BEANS_DIR}, made on first use)`,
  },
  model: {
    type: "string",
    value: "DIR",
    help: "a Hugging Face model folder (config.json, model.safetensors) to fine-tune;\n" +
      "the head is re-initialised for the dataset's labels\n" +
      "(default: the bundled pretrained model, models/vit-tiny-contours)",
  },
  config: { type: "string", value: "FILE", help: "a config.json to train from scratch instead" },
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
  if (values.model && values.config) throw new UsageError("give --model or --config, not both");

  console.log(`adapter: ${describeAdapter()}`);
  if (args.fp16) {
    if (gpu().profile.f16) {
      console.log(
        "fp16: f16 matmuls with f32 accumulation and master weights, dynamic loss scaling",
      );
    } else console.warn("fp16: this adapter has no shader-f16; training in f32 instead");
  }

  let dataDir = values.data;
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
  const labels = train.labels;
  console.log(
    `data: ${dataDir}: ` +
      Object.entries(ds).map(([k, v]) => `${k} ${v.length}`).join(", ") +
      `; classes: ${labels.names.join(", ")}`,
  );

  let model: ImageClassifier;
  let processor: ImageProcessor;
  const modelDir = values.model ??
    (!values.config && await exists(joinPath(BUNDLED_MODEL_DIR, "config.json"))
      ? BUNDLED_MODEL_DIR
      : undefined);
  if (modelDir) {
    ({ model, processor } = await loadModelFolder(modelDir, {
      id2label: labels.id2label(),
      label2id: labels.label2id(),
      seed: args.seed,
    }));
    console.log(`model: ${modelDir} (${(model.numParameters() / 1e6).toFixed(2)}M parameters)`);
  } else {
    let fields: Record<string, unknown> = DEMO_CONFIG;
    if (values.config) fields = await readJson(values.config) as Record<string, unknown>;
    else console.warn("no --model given and no bundled model found: training from scratch");
    const config: ViTConfig = makeViTConfig(
      { ...fields, id2label: labels.id2label(), label2id: labels.label2id() },
      values.config ?? "demo config",
    );
    model = new ViTForImageClassification(config, args.seed);
    processor = new ViTImageProcessor({ size: config.image_size });
    console.log(`model: from scratch (${(model.numParameters() / 1e6).toFixed(2)}M parameters)`);
  }

  const list = (v: string) => v.split(",").map((t) => t.trim()).filter((t) => t !== "");
  try {
    console.log(prepareParameterEfficient(model as unknown as PreTrainedModel, {
      peft: values.peft === "lora" ? "lora" : null,
      loraR: values["lora-r"],
      loraAlpha: values["lora-alpha"],
      loraDropout: values["lora-dropout"],
      loraTargetModules: list(values["lora-target-modules"]),
      modulesToSave: list(values["modules-to-save"]),
      freezeBackbone: values["freeze-backbone"],
      gradientCheckpointing: values["gradient-checkpointing"],
      baseModelNameOrPath: modelDir ?? null,
      seed: args.seed,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  await ensureWritableDir(args.outputDir);
  if (!args.resumeFromCheckpoint && !args.overwriteOutputDir) {
    const existing = await listCheckpoints(args.outputDir);
    if (existing.length > 0) {
      throw new UsageError(
        `${args.outputDir} already has checkpoints (${
          existing.map((d) => d.split("/").pop()).join(", ")
        }); ` +
          "pass --resume-from-checkpoint to continue, --overwrite-output-dir to train anew beside " +
          "them, or another --output-dir",
      );
    }
  }

  const encoder = new TextEncoder();
  const progress = new Progress({
    isTerminal: Deno.stdout.isTerminal(),
    write: (text) => Deno.stdout.writeSync(encoder.encode(text)),
  });
  const trainer = new Trainer({
    model,
    args,
    processor,
    trainDataset: train,
    evalDataset: evalSet,
    log: (line) => progress.log(line),
    onProgress: (p) => progress.update(p),
    hostname: Deno.hostname(),
  });
  const onSigint = () => {
    progress.log("interrupt: finishing this step, then saving a checkpoint…");
    trainer.requestStop();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const t0 = performance.now();
  let result;
  try {
    result = await trainer.train();
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    progress.done();
  }
  if (trainer.state.global_step < trainer.state.max_steps) {
    trainer.close();
    return 130;
  }
  console.log("***** train metrics *****");
  for (const [k, v] of Object.entries(result.metrics)) console.log(`  ${k.padEnd(26)} = ${v}`);
  await trainer.saveModel();
  await trainer.saveMetrics("train", result.metrics);
  await trainer.saveState();
  let evalMetrics: Record<string, number> | null = null;
  let confusionMatrix: number[][] | null = null;
  if (evalSet) {
    ({ metrics: evalMetrics, confusionMatrix } = await trainer.evaluate(evalSet));
    console.log("***** eval metrics *****");
    for (const [k, v] of Object.entries(evalMetrics)) {
      if (!/_(precision|recall|f1)_/.test(k)) console.log(`  ${k.padEnd(26)} = ${v}`);
    }
    await trainer.saveMetrics("eval", evalMetrics);
    await trainer.saveState();
  }
  const plots = await writePlots(
    args.outputDir,
    trainer.state,
    confusionMatrix,
    labels.names,
  );
  trainer.close();
  const minutes = (performance.now() - t0) / 60000;
  console.log(
    `\ndone in ${minutes.toFixed(1)} min: ` +
      (evalMetrics ? `eval accuracy ${(evalMetrics.eval_accuracy * 100).toFixed(1)}%, ` : "") +
      `model saved to ${args.outputDir} (plots: ${plots.join(", ")}); ` +
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
