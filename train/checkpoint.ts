/**
 * Training checkpoints: `checkpoint-N/` with the model (config.json, model.safetensors), the
 * processor, the optimiser moments (optimizer.safetensors, where HF writes a pickle), the
 * scheduler position, the RNG and loss counters, trainer_state.json and the arguments. A
 * checkpoint is written beside its final name and renamed into place, so a crash never leaves a
 * half-written one that a resume would pick up; rotation renames a folder away before deleting
 * it, and the next save removes what a killed process left. Rotation follows HF: the oldest go
 * first, and the best is never deleted.
 *
 * @module
 */

import {
  exists,
  fileSystem,
  joinPath,
  listDir,
  processId,
  readBytes,
  readJson,
  writeAtomic,
} from "../io/files.ts";
import { CheckpointError } from "../nn/checkpoint.ts";
import { loadAdapterWeights, loraState, saveAdapter } from "../nn/lora.ts";
import type { Module } from "../nn/module.ts";
import { parseSafetensors, serializeSafetensors } from "../nn/safetensors.ts";
import type { ImageClassifier } from "../nn/image_classifier.ts";
import type { ImageProcessor } from "../data/image_processor.ts";
import type { AdamW } from "../tensor/adamw.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { toTrainingArgsJson, type TrainingArguments } from "./args.ts";
import type { TrainerState } from "./state.ts";

/** The counters that an exact resume needs beyond the weights and moments. */
export interface RngState {
  /** Dropout generator seed and calls so far. */
  dropout: { seed: number; calls: number };
  /** Sum of step losses so far (for train_loss). */
  trLossSum: number;
  /** Sum of step losses since the last log line. */
  trLossSinceLog: number;
  /** Steps since the last log line. */
  stepsSinceLog: number;
  /** Dynamic loss scale of fp16 training and clean steps since it last changed. */
  scaler?: { scale: number; growthTracker: number };
}

/** Everything a checkpoint holds. */
export interface CheckpointInfo {
  /** The model. */
  model: ImageClassifier;
  /** The processor. */
  processor: ImageProcessor;
  /** The optimiser, whose arenas hold the parameters and moments. */
  optimizer: AdamW;
  /** Trainer state. */
  state: TrainerState;
  /** Arguments. */
  args: TrainingArguments;
  /** Counters. */
  rng: RngState;
  /** Optimiser steps applied, the schedule's position (the global step when omitted). */
  schedulerStep?: number;
}

const CHECKPOINT = /^checkpoint-(\d+)$/;
/** What a save or a rotation that died half-way leaves beside the checkpoints. */
const LEFTOVER = /^checkpoint-\d+\.(tmp|old|deleting)-\d+$/;

/**
 * Removes the temporary, replaced and half-deleted checkpoint folders that a killed save left in
 * an output folder; none of them is ever read. Saves run one at a time, so none is in use.
 */
async function removeLeftovers(outputDir: string): Promise<void> {
  if (!(await exists(outputDir))) return;
  for (const e of await listDir(outputDir)) {
    if (LEFTOVER.test(e.name)) await fileSystem().remove(joinPath(outputDir, e.name));
  }
}

/** Each parameter tensor's Hugging Face name. */
function parameterNames(model: ImageClassifier): Map<Tensor, string> {
  return new Map(model.namedParameters().map(([n, t]) => [t, n]));
}

/**
 * Every parameter's current values by name, read from the optimiser's arenas (one readback per
 * arena buffer instead of one per parameter).
 *
 * @param model The model whose parameter names are used.
 * @param optimizer The optimiser that holds the parameters.
 * @returns Values by Hugging Face name.
 */
export async function parameterValues(
  model: ImageClassifier,
  optimizer: AdamW,
): Promise<Map<string, Float32Array>> {
  const names = parameterNames(model);
  const values = await optimizer.readParameters();
  return new Map(optimizer.parameters.map((t, i) => {
    const name = names.get(t);
    if (!name) throw new Error("the optimiser holds a tensor that is not a model parameter");
    return [name, values[i]];
  }));
}

/**
 * Writes a checkpoint atomically (as a folder rename).
 *
 * @param dir The checkpoint folder, `…/checkpoint-N`.
 * @param info What to save.
 */
export async function saveCheckpoint(dir: string, info: CheckpointInfo): Promise<void> {
  const fs = fileSystem();
  await removeLeftovers(dir.slice(0, Math.max(0, dir.lastIndexOf("/"))) || ".");
  const temp = `${dir}.tmp-${processId()}`;
  await fs.remove(temp).catch(() => {});
  await fs.mkdir(temp);
  try {
    const names = parameterNames(info.model);
    const params = info.optimizer.parameters;
    const values = await parameterValues(info.model, info.optimizer);
    // With LoRA a checkpoint holds the adapter (PEFT's files), not the whole model.
    if (loraState(info.model as unknown as Module)) {
      await saveAdapter(info.model as unknown as Module, temp, { values });
    } else await info.model.savePretrained(temp, { values });
    await info.processor.savePretrained(temp);
    const state = await info.optimizer.exportState();
    const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
    params.forEach((t, i) => {
      const name = names.get(t)!;
      entries.push([`${name}.exp_avg`, { shape: t.shape, data: state.expAvg[i] }]);
      entries.push([`${name}.exp_avg_sq`, { shape: t.shape, data: state.expAvgSq[i] }]);
    });
    await writeAtomic(
      joinPath(temp, "optimizer.safetensors"),
      serializeSafetensors(entries, { metadata: { step: String(state.step), optimizer: "AdamW" } }),
    );
    await writeAtomic(
      joinPath(temp, "scheduler.json"),
      JSON.stringify({
        last_epoch: info.schedulerStep ?? info.state.global_step,
        _last_lr: [info.optimizer.lr],
      }) + "\n",
    );
    await writeAtomic(joinPath(temp, "rng_state.json"), JSON.stringify(info.rng) + "\n");
    await writeAtomic(
      joinPath(temp, "training_args.json"),
      JSON.stringify(toTrainingArgsJson(info.args), null, 2) + "\n",
    );
    await writeAtomic(
      joinPath(temp, "trainer_state.json"),
      JSON.stringify(info.state, null, 2) + "\n",
    );
    if (await exists(dir)) {
      const old = `${dir}.old-${processId()}`;
      await fs.rename(dir, old);
      await fs.rename(temp, dir);
      await fs.remove(old);
    } else {
      await fs.rename(temp, dir);
    }
  } catch (error) {
    await fs.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Restores a checkpoint into a model and, when given, an optimiser.
 *
 * @param dir The checkpoint folder.
 * @param model Receives the weights (every key must be present, with equal shapes).
 * @param optimizer Receives the moments and step count, or null for weights only.
 * @returns The trainer state, the counters and the schedule's position.
 * @throws {CheckpointError|FileError} Naming the file at fault.
 */
export async function loadCheckpoint(
  dir: string,
  model: ImageClassifier,
  optimizer: AdamW | null,
): Promise<{ state: TrainerState; rng: RngState; schedulerStep: number }> {
  const adapter = loraState(model as unknown as Module) !== null;
  const weightsPath = joinPath(dir, adapter ? "adapter_model.safetensors" : "model.safetensors");
  const bytes = await readBytes(weightsPath);
  if (adapter) loadAdapterWeights(model as unknown as Module, bytes, weightsPath);
  else {
    const { tensors } = parseSafetensors(bytes, weightsPath);
    for (const [name, t] of model.namedParameters()) {
      const entry = tensors.get(name);
      if (!entry) throw new CheckpointError(weightsPath, `'${name}' is missing`);
      if (entry.shape.join() !== t.shape.join()) {
        throw new CheckpointError(
          weightsPath,
          `'${name}' has shape [${entry.shape}], the model [${t.shape}]`,
        );
      }
      t.assign(entry.data);
    }
  }
  const state = await readJson(joinPath(dir, "trainer_state.json")) as TrainerState;
  const rng = await readJson(joinPath(dir, "rng_state.json")) as RngState;
  if (optimizer) {
    const optPath = joinPath(dir, "optimizer.safetensors");
    const opt = parseSafetensors(await readBytes(optPath), optPath);
    const names = parameterNames(model);
    const get = (key: string) => {
      const e = opt.tensors.get(key);
      if (!e) throw new CheckpointError(optPath, `'${key}' is missing`);
      return e.data;
    };
    optimizer.importState({
      step: Number(opt.metadata.step ?? state.global_step),
      expAvg: optimizer.parameters.map((t) => get(`${names.get(t)}.exp_avg`)),
      expAvgSq: optimizer.parameters.map((t) => get(`${names.get(t)}.exp_avg_sq`)),
    });
  }
  // Older checkpoints and skip-free runs: the schedule's position is the global step.
  let schedulerStep = state.global_step;
  const schedulerPath = joinPath(dir, "scheduler.json");
  if (await exists(schedulerPath)) {
    const saved = (await readJson(schedulerPath) as { last_epoch?: unknown }).last_epoch;
    if (typeof saved === "number") schedulerStep = saved;
  }
  return { state, rng, schedulerStep };
}

/** Complete checkpoints of an output folder, oldest first. */
export async function listCheckpoints(outputDir: string): Promise<string[]> {
  if (!(await exists(outputDir))) return [];
  const found: [number, string][] = [];
  for (const e of await listDir(outputDir)) {
    const m = e.isDirectory ? e.name.match(CHECKPOINT) : null;
    const dir = joinPath(outputDir, e.name);
    if (m && await exists(joinPath(dir, "trainer_state.json"))) found.push([Number(m[1]), dir]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, d]) => d);
}

/** The newest complete checkpoint of an output folder, or null. */
export async function latestCheckpoint(outputDir: string): Promise<string | null> {
  return (await listCheckpoints(outputDir)).at(-1) ?? null;
}

/**
 * Deletes the oldest checkpoints beyond `limit`, never the best one, as HF's
 * `_rotate_checkpoints`.
 *
 * @param outputDir The output folder.
 * @param limit saveTotalLimit (null keeps all).
 * @param best The best checkpoint's folder, if any.
 * @returns The deleted folders.
 */
export async function rotateCheckpoints(
  outputDir: string,
  limit: number | null,
  best: string | null,
): Promise<string[]> {
  if (limit === null) return [];
  const sorted = await listCheckpoints(outputDir);
  const bestIndex = best ? sorted.indexOf(best) : -1;
  if (bestIndex >= 0) {
    for (let i = bestIndex; i < sorted.length - 2; i++) {
      [sorted[i], sorted[i + 1]] = [sorted[i + 1], sorted[i]];
    }
  }
  let keep = limit;
  if (best && limit === 1 && sorted.at(-1) !== best) keep = 2;
  const remove = sorted.slice(0, Math.max(0, sorted.length - keep));
  for (const dir of remove) {
    // Renamed first, so that a kill during the removal never leaves a half-deleted folder
    // under a checkpoint's name.
    const doomed = `${dir}.deleting-${processId()}`;
    await fileSystem().rename(dir, doomed);
    await fileSystem().remove(doomed);
  }
  return remove;
}
