/**
 * The Trainer: the blog's `Trainer(...).train()`, `evaluate()`, `predict()` and `save_model()`,
 * leaving Hugging Face's files behind — `checkpoint-N/` folders with trainer_state.json, the
 * final model at the top of the output folder, `*_results.json`, and TensorBoard events.
 *
 * `train()` runs Hugging Face's steps by name: `trainingStep` (forward and backward of one
 * micro-batch), `optimizerStep` (unscale, clip, update or skip, through a {@link GradScaler})
 * and `maybeLogSaveEvaluate`. One optimiser step records its whole forward, backward, clip and
 * update into few submits and reads back two numbers (the loss and the gradient norm) once.
 *
 * @module
 */

import { type Batch, DataLoader } from "../data/loader.ts";
import type { Dataset, ImageExample } from "../data/dataset.ts";
import type { ImageProcessor } from "../data/image_processor.ts";
import { dropoutState, setDropoutSeed } from "../nn/layers.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import { AdamW, type AdamWOptions } from "../tensor/adamw.ts";
import { loraState, saveAdapter } from "../nn/lora.ts";
import type { Module } from "../nn/module.ts";
import { accumulate, autocast, concat, full, mul } from "../tensor/ops.ts";
import { gpu } from "../tensor/device.ts";
import { engine } from "../tensor/engine.ts";
import { keep, noGrad, scope, scopeAsync, type Tensor } from "../tensor/tensor.ts";
import { joinPath, readJson, writeAtomic } from "../io/files.ts";
import { toTrainingArgsJson, type TrainingArguments } from "./args.ts";
import {
  type CheckpointInfo,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  parameterValues,
  type RngState,
  rotateCheckpoints,
  saveCheckpoint,
} from "./checkpoint.ts";
import { argmaxRows, classificationReport } from "./metrics.ts";
import { learningRateAt, warmupSteps } from "./schedule.ts";
import { GradScaler } from "./grad_scaler.ts";
import { evalBatchSize } from "./eval_batch.ts";
import { EventWriter } from "./tensorboard.ts";
import { newTrainerControl, type TrainerCallback, type TrainerControl } from "./callbacks.ts";
import { newTrainerState, type TrainerState } from "./state.ts";
import type { PhaseSpans } from "./phase_timer.ts";
import { halfPrecision } from "./half_precision.ts";

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
  processor: ImageProcessor;
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
  /** Hooks called during training and evaluation (live progress, stopping). */
  callbacks?: TrainerCallback[];
  /** Host name for the TensorBoard folder and file names. */
  hostname?: string;
  /** Initial loss scale of fp16 training (2^16, as torch's GradScaler). */
  initialLossScale?: number;
  /**
   * Keep `fp16`'s f16 rounding on a software adapter, where it trains in f32 by default (see
   * {@link halfPrecision}): for tests of fp16's numbers on a CPU.
   */
  fp16OnSoftware?: boolean;
  /**
   * Receives the run's phases (forward, backward, evaluation, …) for profiling; none by
   * default.
   */
  phases?: PhaseSpans;
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
  /** Training images per second in this run. */
  samplesPerSecond: number;
  /** Estimated seconds to the last step, at this run's pace. */
  secondsLeft: number;
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

/** The result of {@link Trainer.evaluate}. */
export interface EvalOutput {
  /** `eval_loss`, `eval_accuracy`, per-class precision/recall/F1, runtime, … (as logged). */
  metrics: Record<string, number>;
  /** Counts with true classes as rows and predicted classes as columns. */
  confusionMatrix: number[][];
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

/** The running state of one `train()` call, shared by its steps. */
interface TrainLoop {
  loader: DataLoader;
  optimizer: AdamW;
  scaler: GradScaler;
  /** Mixed precision is on (fp16 asked for and the adapter has f16). */
  half: boolean;
  /** Optimiser steps per epoch. */
  perEpoch: number;
  maxSteps: number;
  numEpochs: number;
  warmup: number;
  flopsPerSample: number;
  /**
   * Optimiser steps applied (the scheduler's position): as HF's `optimizer_was_run`, a step
   * skipped on overflow advances the global step but not the schedule.
   */
  schedulerSteps: number;
  /** The epoch and batch a resumed run starts at. */
  startEpoch: number;
  skipBatches: number;
  /** Sum of this step's micro-batch losses, kept on the device until the step reads it. */
  lossSum: Tensor;
  trLossSum: number;
  trLossSinceLog: number;
  stepsSinceLog: number;
  /** Training images seen in this run. */
  samplesThisRun: number;
  /** When this run started, and at which step. */
  t0: number;
  startStep: number;
}

/** What one optimiser step read back. */
interface StepOutput {
  /** The step's loss (mean over its micro-batches). */
  loss: number;
  /** Global gradient norm before clipping (NaN when not computed). */
  gradNorm: number;
  /** Whether the norm was computed (clipping or an enabled scaler). */
  clipped: boolean;
  /** The learning rate the step used. */
  learningRate: number;
  /** Whether the loss and the norm were finite (the update was applied). */
  finite: boolean;
}

/**
 * Builds AdamW over a model's parameters with Hugging Face's decay rule
 * (`get_decay_parameter_names`): no weight decay on biases and LayerNorm weights. The Trainer
 * and `deno task pretrain` both use it, so that the rule lives once.
 *
 * @param model Anything with Hugging Face-named parameters.
 * @param options AdamW's hyper-parameters; `weightDecay` applies to the decayed group only.
 * @returns The optimiser.
 * @example
 * ```ts ignore
 * import { createOptimizer } from "./trainer.ts";
 * const optimizer = createOptimizer(model, { lr: 2e-4, weightDecay: 0.05 });
 * ```
 */
export function createOptimizer(
  model: { namedParameters(): Array<[string, Tensor]> },
  options: Omit<AdamWOptions, "noDecay"> = {},
): AdamW {
  // Frozen parameters (LoRA's base, a frozen backbone) get no gradient buffer and no moments.
  const named = model.namedParameters().filter(([, t]) => t.requiresGrad);
  const noDecay = (i: number) => /\.bias$|layernorm[^.]*\.weight$/.test(named[i][0]);
  return new AdamW(named.map(([, t]) => t), { ...options, noDecay });
}

/** A hook's parameters after (args, state, control). */
type DropFirst3<T extends unknown[]> = T extends [unknown, unknown, unknown, ...infer R] ? R
  : never;

/** Prepared samples a loader keeps for later epochs and evaluations, when not augmenting. */
const SAMPLE_CACHE_BYTES = 256 * 2 ** 20;

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
 * const trainer = new Trainer({
 *   model, args, processor, trainDataset: ds.train, evalDataset: ds.validation,
 *   callbacks: [{ onLog: (_args, _state, _control, logs) => console.log(logs) }],
 * });
 * await trainer.train();
 * const { metrics, confusionMatrix } = await trainer.evaluate();
 * await trainer.saveModel();
 * ```
 */
export class Trainer {
  /** The model. */
  readonly model: ImageClassifier;
  /** The arguments. */
  readonly args: TrainingArguments;
  /** The processor. */
  readonly processor: ImageProcessor;
  /** HF's trainer_state.json fields. */
  state: TrainerState;
  /** The callbacks, called in order; push to add one. */
  readonly callbacks: TrainerCallback[];
  /** What happens after the current step (a new one for each `train()`). */
  control: TrainerControl = newTrainerControl();
  readonly #options: TrainerOptions;
  readonly #log: (line: string) => void;
  #optimizer: AdamW | null = null;
  #events: EventWriter | null = null;
  /** TensorBoard records still being appended, in order (off the training path). */
  #eventsPending: Promise<void> = Promise.resolve();
  /** Inside `train()`: evaluations leave their TensorBoard records pending. */
  #training = false;
  /** Evaluation loaders by dataset (their workers stop after each evaluation). */
  readonly #evalLoaders = new Map<Dataset<ImageExample>, DataLoader>();

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
    this.callbacks = [...(options.callbacks ?? [])];
  }

  /**
   * Asks training to stop after the current step, saving a checkpoint (for SIGINT); the same
   * as a callback setting `control.shouldTrainingStop`.
   */
  requestStop(): void {
    this.control.shouldTrainingStop = true;
  }

  /** Calls one hook of every callback, in order. */
  async #callEach<K extends keyof TrainerCallback>(
    hook: K,
    ...extra: DropFirst3<Parameters<NonNullable<TrainerCallback[K]>>>
  ): Promise<void> {
    for (const callback of this.callbacks) {
      const fn = callback[hook] as
        | ((...a: [TrainingArguments, TrainerState, TrainerControl, ...unknown[]]) => unknown)
        | undefined;
      await fn?.call(callback, this.args, this.state, this.control, ...extra);
    }
  }

  /** The optimiser (created by train()). */
  get optimizer(): AdamW | null {
    return this.#optimizer;
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
    await this.#callEach("onLog", entry);
    const tb = await this.#tensorboard();
    if (!tb) return;
    const phases = this.#options.phases;
    await phases?.begin("tensorboard");
    const scalars: Record<string, number> = {};
    for (const [k, v] of Object.entries(entry)) {
      if (k === "step" || typeof v !== "number") continue;
      scalars[k.startsWith("eval_") ? `eval/${k.slice(5)}` : `train/${k}`] = v;
    }
    // Appended while the next steps run; #flushEvents waits for them (and rethrows a failure).
    const step = this.state.global_step;
    this.#eventsPending = this.#eventsPending.then(() => tb.scalars(step, scalars));
    await phases?.end();
  }

  /** Waits until every TensorBoard record so far is written. */
  async #flushEvents(): Promise<void> {
    const pending = this.#eventsPending;
    this.#eventsPending = Promise.resolve();
    await pending;
  }

  /**
   * Runs training as configured: logging, evaluation, checkpoints, best-model tracking and,
   * with `resumeFromCheckpoint`, an exact continuation of an earlier run.
   *
   * @returns Steps, mean loss and timing metrics.
   */
  async train(): Promise<TrainOutput> {
    this.control = newTrainerControl();
    const loop = await this.#prepareTraining();
    const accumulation = this.args.gradientAccumulationSteps;
    this.model.train();
    this.#training = true;
    try {
      await this.#callEach("onTrainBegin");
      outer: for (let epoch = loop.startEpoch; epoch < loop.numEpochs; epoch++) {
        const first = epoch === loop.startEpoch ? loop.skipBatches : 0;
        let batchIndex = first - 1;
        let microInStep = 0;
        for await (const batch of loop.loader.batches(epoch, first)) {
          if (this.state.global_step >= loop.maxSteps) break outer;
          batchIndex++;
          microInStep++;
          await this.#trainingStep(loop, batch);
          const lastOfEpoch = batchIndex === loop.loader.numBatches - 1;
          if (microInStep < accumulation && !lastOfEpoch) continue;
          microInStep = 0;
          const step = await this.#optimizerStep(loop);
          await this.#stepEnd(loop, step, batch.labels.length);
          if (await this.#maybeLogSaveEvaluate(loop, step)) break outer;
        }
      }
    } catch (error) {
      await this.#flushEvents().catch(() => {});
      throw error;
    } finally {
      this.#training = false;
      loop.loader.close();
      loop.lossSum.dispose();
    }
    return await this.#finishTraining(loop);
  }

  /**
   * Sets up one `train()` call: the loader, the step counts, the optimiser, the loss scaler,
   * and, when resuming, the checkpoint's weights, moments, counters and scale.
   */
  async #prepareTraining(): Promise<TrainLoop> {
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
      phases: this.#options.phases,
      cacheBytes: SAMPLE_CACHE_BYTES,
    });
    const perEpoch = Math.max(1, Math.ceil(loader.numBatches / args.gradientAccumulationSteps));
    const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * perEpoch);
    const numEpochs = Math.ceil(maxSteps / perEpoch);
    this.state.max_steps = maxSteps;
    this.state.num_train_epochs = numEpochs;
    this.state.train_batch_size = args.perDeviceTrainBatchSize;
    const { height, width } = this.processor.outputSize;
    setDropoutSeed(args.seed);
    const { half, note } = halfPrecision(
      args.fp16,
      gpu().profile,
      this.#options.fp16OnSoftware,
    );
    if (note) this.#log(note);
    const optimizer = createOptimizer(this.model, {
      lr: args.learningRate,
      beta1: args.adamBeta1,
      beta2: args.adamBeta2,
      eps: args.adamEpsilon,
      weightDecay: args.weightDecay,
    });
    this.#optimizer = optimizer;
    const loop: Omit<TrainLoop, "lossSum" | "t0" | "startStep"> = {
      loader,
      optimizer,
      scaler: new GradScaler({ initScale: this.#options.initialLossScale, enabled: half }),
      half,
      perEpoch,
      maxSteps,
      numEpochs,
      warmup: warmupSteps(args.warmupSteps, args.warmupRatio, maxSteps),
      flopsPerSample: 6 * this.model.numParameters() * 3 * height * width,
      schedulerSteps: 0,
      startEpoch: 0,
      skipBatches: 0,
      trLossSum: 0,
      trLossSinceLog: 0,
      stepsSinceLog: 0,
      samplesThisRun: 0,
    };
    if (args.resumeFromCheckpoint) {
      try {
        await this.#resume(loop);
      } catch (error) {
        loader.close();
        throw error;
      }
    }
    const t0 = performance.now();
    return { ...loop, t0, startStep: this.state.global_step, lossSum: keep(full([1], 0)) };
  }

  /** Restores the checkpoint `resumeFromCheckpoint` names (or the latest) into the loop. */
  async #resume(loop: Omit<TrainLoop, "lossSum" | "t0" | "startStep">): Promise<void> {
    const args = this.args;
    const dir = typeof args.resumeFromCheckpoint === "string"
      ? args.resumeFromCheckpoint
      : await latestCheckpoint(args.outputDir);
    if (!dir) throw new Error(`no checkpoint to resume from in ${args.outputDir}`);
    let restored;
    try {
      restored = await loadCheckpoint(dir, this.model, loop.optimizer);
    } catch (error) {
      // Never fall back silently (the steps since the older checkpoint would be lost without a
      // word): name the one to resume from instead.
      const all = await listCheckpoints(args.outputDir);
      const before = all[all.indexOf(dir) - 1];
      if (error instanceof Error && before && typeof args.resumeFromCheckpoint !== "string") {
        error.message += `; the checkpoint before it is ${before} (resume from it by name)`;
      }
      throw error;
    }
    this.state = {
      ...restored.state,
      max_steps: loop.maxSteps,
      num_train_epochs: loop.numEpochs,
      logging_steps: args.loggingSteps,
      eval_steps: args.evalSteps,
      save_steps: args.saveSteps,
    };
    loop.trLossSum = restored.rng.trLossSum;
    loop.trLossSinceLog = restored.rng.trLossSinceLog;
    loop.stepsSinceLog = restored.rng.stepsSinceLog;
    setDropoutSeed(restored.rng.dropout.seed, restored.rng.dropout.calls);
    if (restored.rng.scaler) loop.scaler.loadState(restored.rng.scaler);
    loop.schedulerSteps = restored.schedulerStep;
    loop.startEpoch = Math.floor(this.state.global_step / loop.perEpoch);
    loop.skipBatches = (this.state.global_step - loop.startEpoch * loop.perEpoch) *
      args.gradientAccumulationSteps;
    this.#log(`resuming from ${dir} at step ${this.state.global_step}`);
  }

  /**
   * Forward and backward of one micro-batch (HF's `training_step`): the loss, divided by the
   * accumulation steps, is added to the step's sum on the device, and its gradients (scaled by
   * the loss scale) are added to the parameters' gradients.
   */
  async #trainingStep(loop: TrainLoop, batch: Batch): Promise<void> {
    const accumulation = this.args.gradientAccumulationSteps;
    const phases = this.#options.phases;
    if (phases) {
      await scopeAsync(async () => {
        await phases.begin("forward");
        const scaled = autocast(loop.half, () => this.#forward(loop, batch, accumulation));
        await phases.end();
        await phases.begin("backward");
        autocast(loop.half, () => loop.scaler.scaleLoss(scaled).backward());
        await phases.end();
      });
    } else {
      scope(() =>
        autocast(loop.half, () => {
          loop.scaler.scaleLoss(this.#forward(loop, batch, accumulation)).backward();
        })
      );
    }
    batch.pixelValues.dispose();
  }

  /** The forward of one micro-batch: its loss (divided by the accumulation steps), summed. */
  #forward(loop: TrainLoop, batch: Batch, accumulation: number): Tensor {
    const { loss } = this.model.forward(batch.pixelValues, batch.labels);
    const scaled = accumulation > 1 ? mul(loss!, 1 / accumulation) : loss!;
    noGrad(() => accumulate(loop.lossSum, scaled.view([1])));
    return scaled;
  }

  /**
   * Unscales and clips the gradients, reads back the loss and the norm, and updates the
   * parameters, or skips the update when mixed precision overflowed. A non-finite loss or norm
   * in f32 stops training.
   *
   * @throws {NonFiniteLossError} In f32, when the loss or the gradient norm is not finite.
   */
  async #optimizerStep(loop: TrainLoop): Promise<StepOutput> {
    const args = this.args;
    const { optimizer, scaler } = loop;
    const phases = this.#options.phases;
    await phases?.begin("optimizer");
    const learningRate = learningRateAt(
      args.lrSchedulerType,
      args.learningRate,
      loop.schedulerSteps,
      loop.warmup,
      loop.maxSteps,
    );
    const clip = args.maxGradNorm > 0 || scaler.enabled
      ? scaler.unscaleAndClip(optimizer, args.maxGradNorm)
      : null;
    await phases?.begin("readbacks/syncs");
    const stats = await scopeAsync(async () => {
      const parts = [loop.lossSum];
      if (clip) parts.push(clip);
      return await noGrad(() => concat(parts.map((t) => t.view([-1])), 0)).toArray();
    });
    await phases?.end();
    const loss = stats[0];
    const gradNorm = clip ? stats[2] : NaN;
    const finite = Number.isFinite(loss) && (!clip || Number.isFinite(gradNorm));
    if (!finite && !scaler.enabled) {
      const kept = (await latestCheckpoint(args.outputDir)) ?? "none";
      throw new NonFiniteLossError(
        `the ${Number.isFinite(loss) ? "gradient norm" : "loss"} became ` +
          `${Number.isFinite(loss) ? gradNorm : loss} at step ${this.state.global_step + 1}; ` +
          `training stopped without applying it (last good checkpoint: ${kept})`,
      );
    }
    optimizer.lr = learningRate;
    scaler.step(optimizer, !finite);
    scaler.update(!finite);
    if (finite) loop.schedulerSteps++;
    if (!finite) {
      this.#log(
        `Gradient overflow at step ${this.state.global_step + 1}: skipping it and ` +
          `reducing the loss scale to ${scaler.getScale()}`,
      );
    }
    optimizer.zeroGrad();
    // Recorded in the step's encoder; a host write would force an extra submit.
    engine().clear(loop.lossSum.storage);
    await phases?.end();
    return { loss, gradNorm, clipped: clip !== null, learningRate, finite };
  }

  /**
   * Advances the state after an optimiser step, sets what the strategies ask of this step in
   * the control, and reports progress to `onProgress` and the callbacks (HF's `on_step_end`).
   */
  async #stepEnd(loop: TrainLoop, step: StepOutput, batchSize: number): Promise<void> {
    const args = this.args;
    this.state.global_step++;
    this.state.epoch = this.state.global_step / loop.perEpoch;
    this.state.total_flos += loop.flopsPerSample * batchSize * args.gradientAccumulationSteps;
    loop.samplesThisRun += batchSize * args.gradientAccumulationSteps;
    if (step.finite) {
      loop.trLossSum += step.loss;
      loop.trLossSinceLog += step.loss;
      loop.stepsSinceLog++;
    }
    const at = this.state.global_step;
    const endOfEpoch = at % loop.perEpoch === 0;
    // As HF's DefaultFlowCallback, before the other callbacks see the step.
    this.control.shouldLog = (args.loggingStrategy === "steps" && at % args.loggingSteps === 0) ||
      (args.loggingStrategy === "epoch" && endOfEpoch);
    this.control.shouldEvaluate = (args.evalStrategy === "steps" && at % args.evalSteps! === 0) ||
      (args.evalStrategy === "epoch" && endOfEpoch);
    this.control.shouldSave = (args.saveStrategy === "steps" && at % args.saveSteps === 0) ||
      (args.saveStrategy === "epoch" && endOfEpoch);
    const elapsed = Math.max((performance.now() - loop.t0) / 1000, 1e-9);
    const stepsThisRun = at - loop.startStep;
    const progress: ProgressInfo = {
      step: at,
      maxSteps: loop.maxSteps,
      epoch: this.state.epoch,
      loss: step.loss,
      learningRate: step.learningRate,
      elapsed,
      stepsThisRun,
      samplesPerSecond: loop.samplesThisRun / elapsed,
      secondsLeft: (loop.maxSteps - at) * elapsed / Math.max(stepsThisRun, 1),
    };
    this.#options.onProgress?.(progress);
    await this.#callEach("onStepEnd", progress);
  }

  /**
   * Logs, evaluates and saves a checkpoint when the control says so at this step (HF's
   * `_maybe_log_save_evaluate`); a stop request saves too.
   *
   * @returns Whether training ends here (a stop request, or the last step).
   */
  async #maybeLogSaveEvaluate(loop: TrainLoop, stepOutput: StepOutput): Promise<boolean> {
    const args = this.args;
    const step = this.state.global_step;
    const control = this.control;
    if (control.shouldLog) {
      const entry: Record<string, number> = {
        loss: round(loop.trLossSinceLog / Math.max(1, loop.stepsSinceLog)),
        grad_norm: stepOutput.gradNorm,
        learning_rate: learningRateAt(
          args.lrSchedulerType,
          args.learningRate,
          loop.schedulerSteps,
          loop.warmup,
          loop.maxSteps,
        ),
        epoch: round(this.state.epoch, 4),
        step,
      };
      if (!stepOutput.clipped) delete entry.grad_norm;
      await this.#record(entry);
      this.#log(JSON.stringify(entry));
      loop.trLossSinceLog = 0;
      loop.stepsSinceLog = 0;
    }
    let metrics: Record<string, number> | null = null;
    if (control.shouldEvaluate) metrics = (await this.evaluate()).metrics;
    // Read after the evaluation, whose callbacks may have asked to stop.
    if (control.shouldSave || control.shouldTrainingStop) {
      await this.#save(metrics, {
        trLossSum: loop.trLossSum,
        trLossSinceLog: loop.trLossSinceLog,
        stepsSinceLog: loop.stepsSinceLog,
        scaler: loop.scaler.state(),
      }, loop.schedulerSteps);
    }
    if (control.shouldTrainingStop) {
      this.#log(
        `stopped at step ${step}; a checkpoint was saved, resume with --resume-from-checkpoint`,
      );
      return true;
    }
    return step >= loop.maxSteps;
  }

  /** Loads the best model when asked, and records and returns the run's metrics. */
  async #finishTraining(loop: TrainLoop): Promise<TrainOutput> {
    const args = this.args;
    const runtime = (performance.now() - loop.t0) / 1000;
    const stepsRun = this.state.global_step - loop.startStep;
    const stopped = this.control.shouldTrainingStop;
    if (!stopped && args.loadBestModelAtEnd && this.state.best_model_checkpoint) {
      this.#log(
        `Loading best model from ${this.state.best_model_checkpoint} ` +
          `(score: ${this.state.best_metric}).`,
      );
      await loadCheckpoint(this.state.best_model_checkpoint, this.model, null);
    }
    const trainLoss = this.state.global_step > 0 ? loop.trLossSum / this.state.global_step : NaN;
    const metrics = {
      train_runtime: round(runtime),
      // Images this run trained on: every micro-batch of every accumulated step.
      train_samples_per_second: round(loop.samplesThisRun / runtime, 3),
      train_steps_per_second: round(stepsRun / runtime, 3),
      total_flos: this.state.total_flos,
      train_loss: trainLoss,
      epoch: round(this.state.epoch, 4),
    };
    if (!stopped) await this.#record({ ...metrics, step: this.state.global_step });
    await this.#flushEvents();
    await this.#callEach("onTrainEnd");
    return { globalStep: this.state.global_step, trainingLoss: trainLoss, metrics };
  }

  async #save(
    metrics: Record<string, number> | null,
    counters: Omit<RngState, "dropout">,
    schedulerStep: number,
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
      schedulerStep,
    };
    await this.#options.phases?.begin("checkpoint writing");
    await saveCheckpoint(dir, info);
    const removed = await rotateCheckpoints(
      this.args.outputDir,
      this.args.saveTotalLimit,
      this.state.best_model_checkpoint,
    );
    await this.#options.phases?.end();
    for (const r of removed) {
      this.#log(`Deleting older checkpoint [${r}] due to args.save_total_limit`);
    }
    await this.#callEach("onSave", dir);
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
    // The largest batch that fits, and one readback at the end: each batch's logits and its
    // summed loss stay on the device, so the GPU never waits for the host between batches.
    // Kept per dataset, with its prepared samples, so later evaluations skip decoding.
    let loader = this.#evalLoaders.get(dataset);
    if (!loader) {
      loader = new DataLoader(dataset, this.processor.config, {
        batchSize: evalBatchSize(this.model.config, this.args.perDeviceEvalBatchSize),
        numWorkers: this.args.dataloaderNumWorkers,
        phases: this.#options.phases,
        cacheBytes: SAMPLE_CACHE_BYTES,
      });
      this.#evalLoaders.set(dataset, loader);
    }
    const classes = this.model.numLabels;
    const logits: Tensor[] = [];
    const labelIds: number[] = [];
    const lossSum = keep(full([1], 0));
    const t0 = performance.now();
    const wasTraining = this.model.training;
    this.model.eval();
    let values: Float32Array;
    try {
      for await (const batch of loader.batches(0)) {
        scope(() =>
          noGrad(() => {
            const out = this.model.forward(batch.pixelValues, batch.labels);
            accumulate(lossSum, mul(out.loss!, batch.labels.length).view([1]));
            logits.push(keep(out.logits.view([-1])));
          })
        );
        batch.pixelValues.dispose();
        labelIds.push(...batch.labels);
      }
      values = await scopeAsync(async () =>
        await noGrad(() => concat([...logits, lossSum], 0)).toArray()
      );
    } finally {
      loader.close();
      for (const l of logits) l.dispose();
      lossSum.dispose();
      if (wasTraining) this.model.train();
    }
    const n = labelIds.length;
    return {
      predictions: values.slice(0, n * classes),
      labelIds,
      loss: values[n * classes] / n,
      runtime: (performance.now() - t0) / 1000,
    };
  }

  /**
   * Evaluates: loss, accuracy and per-class precision/recall/F1, keyed with the prefix as HF
   * does (`eval_loss`, `eval_accuracy`, …), logged and recorded; and the confusion matrix.
   *
   * @param dataset Rows (the eval dataset by default).
   * @param prefix Key prefix ("eval", or "test" for a test split).
   * @returns The metrics and the confusion matrix.
   */
  async evaluate(
    dataset: Dataset<ImageExample> | undefined = this.#options.evalDataset,
    prefix = "eval",
  ): Promise<EvalOutput> {
    const phases = this.#options.phases;
    await phases?.begin("evaluation");
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
    await this.#record({ ...metrics, step: this.state.global_step });
    this.#log(JSON.stringify({ ...metrics, step: this.state.global_step }));
    await this.#callEach("onEvaluate", metrics, report.confusionMatrix);
    await phases?.end();
    if (!this.#training) await this.#flushEvents();
    return { metrics, confusionMatrix: report.confusionMatrix };
  }

  /** Saves the model and processor to `dir` (the output folder by default), as save_model. */
  async saveModel(dir = this.args.outputDir): Promise<void> {
    await this.#options.phases?.begin("checkpoint writing");
    const values = this.#optimizer ? await parameterValues(this.model, this.#optimizer) : undefined;
    if (loraState(this.model as unknown as Module)) {
      await saveAdapter(this.model as unknown as Module, dir, { values });
    } else await this.model.savePretrained(dir, { values });
    await this.processor.savePretrained(dir);
    await writeAtomic(
      joinPath(dir, "training_args.json"),
      JSON.stringify(toTrainingArgsJson(this.args), null, 2) + "\n",
    );
    await this.#options.phases?.end();
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
      all = await readJson(joinPath(dir, "all_results.json")) as Record<string, unknown>;
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
