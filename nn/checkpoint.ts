/**
 * Matching a model's parameters with a checkpoint's tensors, as Transformers'
 * `from_pretrained` does: keys with or without the base-model prefix, a report of unused,
 * missing and mismatched keys, and fresh initialisation of a mismatched head. No file I/O.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import type { SafetensorsEntry } from "./safetensors.ts";

/** What loading a checkpoint did. */
export interface LoadReport {
  /** Model parameters filled from the checkpoint. */
  loaded: string[];
  /** Model parameters absent from the checkpoint (left as initialised). */
  missing: string[];
  /** Model parameters whose checkpoint shape differs (left as initialised). */
  mismatched: { name: string; checkpoint: number[]; model: readonly number[] }[];
  /** Checkpoint tensors the model has no place for. */
  unused: string[];
}

/** A checkpoint that does not fit its model, naming the file. */
export class CheckpointError extends Error {
  /**
   * Creates the error; its message is `file: problem`.
   *
   * @param file The weights file.
   * @param problem What is wrong.
   */
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "CheckpointError";
  }
}

/**
 * Copies checkpoint tensors into a model's parameters by name. A key may carry or lack the
 * base-model prefix (`vit.`). Shape mismatches are allowed only for parameters that
 * `reinitializable` accepts (the classification head), which then keep their fresh values.
 *
 * @param params The model's named parameters.
 * @param tensors The checkpoint's tensors by key.
 * @param file The checkpoint, for error messages.
 * @param options `prefix` of the base model ("vit."), `reinitializable` names.
 * @returns What was loaded, missing, mismatched and unused.
 * @throws {CheckpointError} When a non-head parameter's shape differs.
 * @example
 * ```ts
 * import { loadParameters } from "./checkpoint.ts";
 * import { Linear } from "./layers.ts";
 * const fc = new Linear(2, 1);
 * const weight = { dtype: "F32" as const, shape: [1, 2], data: new Float32Array([3, 4]) };
 * const ckpt = new Map([["weight", weight]]);
 * console.log(loadParameters(fc.namedParameters(), ckpt, "x").missing); // ["bias"]
 * ```
 */
export function loadParameters(
  params: ReadonlyArray<[string, Tensor]>,
  tensors: ReadonlyMap<string, SafetensorsEntry>,
  file: string,
  options: { prefix?: string; reinitializable?: (name: string) => boolean } = {},
): LoadReport {
  const prefix = options.prefix ?? "vit.";
  const reinit = options.reinitializable ?? (() => false);
  const used = new Set<string>();
  const report: LoadReport = { loaded: [], missing: [], mismatched: [], unused: [] };
  for (const [name, param] of params) {
    const candidates = name.startsWith(prefix)
      ? [name, name.slice(prefix.length)]
      : [name, prefix + name];
    const key = candidates.find((k) => tensors.has(k));
    if (key === undefined) {
      report.missing.push(name);
      continue;
    }
    used.add(key);
    const entry = tensors.get(key)!;
    const same = entry.shape.length === param.shape.length &&
      entry.shape.every((d, i) => d === param.shape[i]);
    if (!same) {
      if (!reinit(name)) {
        throw new CheckpointError(
          file,
          `'${key}' has shape [${entry.shape}] but the config gives [${param.shape}]`,
        );
      }
      report.mismatched.push({ name, checkpoint: entry.shape, model: param.shape });
      continue;
    }
    param.assign(entry.data);
    report.loaded.push(name);
  }
  report.unused = [...tensors.keys()].filter((k) => !used.has(k));
  return report;
}

/**
 * The warnings Transformers prints after loading, for a report.
 *
 * @param report What loading did.
 * @param className The model class.
 * @param where The checkpoint folder.
 * @returns Zero or more messages.
 */
export function loadWarnings(report: LoadReport, className: string, where: string): string[] {
  const out: string[] = [];
  if (report.unused.length > 0) {
    out.push(
      `Some weights of the model checkpoint at ${where} were not used when initializing ` +
        `${className}: ${JSON.stringify(report.unused)}`,
    );
  }
  if (report.missing.length > 0) {
    out.push(
      `Some weights of ${className} were not initialized from the model checkpoint at ${where} ` +
        `and are newly initialized: ${JSON.stringify(report.missing)}\n` +
        "You should probably TRAIN this model on a down-stream task to be able to use it for " +
        "predictions and inference.",
    );
  }
  if (report.mismatched.length > 0) {
    out.push(
      `Some weights of ${className} were not initialized from the model checkpoint at ${where} ` +
        "and are newly initialized because the shapes did not match:\n" +
        report.mismatched.map((m) =>
          `- ${m.name}: found shape [${m.checkpoint}] in the checkpoint and [${m.model}] in the ` +
          "model instantiated"
        ).join("\n"),
    );
  }
  return out;
}
