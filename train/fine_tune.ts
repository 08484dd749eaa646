/**
 * The train sequence, shared by `deno task train` and the page: load a pretrained model folder
 * with a new head for the dataset's labels, train with the Trainer, save the model, its
 * processor, the metrics and the state, evaluate, and draw the plots, as the blog's notebook
 * does with Transformers.
 *
 * @module
 */

import type { Dataset, ImageExample } from "../data/dataset.ts";
import { ensureWritableDir } from "../io/files.ts";
import { ArgumentError, type TrainingArguments } from "./args.ts";
import type { TrainerCallback } from "./callbacks.ts";
import { listCheckpoints } from "./checkpoint.ts";
import { loadModelFolder, type ModelFolder } from "./model_folder.ts";
import {
  type ParameterEfficientOptions,
  prepareParameterEfficient,
} from "./parameter_efficient.ts";
import type { PreTrainedModel } from "../nn/pretrained.ts";
import { writePlots } from "./plots.ts";
import type { TrainerState } from "./state.ts";
import { type ProgressInfo, Trainer } from "./trainer.ts";
import type { PhaseSpans } from "./phase_timer.ts";

/** Options of {@link fineTune}. */
export interface FineTuneOptions {
  /**
   * The pretrained model: a model folder's path (its head is re-initialised for the training
   * set's labels), or a model already loaded with those labels (to resume it in place).
   */
  model: string | ModelFolder;
  /** Training arguments (validated, from `makeTrainingArguments`). */
  args: TrainingArguments;
  /** Training rows; their labels name the new head's classes. */
  trainDataset: Dataset<ImageExample>;
  /** Evaluation rows (required unless `args.evalStrategy` is "no"). */
  evalDataset?: Dataset<ImageExample>;
  /** Receives each log line and the metric tables (console.log by default). */
  log?: (line: string) => void;
  /** Receives step progress (for a progress bar). */
  onProgress?: (p: ProgressInfo) => void;
  /** Trainer callbacks (live charts, checkpoints). */
  callbacks?: TrainerCallback[];
  /** Aborting it stops training after the current step, with a checkpoint. */
  signal?: AbortSignal;
  /** Host name for TensorBoard's folder and file names. */
  hostname?: string;
  /** Write the PNG plots into the output folder (true by default). */
  plots?: boolean;
  /**
   * LoRA, a frozen backbone or gradient checkpointing, applied to the loaded model (its seed is
   * `args.seed`; adapter_config.json names the model folder); PEFT's trainable-parameter line is
   * logged.
   */
  parameterEfficient?: Omit<ParameterEfficientOptions, "seed" | "baseModelNameOrPath">;
  /** Receives the run's phases for profiling (`deno task bench --e2e`); none by default. */
  phases?: PhaseSpans;
}

/** What {@link fineTune} returns. */
export interface FineTuneResult {
  /** The trained model (the best checkpoint's with `loadBestModelAtEnd`) and its processor. */
  model: ModelFolder["model"];
  /** Its processor. */
  processor: ModelFolder["processor"];
  /** The Trainer's state when it ended. */
  state: TrainerState;
  /** True when training was stopped (by the signal or a callback) before its last step. */
  stopped: boolean;
  /** train_runtime, train_loss, …; empty when stopped. */
  trainMetrics: Record<string, number>;
  /** eval_accuracy, eval_loss, …; null when stopped or without an evaluation set. */
  evalMetrics: Record<string, number> | null;
  /** The final evaluation's confusion matrix (rows: true class); null as evalMetrics. */
  confusionMatrix: number[][] | null;
  /** The plot files written. */
  plots: string[];
}

/** "  key = value" lines, as Transformers' `Trainer.log_metrics`. */
function metricLines(split: string, metrics: Record<string, number>): string[] {
  return [
    `***** ${split} metrics *****`,
    ...Object.entries(metrics)
      .filter(([k]) => !/_(precision|recall|f1)_/.test(k))
      .map(([k, v]) => `  ${k.padEnd(26)} = ${v}`),
  ];
}

/**
 * Fine-tunes a pretrained image classifier on a dataset and writes what Transformers' Trainer
 * leaves behind in `args.outputDir`: `checkpoint-N/` folders, config.json, model.safetensors,
 * preprocessor_config.json, training_args.json, train/eval/all_results.json,
 * trainer_state.json, TensorBoard events (with `reportTo: "tensorboard"`) and PNG plots.
 *
 * A folder that already has checkpoints is refused unless `args.resumeFromCheckpoint` (continue
 * from them) or `args.overwriteOutputDir` is set. Files go through the file layer
 * (`useFileSystem`), so this runs in Deno and in a browser worker alike.
 *
 * @param options The model, arguments, datasets, logger, callbacks and stop signal.
 * @returns The trained model, its state, the final metrics and the plots written.
 * @throws {ArgumentError} When the output folder has checkpoints, or evaluation has no rows.
 * @throws {FileError|ConfigError|SafetensorsError|CheckpointError} Naming the model's file.
 * @example
 * ```ts ignore
 * import {
 *   BLOG_ARGUMENTS, fineTune, init, loadDataset, makeTrainingArguments,
 * } from "@tessera/vit";
 * await init();
 * const ds = await loadDataset("beans");
 * const result = await fineTune({
 *   model: "vit-in21k",
 *   args: makeTrainingArguments({ ...BLOG_ARGUMENTS, outputDir: "vit-base-beans-demo" }),
 *   trainDataset: ds.train,
 *   evalDataset: ds.validation,
 * });
 * console.log(result.evalMetrics?.eval_accuracy);
 * ```
 */
export async function fineTune(options: FineTuneOptions): Promise<FineTuneResult> {
  const { args, trainDataset: train, evalDataset } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  if (args.evalStrategy !== "no" && !evalDataset) {
    throw new ArgumentError(`eval-strategy ${args.evalStrategy} needs an evaluation dataset`);
  }
  const labels = train.labels;
  let loaded: ModelFolder;
  const phases = options.phases;
  if (typeof options.model === "string") {
    await phases?.begin("start-up: load model");
    loaded = await loadModelFolder(options.model, {
      id2label: labels.id2label(),
      label2id: labels.label2id(),
      seed: args.seed,
    });
    log(
      `model: ${options.model} ` +
        `(${(loaded.model.numParameters() / 1e6).toFixed(2)}M parameters)`,
    );
    await phases?.end();
  } else loaded = options.model;
  const { model, processor } = loaded;
  if (options.parameterEfficient) {
    try {
      log(prepareParameterEfficient(model as unknown as PreTrainedModel, {
        ...options.parameterEfficient,
        baseModelNameOrPath: typeof options.model === "string" ? options.model : null,
        seed: args.seed,
      }));
    } catch (error) {
      // LoRA with a frozen backbone, or a target no module matches: the caller's choice.
      throw new ArgumentError((error as Error).message);
    }
  }

  await ensureWritableDir(args.outputDir);
  if (!args.resumeFromCheckpoint && !args.overwriteOutputDir) {
    const existing = await listCheckpoints(args.outputDir);
    if (existing.length > 0) {
      throw new ArgumentError(
        `${args.outputDir} already has checkpoints (${
          existing.map((d) => d.split("/").pop()).join(", ")
        }); pass --resume-from-checkpoint to continue, --overwrite-output-dir to train anew ` +
          "beside them, or another --output-dir",
      );
    }
  }

  const trainer = new Trainer({
    model,
    args,
    processor,
    trainDataset: train,
    evalDataset,
    log,
    onProgress: options.onProgress,
    callbacks: options.callbacks,
    hostname: options.hostname,
    phases,
  });
  const stop = () => trainer.requestStop();
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop);
  let result;
  try {
    result = await trainer.train();
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }
  const done = { model, processor, state: trainer.state };
  if (trainer.state.global_step < trainer.state.max_steps) {
    trainer.close();
    return {
      ...done,
      stopped: true,
      trainMetrics: {},
      evalMetrics: null,
      confusionMatrix: null,
      plots: [],
    };
  }
  try {
    for (const line of metricLines("train", result.metrics)) log(line);
    await trainer.saveModel();
    await trainer.saveMetrics("train", result.metrics);
    await trainer.saveState();
    let evalMetrics: Record<string, number> | null = null;
    let confusionMatrix: number[][] | null = null;
    if (evalDataset) {
      ({ metrics: evalMetrics, confusionMatrix } = await trainer.evaluate(evalDataset));
      for (const line of metricLines("eval", evalMetrics)) log(line);
      await trainer.saveMetrics("eval", evalMetrics);
      await trainer.saveState();
    }
    await phases?.begin("plots");
    const plots = options.plots === false
      ? []
      : await writePlots(args.outputDir, trainer.state, confusionMatrix, labels.names);
    await phases?.end();
    return {
      ...done,
      stopped: false,
      trainMetrics: result.metrics,
      evalMetrics,
      confusionMatrix,
      plots,
    };
  } finally {
    trainer.close();
  }
}
