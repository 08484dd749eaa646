/**
 * TrainingArguments with Hugging Face's names (camelCase here, kebab-case as CLI flags) and
 * defaults, validated together as `TrainingArguments.__post_init__` does.
 *
 * @module
 */

/** Evaluation, saving and logging strategies. */
export type IntervalStrategy = "no" | "steps" | "epoch";

/** Learning-rate schedules. */
export type SchedulerType = "linear" | "cosine" | "constant" | "constant_with_warmup";

/** Hugging Face's TrainingArguments, the subset Tessera implements. */
export interface TrainingArguments {
  /** Where checkpoints, logs and the final model go. */
  outputDir: string;
  /** Training batch size. */
  perDeviceTrainBatchSize: number;
  /** Evaluation batch size. */
  perDeviceEvalBatchSize: number;
  /** Epochs (ignored when maxSteps > 0). */
  numTrainEpochs: number;
  /** Total optimiser steps; -1 derives them from the epochs. */
  maxSteps: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Decoupled weight decay (biases and LayerNorm weights are exempt). */
  weightDecay: number;
  /** AdamW beta1. */
  adamBeta1: number;
  /** AdamW beta2. */
  adamBeta2: number;
  /** AdamW epsilon. */
  adamEpsilon: number;
  /** Linear warmup steps (overrides warmupRatio when > 0). */
  warmupSteps: number;
  /** Warmup as a fraction of the total steps. */
  warmupRatio: number;
  /** Schedule after warmup. */
  lrSchedulerType: SchedulerType;
  /** Global gradient-norm clip (0 disables). */
  maxGradNorm: number;
  /** Micro-batches per optimiser step. */
  gradientAccumulationSteps: number;
  /** When to evaluate. */
  evalStrategy: IntervalStrategy;
  /** Evaluate every this many steps (defaults to loggingSteps). */
  evalSteps: number | null;
  /** When to save checkpoints. */
  saveStrategy: IntervalStrategy;
  /** Save every this many steps. */
  saveSteps: number;
  /** When to log. */
  loggingStrategy: IntervalStrategy;
  /** Log every this many steps. */
  loggingSteps: number;
  /** Keep at most this many checkpoints (the best is never deleted); null keeps all. */
  saveTotalLimit: number | null;
  /** Reload the best checkpoint when training ends. */
  loadBestModelAtEnd: boolean;
  /** Metric that picks the best checkpoint ("loss" by default, "accuracy", …). */
  metricForBestModel: string | null;
  /** Whether a larger metric is better (defaults by metric: false for loss). */
  greaterIsBetter: boolean | null;
  /** Seed of initialisation, shuffling, dropout and augmentation. */
  seed: number;
  /** Mixed precision with dynamic loss scaling. */
  fp16: boolean;
  /** "tensorboard" or "none". */
  reportTo: "tensorboard" | "none";
  /** TensorBoard folder (defaults to outputDir/runs/<date>_<host>). */
  loggingDir: string | null;
  /** Resume from this checkpoint, or the latest in outputDir when true. */
  resumeFromCheckpoint: string | boolean | null;
  /** Data-loading worker threads. */
  dataloaderNumWorkers: number;
  /** Drop the last incomplete training batch. */
  dataloaderDropLast: boolean;
  /** Write outputDir even if it already has checkpoints (they are kept; new ones are added). */
  overwriteOutputDir: boolean;
  /** Apply RandomResizedCrop and flips to training images. */
  augment: boolean;
}

/** Hugging Face's defaults. */
export const TRAINING_DEFAULTS: Readonly<TrainingArguments> = Object.freeze({
  outputDir: "trainer_output",
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  numTrainEpochs: 3,
  maxSteps: -1,
  learningRate: 5e-5,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  warmupSteps: 0,
  warmupRatio: 0,
  lrSchedulerType: "linear",
  maxGradNorm: 1,
  gradientAccumulationSteps: 1,
  evalStrategy: "no",
  evalSteps: null,
  saveStrategy: "steps",
  saveSteps: 500,
  loggingStrategy: "steps",
  loggingSteps: 500,
  saveTotalLimit: null,
  loadBestModelAtEnd: false,
  metricForBestModel: null,
  greaterIsBetter: null,
  seed: 42,
  fp16: false,
  reportTo: "tensorboard",
  loggingDir: null,
  resumeFromCheckpoint: null,
  dataloaderNumWorkers: 2,
  dataloaderDropLast: false,
  overwriteOutputDir: false,
  augment: false,
});

/** The blog's arguments: batch 16, 2 epochs, lr 2e-4, fp16, eval/save every 100 steps, … */
export const BLOG_ARGUMENTS: Partial<TrainingArguments> = Object.freeze({
  outputDir: "./vit-base-beans-demo",
  perDeviceTrainBatchSize: 16,
  evalStrategy: "steps",
  numTrainEpochs: 2,
  fp16: true,
  saveSteps: 100,
  evalSteps: 100,
  loggingSteps: 10,
  learningRate: 2e-4,
  saveTotalLimit: 2,
  reportTo: "tensorboard",
  loadBestModelAtEnd: true,
});

/** An argument that is out of range or inconsistent with another. */
export class ArgumentError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong, naming the argument.
   */
  constructor(message: string) {
    super(message);
    this.name = "ArgumentError";
  }
}

/**
 * Fills defaults and checks the arguments as Transformers does.
 *
 * @param overrides The arguments given.
 * @returns Complete, validated arguments.
 * @throws {ArgumentError} Naming the bad argument.
 * @example
 * ```ts
 * import { makeTrainingArguments } from "./args.ts";
 * const args = makeTrainingArguments({ evalStrategy: "steps", loggingSteps: 10 });
 * console.log(args.evalSteps); // 10
 * ```
 */
export function makeTrainingArguments(
  overrides: Partial<TrainingArguments> = {},
): TrainingArguments {
  const a: TrainingArguments = { ...TRAINING_DEFAULTS, ...overrides };
  const positiveInt = (name: keyof TrainingArguments) => {
    const v = a[name];
    if (!Number.isInteger(v) || (v as number) < 1) {
      throw new ArgumentError(`${kebab(name)} must be a positive integer, got ${v}`);
    }
  };
  positiveInt("perDeviceTrainBatchSize");
  positiveInt("perDeviceEvalBatchSize");
  positiveInt("gradientAccumulationSteps");
  positiveInt("loggingSteps");
  positiveInt("saveSteps");
  if (!(a.learningRate > 0)) {
    throw new ArgumentError(`learning-rate must be positive, got ${a.learningRate}`);
  }
  if (!(a.numTrainEpochs > 0) && a.maxSteps <= 0) {
    throw new ArgumentError("num-train-epochs must be positive when max-steps is not set");
  }
  if (!Number.isInteger(a.maxSteps)) throw new ArgumentError("max-steps must be an integer");
  if (a.warmupRatio < 0 || a.warmupRatio > 1) {
    throw new ArgumentError("warmup-ratio must be in [0, 1]");
  }
  if (!Number.isInteger(a.warmupSteps) || a.warmupSteps < 0) {
    throw new ArgumentError("warmup-steps must be a non-negative integer");
  }
  if (a.weightDecay < 0) throw new ArgumentError("weight-decay must be non-negative");
  if (a.maxGradNorm < 0) throw new ArgumentError("max-grad-norm must be non-negative");
  for (const key of ["evalStrategy", "saveStrategy", "loggingStrategy"] as const) {
    if (!["no", "steps", "epoch"].includes(a[key])) {
      throw new ArgumentError(`${kebab(key)} must be no, steps or epoch, got ${a[key]}`);
    }
  }
  if (!["linear", "cosine", "constant", "constant_with_warmup"].includes(a.lrSchedulerType)) {
    throw new ArgumentError(`lr-scheduler-type ${a.lrSchedulerType} is not supported`);
  }
  if (!["tensorboard", "none"].includes(a.reportTo)) {
    throw new ArgumentError(`report-to must be tensorboard or none, got ${a.reportTo}`);
  }
  if (a.evalStrategy === "steps") {
    a.evalSteps ??= a.loggingSteps;
    if (!Number.isInteger(a.evalSteps) || a.evalSteps < 1) {
      throw new ArgumentError("eval-steps must be a positive integer");
    }
  }
  if (a.saveTotalLimit !== null && (!Number.isInteger(a.saveTotalLimit) || a.saveTotalLimit < 1)) {
    throw new ArgumentError("save-total-limit must be a positive integer");
  }
  if (a.loadBestModelAtEnd) {
    if (a.evalStrategy === "no") {
      throw new ArgumentError("load-best-model-at-end needs an eval-strategy other than no");
    }
    if (a.saveStrategy !== a.evalStrategy) {
      throw new ArgumentError(
        `load-best-model-at-end needs save-strategy (${a.saveStrategy}) to match ` +
          `eval-strategy (${a.evalStrategy})`,
      );
    }
    if (a.evalStrategy === "steps" && a.saveSteps % a.evalSteps! !== 0) {
      throw new ArgumentError(
        `load-best-model-at-end needs save-steps (${a.saveSteps}) to be a multiple of ` +
          `eval-steps (${a.evalSteps})`,
      );
    }
    a.metricForBestModel ??= "loss";
  }
  if (a.metricForBestModel !== null) {
    a.metricForBestModel = a.metricForBestModel.replace(/^eval_/, "");
    a.greaterIsBetter ??= !["loss"].includes(a.metricForBestModel);
  }
  if (!Number.isInteger(a.dataloaderNumWorkers) || a.dataloaderNumWorkers < 0) {
    throw new ArgumentError("dataloader-num-workers must be a non-negative integer");
  }
  return a;
}

/** camelCase → kebab-case (`perDeviceTrainBatchSize` → `per-device-train-batch-size`). */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** kebab-case → camelCase. */
export function camel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
}

/**
 * Transformers' name for each of Tessera's arguments (v4.51's `TrainingArguments` dataclass),
 * or null for Tessera's own (`augment`, which Transformers does with dataset transforms).
 */
const TRANSFORMERS_NAMES: Readonly<Record<keyof TrainingArguments, string | null>> = {
  outputDir: "output_dir",
  overwriteOutputDir: "overwrite_output_dir",
  evalStrategy: "eval_strategy",
  perDeviceTrainBatchSize: "per_device_train_batch_size",
  perDeviceEvalBatchSize: "per_device_eval_batch_size",
  gradientAccumulationSteps: "gradient_accumulation_steps",
  learningRate: "learning_rate",
  weightDecay: "weight_decay",
  adamBeta1: "adam_beta1",
  adamBeta2: "adam_beta2",
  adamEpsilon: "adam_epsilon",
  maxGradNorm: "max_grad_norm",
  numTrainEpochs: "num_train_epochs",
  maxSteps: "max_steps",
  lrSchedulerType: "lr_scheduler_type",
  warmupRatio: "warmup_ratio",
  warmupSteps: "warmup_steps",
  loggingDir: "logging_dir",
  loggingStrategy: "logging_strategy",
  loggingSteps: "logging_steps",
  saveStrategy: "save_strategy",
  saveSteps: "save_steps",
  saveTotalLimit: "save_total_limit",
  seed: "seed",
  fp16: "fp16",
  dataloaderDropLast: "dataloader_drop_last",
  evalSteps: "eval_steps",
  dataloaderNumWorkers: "dataloader_num_workers",
  loadBestModelAtEnd: "load_best_model_at_end",
  metricForBestModel: "metric_for_best_model",
  greaterIsBetter: "greater_is_better",
  reportTo: "report_to",
  resumeFromCheckpoint: "resume_from_checkpoint",
  augment: null,
};

/**
 * Transformers' fields whose concept Tessera has with one fixed value: what its Trainer does,
 * in Transformers' words (AdamW as torch's, safetensors checkpoints, no label smoothing, no
 * scheduler arguments, no first-step log).
 */
const TRANSFORMERS_FIXED: Readonly<Record<string, unknown>> = {
  lr_scheduler_kwargs: {},
  logging_first_step: false,
  save_safetensors: true,
  label_smoothing_factor: 0,
  optim: "adamw_torch",
};

/** The fields in Transformers' dataclass order, which `to_json_string` keeps. */
const TRANSFORMERS_ORDER = [
  "output_dir",
  "overwrite_output_dir",
  "eval_strategy",
  "per_device_train_batch_size",
  "per_device_eval_batch_size",
  "gradient_accumulation_steps",
  "learning_rate",
  "weight_decay",
  "adam_beta1",
  "adam_beta2",
  "adam_epsilon",
  "max_grad_norm",
  "num_train_epochs",
  "max_steps",
  "lr_scheduler_type",
  "lr_scheduler_kwargs",
  "warmup_ratio",
  "warmup_steps",
  "logging_dir",
  "logging_strategy",
  "logging_first_step",
  "logging_steps",
  "save_strategy",
  "save_steps",
  "save_total_limit",
  "save_safetensors",
  "seed",
  "fp16",
  "dataloader_drop_last",
  "eval_steps",
  "dataloader_num_workers",
  "load_best_model_at_end",
  "metric_for_best_model",
  "greater_is_better",
  "label_smoothing_factor",
  "optim",
  "report_to",
  "resume_from_checkpoint",
];

/**
 * TrainingArguments as Transformers' `TrainingArguments.to_json_string()` writes them into
 * training_args.json: snake_case with Transformers' names (v4.51), in its field order, every
 * field whose concept Tessera has (the fixed ones with Tessera's value), `report_to` as a list
 * (`[]` for "none", as its `__post_init__` makes it). Tessera's own `augment` has no field there
 * and is left out.
 *
 * @param args The arguments.
 * @returns The JSON object.
 * @example
 * ```ts
 * import { makeTrainingArguments, toTrainingArgsJson } from "./args.ts";
 * const json = toTrainingArgsJson(makeTrainingArguments({ evalStrategy: "epoch" }));
 * console.log(json.eval_strategy, json.report_to); // "epoch" ["tensorboard"]
 * ```
 */
export function toTrainingArgsJson(args: TrainingArguments): Record<string, unknown> {
  const values: Record<string, unknown> = { ...TRANSFORMERS_FIXED };
  for (const [key, name] of Object.entries(TRANSFORMERS_NAMES)) {
    if (name) values[name] = args[key as keyof TrainingArguments];
  }
  values.report_to = args.reportTo === "none" ? [] : [args.reportTo];
  return Object.fromEntries(TRANSFORMERS_ORDER.map((name) => [name, values[name]]));
}

/**
 * Reads training_args.json back into arguments: Transformers' snake_case form (what Tessera
 * writes now, or Transformers itself; fields Tessera has no concept of are ignored), or the
 * camelCase form older Tessera versions wrote.
 *
 * @param json The parsed file.
 * @returns The arguments it names (validate them with {@link makeTrainingArguments}).
 * @example
 * ```ts
 * import { fromTrainingArgsJson } from "./args.ts";
 * console.log(fromTrainingArgsJson({ learning_rate: 2e-4, report_to: [] }));
 * // { learningRate: 0.0002, reportTo: "none" }
 * ```
 */
export function fromTrainingArgsJson(json: Record<string, unknown>): Partial<TrainingArguments> {
  const out: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(TRANSFORMERS_NAMES)) {
    if (name && name in json) out[key] = json[name];
    else if (key in json) out[key] = json[key];
  }
  if ("evaluation_strategy" in json && !("eval_strategy" in json)) {
    out.evalStrategy = json.evaluation_strategy;
  }
  // A list after Transformers' __post_init__; "all" reports to every integration there is.
  const report = out.reportTo;
  if (Array.isArray(report)) {
    out.reportTo = report.includes("tensorboard") || report.includes("all")
      ? "tensorboard"
      : "none";
  } else if (report === "all") out.reportTo = "tensorboard";
  return out as Partial<TrainingArguments>;
}

const ALIASES: Record<string, string> = { evaluationStrategy: "evalStrategy" };

/**
 * Parses `--kebab-case value` flags into TrainingArguments fields. Booleans take `--flag`,
 * `--flag true` or `--flag false`; `--resume-from-checkpoint` may have no value (latest).
 *
 * @param argv Command-line words.
 * @param extra Names of other flags the task accepts (kept in `rest`).
 * @returns The arguments given and the other flags' values.
 * @throws {ArgumentError} For unknown flags and bad values.
 */
export function parseTrainingFlags(
  argv: readonly string[],
  extra: readonly string[] = [],
): { args: Partial<TrainingArguments>; rest: Record<string, string | boolean> } {
  const args: Record<string, unknown> = {};
  const rest: Record<string, string | boolean> = {};
  const defaults = TRAINING_DEFAULTS as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (!word.startsWith("--")) throw new ArgumentError(`unexpected argument '${word}'`);
    let [flag, inline] = word.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    flag = flag.replaceAll("_", "-");
    const next = () => {
      if (inline !== undefined) return inline;
      const v = argv[i + 1];
      if (v === undefined || v.startsWith("--")) throw new ArgumentError(`--${flag} needs a value`);
      i++;
      return v;
    };
    if (extra.includes(flag)) {
      const v = argv[i + 1];
      rest[flag] = inline ?? (v !== undefined && !v.startsWith("--") ? (i++, v) : true);
      continue;
    }
    let key = camel(flag);
    key = ALIASES[key] ?? key;
    if (!(key in defaults)) throw new ArgumentError(`unknown flag --${flag}`);
    const d = defaults[key];
    if (key === "resumeFromCheckpoint") {
      const v = argv[i + 1];
      args[key] = inline ?? (v !== undefined && !v.startsWith("--") ? (i++, v) : true);
    } else if (typeof d === "boolean") {
      const v = inline ?? (["true", "false"].includes(argv[i + 1]) ? argv[++i] : "true");
      if (v !== "true" && v !== "false") throw new ArgumentError(`--${flag} takes true or false`);
      args[key] = v === "true";
    } else if (typeof d === "number" || d === null && /Steps|Limit/.test(key)) {
      const raw = next();
      const v = Number(raw);
      if (raw === "" || !Number.isFinite(v)) {
        throw new ArgumentError(`--${flag} must be a number, got '${raw}'`);
      }
      args[key] = v;
    } else if (key === "greaterIsBetter") {
      const v = next();
      args[key] = v === "true";
    } else {
      args[key] = next();
    }
  }
  return { args: args as Partial<TrainingArguments>, rest };
}
