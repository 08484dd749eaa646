/**
 * trainer_state.json with Hugging Face's fields.
 *
 * @module
 */

import type { TrainingArguments } from "./args.ts";

/** HF's TrainerState, as trainer_state.json stores it. */
export interface TrainerState {
  /** Best value of the metric for the best model. */
  best_metric: number | null;
  /** Checkpoint folder that holds the best model. */
  best_model_checkpoint: string | null;
  /** Fractional epochs done. */
  epoch: number;
  /** Evaluation interval in steps. */
  eval_steps: number | null;
  /** Optimiser steps done. */
  global_step: number;
  /** Always false here. */
  is_hyper_param_search: boolean;
  /** Always true here (one process). */
  is_local_process_zero: boolean;
  /** Always true here (one process). */
  is_world_process_zero: boolean;
  /** Every log, evaluation and the final summary, in order. */
  log_history: Record<string, number>[];
  /** Logging interval. */
  logging_steps: number;
  /** Total steps of the run. */
  max_steps: number;
  /** Tokens seen (not tracked for images). */
  num_input_tokens_seen: number;
  /** Epochs of the run. */
  num_train_epochs: number;
  /** Saving interval. */
  save_steps: number;
  /** Callback states (none). */
  stateful_callbacks: Record<string, unknown>;
  /** 6 × parameters × input elements per sample × samples seen. */
  total_flos: number;
  /** Batch size per step. */
  train_batch_size: number;
  /** Hyper-parameter search fields (unused). */
  trial_name: null;
  /** Hyper-parameter search fields (unused). */
  trial_params: null;
}

/** A fresh state for a run with these arguments. */
export function newTrainerState(args: TrainingArguments): TrainerState {
  return {
    best_metric: null,
    best_model_checkpoint: null,
    epoch: 0,
    eval_steps: args.evalSteps,
    global_step: 0,
    is_hyper_param_search: false,
    is_local_process_zero: true,
    is_world_process_zero: true,
    log_history: [],
    logging_steps: args.loggingSteps,
    max_steps: 0,
    num_input_tokens_seen: 0,
    num_train_epochs: args.numTrainEpochs,
    save_steps: args.saveSteps,
    stateful_callbacks: {},
    total_flos: 0,
    train_batch_size: args.perDeviceTrainBatchSize,
    trial_name: null,
    trial_params: null,
  };
}
