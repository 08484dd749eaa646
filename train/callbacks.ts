/**
 * Trainer callbacks, as Hugging Face's `TrainerCallback` and `TrainerControl`: hooks called at
 * the start and end of training, after each optimiser step, on each log entry, after each
 * evaluation and after each checkpoint, with a control object through which a callback steers
 * the run (log, evaluate or save now; stop). A page draws live progress from them and stops
 * training with `control.shouldTrainingStop = true`.
 *
 * @module
 */

import type { TrainingArguments } from "./args.ts";
import type { TrainerState } from "./state.ts";
import type { ProgressInfo } from "./trainer.ts";

/**
 * What the Trainer does after the current step, as HF's TrainerControl. Before a step's
 * `onStepEnd`, the Trainer sets `shouldLog`, `shouldEvaluate` and `shouldSave` from the
 * strategies; callbacks may change them.
 */
export interface TrainerControl {
  /**
   * End training after this step. Unlike HF, a checkpoint is saved first, so the run can be
   * resumed with `resumeFromCheckpoint`.
   */
  shouldTrainingStop: boolean;
  /** Record a log entry at this step. */
  shouldLog: boolean;
  /** Evaluate at this step. */
  shouldEvaluate: boolean;
  /** Save a checkpoint at this step. */
  shouldSave: boolean;
}

/**
 * Hooks into a training run, all optional, as HF's TrainerCallback (camelCase names). Each may
 * return a promise, which the Trainer awaits; an error thrown ends training.
 *
 * @example
 * ```ts ignore
 * const stopAtTen: TrainerCallback = {
 *   onStepEnd(_args, state, control, progress) {
 *     console.log(`${progress.step}/${progress.maxSteps} ${progress.samplesPerSecond} img/s`);
 *     if (state.global_step === 10) control.shouldTrainingStop = true;
 *   },
 *   onEvaluate(_args, _state, _control, metrics, confusionMatrix) {
 *     console.log(metrics.eval_accuracy, confusionMatrix);
 *   },
 * };
 * const trainer = new Trainer({ model, args, processor, trainDataset, callbacks: [stopAtTen] });
 * ```
 */
export interface TrainerCallback {
  /**
   * Training starts (after a resume restored its state).
   *
   * @param args The arguments.
   * @param state The state.
   * @param control The control.
   */
  onTrainBegin?(
    args: TrainingArguments,
    state: TrainerState,
    control: TrainerControl,
  ): void | Promise<void>;
  /**
   * An optimiser step ended; logging, evaluation and saving for it follow.
   *
   * @param args The arguments.
   * @param state The state (global_step counts this step).
   * @param control The control.
   * @param progress Step of total, epoch, loss, learning rate, speed and time left.
   */
  onStepEnd?(
    args: TrainingArguments,
    state: TrainerState,
    control: TrainerControl,
    progress: ProgressInfo,
  ): void | Promise<void>;
  /**
   * A log entry was recorded: a training log line (`loss`, `learning_rate`, `grad_norm`,
   * `epoch`), evaluation metrics, or the final training metrics.
   *
   * @param args The arguments.
   * @param state The state.
   * @param control The control.
   * @param logs The entry, as appended to `state.log_history`.
   */
  onLog?(
    args: TrainingArguments,
    state: TrainerState,
    control: TrainerControl,
    logs: Record<string, number>,
  ): void | Promise<void>;
  /**
   * An evaluation ended.
   *
   * @param args The arguments.
   * @param state The state.
   * @param control The control.
   * @param metrics `eval_loss`, `eval_accuracy`, per-class precision/recall/F1, …
   * @param confusionMatrix Counts with true classes as rows, predicted classes as columns.
   */
  onEvaluate?(
    args: TrainingArguments,
    state: TrainerState,
    control: TrainerControl,
    metrics: Record<string, number>,
    confusionMatrix: number[][],
  ): void | Promise<void>;
  /**
   * A checkpoint was saved (and older ones rotated away).
   *
   * @param args The arguments.
   * @param state The state.
   * @param control The control.
   * @param checkpoint The checkpoint's folder, `output_dir/checkpoint-N`.
   */
  onSave?(
    args: TrainingArguments,
    state: TrainerState,
    control: TrainerControl,
    checkpoint: string,
  ): void | Promise<void>;
  /**
   * Training ended (at its last step or stopped).
   *
   * @param args The arguments.
   * @param state The state.
   * @param control The control.
   */
  onTrainEnd?(
    args: TrainingArguments,
    state: TrainerState,
    control: TrainerControl,
  ): void | Promise<void>;
}

/**
 * A control with every flag off.
 *
 * @returns The control.
 */
export function newTrainerControl(): TrainerControl {
  return { shouldTrainingStop: false, shouldLog: false, shouldEvaluate: false, shouldSave: false };
}
