/**
 * The Trainer: the blog's `Trainer(...).train()`, `evaluate()`, `predict()` and `save_model()`,
 * leaving Hugging Face's files behind — `checkpoint-N/` folders with trainer_state.json, the
 * final model at the top of the output folder, `*_results.json`, and TensorBoard events.
 *
 * One optimiser step records its whole forward, backward, clip and update into few submits and
 * reads back two numbers (the loss and the gradient norm) once.
 *
 * @module
 */

import { DataLoader } from "../data/loader.ts";
import type { Dataset, ImageExample } from "../data/dataset.ts";
import type { ViTImageProcessor } from "../data/processor.ts";
import { dropoutState, setDropoutSeed } from "../nn/layers.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import { AdamW } from "../tensor/adamw.ts";
import { accumulate, autocast, concat, full, mul } from "../tensor/ops.ts";
import { gpu } from "../tensor/device.ts";
import { engine } from "../tensor/engine.ts";
import { keep, noGrad, scope, scopeAsync } from "../tensor/tensor.ts";
import { joinPath, writeAtomic } from "../io/files.ts";
import type { TrainingArguments } from "./args.ts";
import {
  type CheckpointInfo,
  latestCheckpoint,
  loadCheckpoint,
  parameterValues,
  type RngState,
  rotateCheckpoints,
  saveCheckpoint,
} from "./checkpoint.ts";
import { argmaxRows, classificationReport } from "./metrics.ts";
import { learningRateAt, warmupSteps } from "./schedule.ts";
import { EventWriter } from "./tensorboard.ts";
import { newTrainerState, type TrainerState } from "./state.ts";

/** What `computeMetrics` receives, as HF's EvalPrediction. */
export interface EvalPrediction {
  /** Logits, [N, classes] row-major. */
  predictions: Float32Array;
  /** True labels. */
  labelIds: number[];
  /** Number of classes. */
  numClasses: number;
}

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  /** The model to train. */
  model: ImageClassifier;
  /** Training arguments (validated). */
  args: TrainingArguments;
  /** The image processor (saved with every checkpoint). */
  processor: ViTImageProcessor;
  /** Training rows. */
  trainDataset?: Dataset<ImageExample>;
  /** Evaluation rows. */
  evalDataset?: Dataset<ImageExample>;
  /** Extra metrics from predictions; accuracy is computed by default. */
  computeMetrics?: (p: EvalPrediction) => Record<string, number>;
  /** Receives each log line (stdout by default). */
  log?: (line: string) => void;
  /** Receives step progress (for a progress bar). */
  onProgress?: (p: ProgressInfo) => void;
  /** Host name for the TensorBoard folder and file names. */
  hostname?: string;
  /** Initial loss scale of fp16 training (2^16, as torch's GradScaler). */
  initialLossScale?: number;
}

/** Progress of training, for display. */
export interface ProgressInfo {
  /** Steps done. */
  step: number;
  /** Total steps. */
  maxSteps: number;
  /** Fractional epoch. */
  epoch: number;
  /** Loss of the last step. */
  loss: number;
  /** Learning rate of the last step. */
  learningRate: number;
  /** Seconds since training started (this run). */
  elapsed: number;
  /** Steps done in this run (excludes steps restored from a checkpoint). */
  stepsThisRun: number;
}

/** The result of {@link Trainer.train}, as HF's TrainOutput. */
export interface TrainOutput {
  /** Steps taken. */
  globalStep: number;
  /** Mean training loss over all steps. */
  trainingLoss: number;
  /** train_runtime, train_samples_per_second, … */
  metrics: Record<string, number>;
}

/** Training stopped on a non-finite loss or gradient. */
export class NonFiniteLossError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was non-finite, at which step, and which checkpoint is kept.
   */
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

/** Round as HF's logs do (4 decimals for loss). */
function round(v: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * Trains, evaluates and saves an image classifier (any {@link ImageClassifier}: ViT, DeiT).
 *
 * @example
 * ```ts ignore
 * const trainer = new Trainer({ model, args, processor, trainDataset: ds.train, evalDataset: ds.validation });
 * await trainer.train();
 * const metrics = await trainer.evaluate();
 * await trainer.saveModel();
 * ```
 */
export class Trainer {
  /** The model. */
  readonly model: ImageClassifier;
  /** The arguments. */
  readonly args: TrainingArguments;
  /** The processor. */
  readonly processor: ViTImageProcessor;
  /** HF's trainer_state.json fields. */
  state: TrainerState;
  readonly #options: TrainerOptions;
  readonly #log: (line: string) => void;
  #optimizer: AdamW | null = null;
  #events: EventWriter | null = null;
  #stopRequested = false;

  /**
   * Creates the trainer.
   *
   * @param options Model, arguments, processor, datasets.
   */
  constructor(options: TrainerOptions) {
    this.model = options.model;
    this.args = options.args;
    this.processor = options.processor;
    this.#options = options;
    this.#log = options.log ?? ((line) => console.log(line));
    this.state = newTrainerState(options.args);
  }

  /** Asks training to stop after the current step, saving a checkpoint (for SIGINT). */
  requestStop(): void {
    this.#stopRequested = true;
  }

  /** The optimiser (created by train()). */
  get optimizer(): AdamW | null {
    return this.#optimizer;
  }

  #makeOptimizer(): AdamW {
    const named = this.model.namedParameters();
    // HF's get_decay_parameter_names: no decay for biases and LayerNorm weights.
    const noDecay = (i: number) => /\.bias$|layernorm[^.]*\.weight$/.test(named[i][0]);
    return new AdamW(named.map(([, t]) => t), {
      lr: this.args.learningRate,
      beta1: this.args.adamBeta1,
      beta2: this.args.adamBeta2,
      eps: this.args.adamEpsilon,
      weightDecay: this.args.weightDecay,
      noDecay,
    });
  }

  async #tensorboard(): Promise<EventWriter | null> {
    if (this.args.reportTo !== "tensorboard") return null;
    if (!this.#events) {
      const host = this.#options.hostname ?? "localhost";
      const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
      const dir = this.args.loggingDir ?? joinPath(this.args.outputDir, "runs", `${stamp}_${host}`);
      this.#events = await EventWriter.create(dir, host);
    }
    return this.#events;
  }

  async #record(entry: Record<string, number>): Promise<void> {
    this.state.log_history.push(entry);
    const tb = await this.#tensorboard();
    if (!tb) return;
    const scalars: Record<string, number> = {};
    for (const [k, v] of Object.entries(entry)) {
      if (k === "step" || typeof v !== "number") continue;
      scalars[k.startsWith("eval_") ? `eval/${k.slice(5)}` : `train/${k}`] = v;
    }
    await tb.scalars(this.state.global_step, scalars);
    await tb.flush();
  }

  /**
   * Runs training as configured: logging, evaluation, checkpoints, best-model tracking and,
   * with `resumeFromCheckpoint`, an exact continuation of an earlier run.
   *
   * @returns Steps, mean loss and timing metrics.
   */
  async train(): Promise<TrainOutput> {
    const args = this.args;
    const train = this.#options.trainDataset;
    if (!train || train.length === 0) throw new Error("train() needs a non-empty trainDataset");
    const loader = new DataLoader(train, this.processor.config, {
      batchSize: args.perDeviceTrainBatchSize,
      shuffle: true,
      seed: args.seed,
      dropLast: args.dataloaderDropLast,
      numWorkers: args.dataloaderNumWorkers,
      augment: args.augment ? {} : null,
    });
    const perEpoch = Math.max(1, Math.ceil(loader.numBatches / args.gradientAccumulationSteps));
    const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * perEpoch);
    const numEpochs = Math.ceil(maxSteps / perEpoch);
    const warmup = warmupSteps(args.warmupSteps, args.warmupRatio, maxSteps);
    this.state.max_steps = maxSteps;
    this.state.num_train_epochs = numEpochs;
    this.state.train_batch_size = args.perDeviceTrainBatchSize;
    const { height, width } = this.processor.config.size;
    const flopsPerSample = 6 * this.model.numParameters() * 3 * height * width;

    setDropoutSeed(args.seed);
    const half = args.fp16 && gpu().hasF16;
    const scaler = { scale: this.#options.initialLossScale ?? 65536, growthTracker: 0 };
    const optimizer = this.#makeOptimizer();
    this.#optimizer = optimizer;
    let trLossSum = 0;
    let trLossSinceLog = 0;
    let stepsSinceLog = 0;
    let startEpoch = 0;
    let skipBatches = 0;
    if (args.resumeFromCheckpoint) {
      const dir = typeof args.resumeFromCheckpoint === "string"
        ? args.resumeFromCheckpoint
        : await latestCheckpoint(args.outputDir);
      if (!dir) throw new Error(`no checkpoint to resume from in ${args.outputDir}`);
      const restored = await loadCheckpoint(dir, this.model, optimizer);
      this.state = {
        ...restored.state,
        max_steps: maxSteps,
        num_train_epochs: numEpochs,
        logging_steps: args.loggingSteps,
        eval_steps: args.evalSteps,
        save_steps: args.saveSteps,
      };
      trLossSum = restored.rng.trLossSum;
      trLossSinceLog = restored.rng.trLossSinceLog;
      stepsSinceLog = restored.rng.stepsSinceLog;
      setDropoutSeed(restored.rng.dropout.seed, restored.rng.dropout.calls);
      if (restored.rng.scaler) Object.assign(scaler, restored.rng.scaler);
      startEpoch = Math.floor(this.state.global_step / perEpoch);
      skipBatches = (this.state.global_step - startEpoch * perEpoch) *
        args.gradientAccumulationSteps;
      this.#log(`resuming from ${dir} at step ${this.state.global_step}`);
    }
    const t0 = performance.now();
    const startStep = this.state.global_step;
    const lossSum = keep(full([1], 0));
    this.model.train();
    try {
      outer: for (let epoch = startEpoch; epoch < numEpochs; epoch++) {
        const first = epoch === startEpoch ? skipBatches : 0;
        let batchIndex = first - 1;
        let microInStep = 0;
        for await (const batch of loader.batches(epoch, first)) {
          if (this.state.global_step >= maxSteps) break outer;
          batchIndex++;
          microInStep++;
          scope(() =>
            autocast(half, () => {
              const { loss } = this.model.forward(batch.pixelValues, batch.labels);
              const scaled = args.gradientAccumulationSteps > 1
                ? mul(loss!, 1 / args.gradientAccumulationSteps)
                : loss!;
              noGrad(() => accumulate(lossSum, scaled.view([1])));
              (half ? mul(scaled, scaler.scale) : scaled).backward();
            })
          );
          batch.pixelValues.dispose();
          const lastOfEpoch = batchIndex === loader.numBatches - 1;
          if (microInStep < args.gradientAccumulationSteps && !lastOfEpoch) continue;
          microInStep = 0;
          const lr = learningRateAt(
            args.lrSchedulerType,
            args.learningRate,
            this.state.global_step,
            warmup,
            maxSteps,
          );
          const clip = args.maxGradNorm > 0 || half
            ? optimizer.clipGradNorm(args.maxGradNorm, half ? scaler.scale : 1)
            : null;
          const stats = await scopeAsync(async () => {
            const parts = [lossSum];
            if (clip) parts.push(clip);
            return await noGrad(() => concat(parts.map((t) => t.view([-1])), 0)).toArray();
          });
          const stepLoss = stats[0];
          const gradNorm = clip ? stats[2] : NaN;
          const finite = Number.isFinite(stepLoss) && (!clip || Number.isFinite(gradNorm));
          if (!finite && !half) {
            const kept = (await latestCheckpoint(args.outputDir)) ?? "none";
            throw new NonFiniteLossError(
              `the ${Number.isFinite(stepLoss) ? "gradient norm" : "loss"} became ` +
                `${Number.isFinite(stepLoss) ? gradNorm : stepLoss} at step ${
                  this.state.global_step + 1
                }; ` +
                `training stopped without applying it (last good checkpoint: ${kept})`,
            );
          }
          if (finite) {
            optimizer.lr = lr;
            optimizer.step();
            if (half && ++scaler.growthTracker >= 2000) {
              scaler.scale *= 2;
              scaler.growthTracker = 0;
            }
          } else {
            // Mixed precision: an overflow skips the update and halves the loss scale.
            scaler.scale /= 2;
            scaler.growthTracker = 0;
            this.#log(
              `Gradient overflow at step ${this.state.global_step + 1}: skipping it and ` +
                `reducing the loss scale to ${scaler.scale}`,
            );
          }
          optimizer.zeroGrad();
          // Recorded in the step's encoder; a host write would force an extra submit.
          engine().clear(lossSum.storage);
          this.state.global_step++;
          this.state.epoch = this.state.global_step / perEpoch;
          this.state.total_flos += flopsPerSample * batch.labels.length *
            args.gradientAccumulationSteps;
          if (finite) {
            trLossSum += stepLoss;
            trLossSinceLog += stepLoss;
            stepsSinceLog++;
          }
          const step = this.state.global_step;
          this.#options.onProgress?.({
            step,
            maxSteps,
            epoch: this.state.epoch,
            loss: stepLoss,
            learningRate: lr,
            elapsed: (performance.now() - t0) / 1000,
            stepsThisRun: step - startStep,
          });
          const endOfEpoch = step % perEpoch === 0;
          if (
            (args.loggingStrategy === "steps" && step % args.loggingSteps === 0) ||
            (args.loggingStrategy === "epoch" && endOfEpoch)
          ) {
            const entry: Record<string, number> = {
              loss: round(trLossSinceLog / Math.max(1, stepsSinceLog)),
              grad_norm: gradNorm,
              learning_rate: learningRateAt(
                args.lrSchedulerType,
                args.learningRate,
                step,
                warmup,
                maxSteps,
              ),
              epoch: round(this.state.epoch, 4),
              step,
            };
            if (!clip) delete entry.grad_norm;
            await this.#record(entry);
            this.#log(JSON.stringify(entry));
            trLossSinceLog = 0;
            stepsSinceLog = 0;
          }
          let metrics: Record<string, number> | null = null;
          if (
            (args.evalStrategy === "steps" && step % args.evalSteps! === 0) ||
            (args.evalStrategy === "epoch" && endOfEpoch)
          ) {
            metrics = await this.evaluate();
          }
          const save = (args.saveStrategy === "steps" && step % args.saveSteps === 0) ||
            (args.saveStrategy === "epoch" && endOfEpoch) || this.#stopRequested;
          if (save) {
            await this.#save(metrics, {
              trLossSum,
              trLossSinceLog,
              stepsSinceLog,
              scaler: { ...scaler },
            });
          }
          if (this.#stopRequested) {
            this.#log(
              `stopped at step ${step}; a checkpoint was saved, resume with --resume-from-checkpoint`,
            );
            break outer;
          }
          if (step >= maxSteps) break outer;
        }
      }
    } finally {
      loader.close();
      lossSum.dispose();
    }
    const runtime = (performance.now() - t0) / 1000;
    const stepsRun = this.state.global_step - startStep;
    if (!this.#stopRequested && args.loadBestModelAtEnd && this.state.best_model_checkpoint) {
      this.#log(
        `Loading best model from ${this.state.best_model_checkpoint} (score: ${this.state.best_metric}).`,
      );
      await loadCheckpoint(this.state.best_model_checkpoint, this.model, null);
    }
    const trainLoss = this.state.global_step > 0 ? trLossSum / this.state.global_step : NaN;
    const metrics = {
      train_runtime: round(runtime),
      train_samples_per_second: round((stepsRun * args.perDeviceTrainBatchSize) / runtime, 3),
      train_steps_per_second: round(stepsRun / runtime, 3),
      total_flos: this.state.total_flos,
      train_loss: trainLoss,
      epoch: round(this.state.epoch, 4),
    };
    if (!this.#stopRequested) await this.#record({ ...metrics, step: this.state.global_step });
    return { globalStep: this.state.global_step, trainingLoss: trainLoss, metrics };
  }

  async #save(
    metrics: Record<string, number> | null,
    counters: Omit<RngState, "dropout">,
  ): Promise<void> {
    const step = this.state.global_step;
    const dir = joinPath(this.args.outputDir, `checkpoint-${step}`);
    const key = `eval_${this.args.metricForBestModel}`;
    if (metrics && this.args.metricForBestModel && key in metrics) {
      const value = metrics[key];
      const better = this.state.best_metric === null ||
        (this.args.greaterIsBetter
          ? value > this.state.best_metric
          : value < this.state.best_metric);
      if (better) {
        this.state.best_metric = value;
        this.state.best_model_checkpoint = dir;
      }
    }
    const info: CheckpointInfo = {
      model: this.model,
      processor: this.processor,
      optimizer: this.#optimizer!,
      state: this.state,
      args: this.args,
      rng: { ...counters, dropout: dropoutState() },
    };
    await saveCheckpoint(dir, info);
    const removed = await rotateCheckpoints(
      this.args.outputDir,
      this.args.saveTotalLimit,
      this.state.best_model_checkpoint,
    );
    for (const r of removed) {
      this.#log(`Deleting older checkpoint [${r}] due to args.save_total_limit`);
    }
  }

  /**
   * Runs the model over a dataset and returns its logits and labels, as HF's `predict`.
   *
   * @param dataset Rows to predict (the eval dataset by default).
   * @returns Logits [N, classes], labels, and the mean loss.
   */
  async predict(
    dataset: Dataset<ImageExample> | undefined = this.#options.evalDataset,
  ): Promise<{ predictions: Float32Array; labelIds: number[]; loss: number; runtime: number }> {
    if (!dataset || dataset.length === 0) throw new Error("predict() needs a non-empty dataset");
    const loader = new DataLoader(dataset, this.processor.config, {
      batchSize: this.args.perDeviceEvalBatchSize,
      numWorkers: this.args.dataloaderNumWorkers,
    });
    const classes = this.model.numLabels;
    const logits: Float32Array[] = [];
    const labelIds: number[] = [];
    let lossTotal = 0;
    const t0 = performance.now();
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      for await (const batch of loader.batches(0)) {
        const values = await scopeAsync(async () => {
          const out = noGrad(() => this.model.forward(batch.pixelValues, batch.labels));
          const flat = noGrad(() => concat([out.logits.view([-1]), out.loss!.view([1])], 0));
          return await flat.toArray();
        });
        batch.pixelValues.dispose();
        const n = batch.labels.length;
        logits.push(values.slice(0, n * classes));
        lossTotal += values[n * classes] * n;
        labelIds.push(...batch.labels);
      }
    } finally {
      loader.close();
      if (wasTraining) this.model.train();
    }
    const predictions = new Float32Array(labelIds.length * classes);
    let at = 0;
    for (const l of logits) {
      predictions.set(l, at);
      at += l.length;
    }
    return {
      predictions,
      labelIds,
      loss: lossTotal / labelIds.length,
      runtime: (performance.now() - t0) / 1000,
    };
  }

  /**
   * Evaluates: loss, accuracy, per-class precision/recall/F1 and the confusion matrix, keyed
   * with the prefix as HF does (`eval_loss`, `eval_accuracy`, …), logged and recorded.
   *
   * @param dataset Rows (the eval dataset by default).
   * @param prefix Key prefix ("eval", or "test" for a test split).
   * @returns The metrics.
   */
  async evaluate(
    dataset: Dataset<ImageExample> | undefined = this.#options.evalDataset,
    prefix = "eval",
  ): Promise<Record<string, number>> {
    const p = await this.predict(dataset);
    const classes = this.model.numLabels;
    const report = classificationReport(argmaxRows(p.predictions, classes), p.labelIds, classes);
    const names = Object.values(this.model.config.id2label);
    const metrics: Record<string, number> = {
      [`${prefix}_loss`]: p.loss,
      [`${prefix}_accuracy`]: report.accuracy,
      [`${prefix}_f1_macro`]: report.macroF1,
    };
    report.precision.forEach((v, i) => (metrics[`${prefix}_precision_${names[i]}`] = v));
    report.recall.forEach((v, i) => (metrics[`${prefix}_recall_${names[i]}`] = v));
    report.f1.forEach((v, i) => (metrics[`${prefix}_f1_${names[i]}`] = v));
    const extra = this.#options.computeMetrics?.({
      predictions: p.predictions,
      labelIds: p.labelIds,
      numClasses: classes,
    });
    for (const [k, v] of Object.entries(extra ?? {})) {
      metrics[`${prefix}_${k.replace(/^eval_/, "")}`] = v;
    }
    metrics[`${prefix}_runtime`] = round(p.runtime);
    metrics[`${prefix}_samples_per_second`] = round(p.labelIds.length / p.runtime, 3);
    metrics[`${prefix}_steps_per_second`] = round(
      Math.ceil(p.labelIds.length / this.args.perDeviceEvalBatchSize) / p.runtime,
      3,
    );
    metrics.epoch = round(this.state.epoch, 4);
    this.lastConfusionMatrix = report.confusionMatrix;
    await this.#record({ ...metrics, step: this.state.global_step });
    this.#log(JSON.stringify({ ...metrics, step: this.state.global_step }));
    return metrics;
  }

  /** The confusion matrix of the last evaluation (rows true, columns predicted). */
  lastConfusionMatrix: number[][] | null = null;

  /** Saves the model and processor to `dir` (the output folder by default), as save_model. */
  async saveModel(dir = this.args.outputDir): Promise<void> {
    const values = this.#optimizer ? await parameterValues(this.model, this.#optimizer) : undefined;
    await this.model.savePretrained(dir, { values });
    await this.processor.savePretrained(dir);
    await writeAtomic(
      joinPath(dir, "training_args.json"),
      JSON.stringify(this.args, null, 2) + "\n",
    );
  }

  /** Writes `{split}_results.json` and merges it into all_results.json, as save_metrics. */
  async saveMetrics(split: string, metrics: Record<string, unknown>): Promise<void> {
    const dir = this.args.outputDir;
    await writeAtomic(
      joinPath(dir, `${split}_results.json`),
      JSON.stringify(metrics, null, 4) + "\n",
    );
    let all: Record<string, unknown> = {};
    try {
      all = JSON.parse(await Deno.readTextFile(joinPath(dir, "all_results.json")));
    } catch {
      all = {};
    }
    await writeAtomic(
      joinPath(dir, "all_results.json"),
      JSON.stringify({ ...all, ...metrics }, null, 4) + "\n",
    );
  }

  /** Writes trainer_state.json to the output folder, as save_state. */
  async saveState(): Promise<void> {
    await writeAtomic(
      joinPath(this.args.outputDir, "trainer_state.json"),
      JSON.stringify(this.state, null, 2) + "\n",
    );
  }

  /** Closes the TensorBoard writer. */
  close(): void {
    this.#events?.close();
    this.#events = null;
  }
}
