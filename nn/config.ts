/**
 * The config plumbing every model family shares: Hugging Face's `PretrainedConfig` fields, the
 * `ConfigError` that names the file, label resolution (`num_labels`, `id2label`, `label2id`) and
 * config.json's serialisation. Each family's own fields, defaults and presets live in its folder
 * under `models/`. No file I/O: the caller passes the parsed fields and the file they came from,
 * which every error names.
 *
 * @module
 */

/** The fields every config.json has, as HF's PretrainedConfig. */
export interface PretrainedConfig {
  /** Which model family the file describes ("vit", "deit"). */
  model_type: string;
  /** Class names by index (JSON keys are strings, as HF writes them). */
  id2label: Record<string, string>;
  /** Class indices by name. */
  label2id: Record<string, number>;
  /** Model classes this checkpoint was saved from. */
  architectures?: string[];
  /** Other fields of the file, kept so that saving does not lose them. */
  [extra: string]: unknown;
}

/** A config.json problem, naming the file. */
export class ConfigError extends Error {
  /**
   * Creates the error; its message is `file: problem`.
   *
   * @param file The config file.
   * @param problem What is wrong.
   */
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ConfigError";
  }
}

/** Labels "LABEL_0" … for `n` classes, as HF makes them. */
function defaultLabels(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), `LABEL_${i}`]));
}

/**
 * Fills id2label and label2id from `num_labels` or each other, as HF's PretrainedConfig.
 *
 * @param config The config being built (defaults and fields merged).
 * @param fields The fields as given, to tell which of the three were set.
 * @param file Where they came from, for errors.
 * @throws {ConfigError} When the labels are inconsistent.
 */
export function resolveLabels(
  config: PretrainedConfig,
  fields: Record<string, unknown>,
  file: string,
): void {
  const numLabels = fields.num_labels;
  if (fields.id2label === undefined) {
    if (numLabels !== undefined && (!Number.isInteger(numLabels) || (numLabels as number) < 1)) {
      throw new ConfigError(
        file,
        `num_labels must be a positive integer, got ${JSON.stringify(numLabels)}`,
      );
    }
    config.id2label = defaultLabels((numLabels as number | undefined) ?? 2);
  }
  const id2label = config.id2label;
  if (!id2label || typeof id2label !== "object") {
    throw new ConfigError(file, "id2label is not an object");
  }
  const ids = Object.keys(id2label).map(Number).sort((a, b) => a - b);
  if (ids.some((id, i) => id !== i) || ids.length === 0) {
    throw new ConfigError(
      file,
      `id2label keys must be 0..n-1, got ${Object.keys(id2label).join(", ")}`,
    );
  }
  if (numLabels !== undefined && numLabels !== ids.length) {
    throw new ConfigError(
      file,
      `num_labels ${numLabels} disagrees with ${ids.length} entries of id2label`,
    );
  }
  if (fields.label2id === undefined || fields.id2label === undefined) {
    config.label2id = Object.fromEntries(Object.entries(id2label).map(([i, l]) => [l, Number(i)]));
  }
}

/** Number of classes of a config. */
export function numLabels(config: PretrainedConfig): number {
  return Object.keys(config.id2label).length;
}

/** Serialises a config as HF writes config.json (sorted keys, 2-space indent). */
export function configToJson(config: PretrainedConfig): string {
  const sorted = Object.fromEntries(
    Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return JSON.stringify(sorted, null, 2) + "\n";
}
