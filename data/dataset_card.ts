/**
 * The YAML header of a Hub dataset card (README.md): its `configs` (which files make which
 * split) and `dataset_info` (the features, with ClassLabel names). The header is read with a
 * small block-YAML reader that covers what the Hub and `push_to_hub` write: nested mappings,
 * sequences (indented or not), plain, quoted and flow-sequence scalars, and comments. Anchors,
 * tags and multi-document streams are not YAML that dataset cards use, and are refused.
 *
 * @module
 */

/** A YAML header that this reader cannot parse, with the card's name. */
export class DatasetCardError extends Error {
  /**
   * Creates the error; its message is `file: problem`.
   *
   * @param file The card.
   * @param problem What is wrong.
   */
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
    this.name = "DatasetCardError";
  }
}

interface _Line {
  indent: number;
  text: string;
  number: number;
}

/** A scalar: quoted strings as they are, plain ones as booleans, null, numbers or strings. */
function _scalar(text: string, fail: (problem: string) => never): unknown {
  const t = text.trim();
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) fail(`unterminated quoted string ${t}`);
    return t.slice(1, -1).replaceAll("''", "'");
  }
  if (t.startsWith('"')) {
    try {
      return JSON.parse(t);
    } catch {
      return fail(`malformed double-quoted string ${t}`);
    }
  }
  if (t.startsWith("[")) {
    if (!t.endsWith("]")) fail(`unterminated flow sequence ${t}`);
    const inner = t.slice(1, -1).trim();
    return inner === "" ? [] : _splitFlow(inner).map((part) => _scalar(part, fail));
  }
  if (t.startsWith("{")) {
    if (!t.endsWith("}")) fail(`unterminated flow mapping ${t}`);
    const inner = t.slice(1, -1).trim();
    const out: Record<string, unknown> = {};
    for (const part of inner === "" ? [] : _splitFlow(inner)) {
      const end = _keyEnd(part.trim());
      if (end <= 0) fail(`expected "key: value" in flow mapping ${t}`);
      out[String(_scalar(part.trim().slice(0, end), fail))] = _scalar(
        part.trim().slice(end + 1),
        fail,
      );
    }
    return out;
  }
  if (t.startsWith("&") || t.startsWith("*") || t.startsWith("!")) {
    fail(`unsupported YAML ${t.slice(0, 20)} (anchors, aliases and tags)`);
  }
  if (t === "" || t === "~" || t === "null") return null;
  if (t === "true" || t === "false") return t === "true";
  if (/^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) return Number(t);
  return t;
}

/** Splits a flow collection's inside at top-level commas (not in quotes or nested brackets). */
function _splitFlow(text: string): string[] {
  const parts: string[] = [];
  let quote = "";
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The text before a comment (`#` at the start or after a space, outside quotes). */
function _stripComment(text: string): string {
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || text[i - 1] === " ")) return text.slice(0, i);
  }
  return text;
}

/** Index of the `:` that ends a mapping key (followed by a space or the line's end), or -1. */
function _keyEnd(text: string): number {
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if ((c === "'" || c === '"') && i === 0) quote = c;
    else if (c === ":" && (i + 1 === text.length || text[i + 1] === " ")) return i;
  }
  return -1;
}

/**
 * Parses the block YAML that dataset cards use.
 *
 * @param text The YAML.
 * @param file The card, for errors.
 * @param firstLine The file's line number of the text's first line (messages count from it).
 * @returns The value (mappings as plain objects).
 * @throws {DatasetCardError} Naming the file and line of what cannot be read.
 * @example
 * ```ts
 * import { parseCardYaml } from "./dataset_card.ts";
 * console.log(parseCardYaml("configs:\n- config_name: default\n  data_files: data/*.parquet\n",
 *   "README.md")); // { configs: [ { config_name: "default", data_files: "data/*.parquet" } ] }
 * ```
 */
export function parseCardYaml(text: string, file: string, firstLine = 1): unknown {
  const lines: _Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.includes("\t") && /^\s*\t/.test(raw)) {
      throw new DatasetCardError(file, `line ${i + firstLine}: tabs indent YAML`);
    }
    const body = _stripComment(raw).trimEnd();
    if (body.trim() === "" || body.trim() === "---" || body.trim() === "...") return;
    lines.push({
      indent: body.length - body.trimStart().length,
      text: body.trim(),
      number: i + firstLine,
    });
  });
  let at = 0;
  const fail = (problem: string): never => {
    const line = lines[Math.min(at, lines.length - 1)];
    throw new DatasetCardError(file, `line ${line?.number ?? 1}: ${problem}`);
  };
  const isItem = (l: _Line) => l.text === "-" || l.text.startsWith("- ");
  // A scalar may continue on more-indented lines (folded with spaces), as long text wraps.
  const continued = (first: string, indent: number): string => {
    let text = first;
    while (at < lines.length && lines[at].indent > indent) text += ` ${lines[at++].text}`;
    return text;
  };

  function block(indent: number): unknown {
    const first = lines[at];
    if (!first || first.indent < indent) return null;
    return isItem(first) ? sequence(first.indent) : mapping(first.indent);
  }

  function sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    while (at < lines.length && lines[at].indent === indent && isItem(lines[at])) {
      const line = lines[at];
      const rest = line.text.slice(1).trimStart();
      if (rest === "") {
        at++;
        out.push(block(indent + 1));
      } else if (_keyEnd(rest) > 0 || rest.startsWith("- ")) {
        // "- key: value" opens a mapping (or "- - x" a sequence) at the column of its text.
        const column = indent + line.text.length - rest.length;
        lines[at] = { indent: column, text: rest, number: line.number };
        out.push(block(column));
      } else {
        at++;
        out.push(_scalar(continued(rest, indent), fail));
      }
    }
    return out;
  }

  function mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (at < lines.length && lines[at].indent === indent && !isItem(lines[at])) {
      const line = lines[at];
      const end = _keyEnd(line.text);
      if (end <= 0) fail(`expected "key: value", got ${line.text.slice(0, 40)}`);
      const key = String(_scalar(line.text.slice(0, end), fail));
      const rest = line.text.slice(end + 1).trim();
      at++;
      if (rest === "|" || rest === ">" || /^[|>][-+]?$/.test(rest)) {
        const parts: string[] = [];
        while (at < lines.length && lines[at].indent > indent) parts.push(lines[at++].text);
        out[key] = parts.join(rest.startsWith("|") ? "\n" : " ");
      } else if (rest !== "") {
        out[key] = _scalar(continued(rest, indent), fail);
      } else if (at < lines.length && lines[at].indent > indent) {
        out[key] = block(indent + 1);
      } else if (at < lines.length && lines[at].indent === indent && isItem(lines[at])) {
        out[key] = sequence(indent); // "key:\n- item", the style push_to_hub writes
      } else {
        out[key] = null;
      }
    }
    return out;
  }

  const value = block(0);
  if (at < lines.length) fail(`unexpected indentation of ${lines[at].text.slice(0, 40)}`);
  return value;
}

/**
 * The YAML header of a dataset card, parsed.
 *
 * @param card The README.md text.
 * @param file Its name, for errors.
 * @returns The header's mapping, or an empty one when the card has no header.
 * @throws {DatasetCardError} When the header is not YAML this reader understands.
 * @example
 * ```ts
 * import { cardHeader } from "./dataset_card.ts";
 * console.log(cardHeader("---\npretty_name: Beans\n---\n# Beans", "README.md"));
 * // { pretty_name: "Beans" }
 * ```
 */
export function cardHeader(card: string, file: string): Record<string, unknown> {
  const header = card.replace(/^\uFEFF/, "").match(/^---\r?\n([\s\S]*?)\r?\n---\s*(\r?\n|$)/);
  if (!header) return {};
  const value = parseCardYaml(header[1], file, 2); // line 1 is the opening "---"
  if (value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new DatasetCardError(file, "the YAML header is not a mapping");
  }
  return value as Record<string, unknown>;
}

/** One config of a card: its name and its data files by split (patterns, as written). */
export interface CardConfig {
  /** `config_name`. */
  name: string;
  /** Patterns by split, in the card's order; `train` for a bare list or string. */
  dataFiles: Map<string, string[]>;
}

function _patterns(value: unknown, where: string, file: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((p) => typeof p === "string" && p !== "")) {
    throw new DatasetCardError(file, `${where} must be a path or a list of paths`);
  }
  return list as string[];
}

/**
 * The config a card selects, as `load_dataset` picks it: the one named `name`, else the one
 * marked `default: true`, else the one named "default", else the only one.
 *
 * @param header The card's YAML header.
 * @param file The card, for errors.
 * @param name The config asked for, if any.
 * @returns The config, or null when the card declares no `configs`.
 * @throws {DatasetCardError} When the asked config is absent, several could be meant, or a
 * config's data_files are malformed.
 * @example
 * ```ts
 * import { cardHeader, selectCardConfig } from "./dataset_card.ts";
 * const header = cardHeader("---\nconfigs:\n- config_name: default\n  data_files:\n" +
 *   "  - split: train\n    path: data/train-*\n---\n", "README.md");
 * console.log(selectCardConfig(header, "README.md")?.dataFiles); // Map { "train" => [...] }
 * ```
 */
export function selectCardConfig(
  header: Record<string, unknown>,
  file: string,
  name?: string,
): CardConfig | null {
  const configs = header.configs;
  if (configs === undefined || configs === null) {
    if (name !== undefined) throw new DatasetCardError(file, `has no configs, so no '${name}'`);
    return null;
  }
  if (!Array.isArray(configs) || !configs.every((c) => c && typeof c === "object")) {
    throw new DatasetCardError(file, "configs must be a list of mappings");
  }
  const list = configs as Record<string, unknown>[];
  const names = list.map((c) => String(c.config_name ?? "default"));
  const pick = name !== undefined
    ? names.indexOf(name)
    : list.findIndex((c) => c.default === true) >= 0
    ? list.findIndex((c) => c.default === true)
    : names.includes("default")
    ? names.indexOf("default")
    : list.length === 1
    ? 0
    : -2;
  if (pick === -2) {
    throw new DatasetCardError(file, `declares configs ${names.join(", ")}; say which one to load`);
  }
  if (pick < 0) {
    throw new DatasetCardError(file, `has no config '${name}' (configs: ${names.join(", ")})`);
  }
  const config = list[pick];
  const where = `configs '${names[pick]}' data_files`;
  const dataFiles = new Map<string, string[]>();
  const raw = config.data_files;
  const dir = typeof config.data_dir === "string" ? config.data_dir.replace(/\/+$/, "") : "";
  const within = (p: string) => dir ? `${dir}/${p}` : p;
  if (raw === undefined || raw === null) {
    if (dir) dataFiles.set("train", [`${dir}/**`]);
  } else if (Array.isArray(raw) && raw.some((d) => d && typeof d === "object")) {
    for (const entry of raw as Record<string, unknown>[]) {
      if (!entry || typeof entry !== "object" || typeof entry.split !== "string") {
        throw new DatasetCardError(file, `${where} entries need a split and a path`);
      }
      if (dataFiles.has(entry.split)) {
        throw new DatasetCardError(file, `${where} names split '${entry.split}' twice`);
      }
      dataFiles.set(entry.split, _patterns(entry.path, where, file).map(within));
    }
  } else if (typeof raw === "object" && !Array.isArray(raw)) {
    for (const [split, value] of Object.entries(raw as Record<string, unknown>)) {
      dataFiles.set(split, _patterns(value, where, file).map(within));
    }
  } else {
    dataFiles.set("train", _patterns(raw, where, file).map(within));
  }
  return { name: names[pick], dataFiles };
}

/**
 * A card's features for a config: column names with their `dtype` (as written).
 *
 * @param header The card's YAML header.
 * @param config The config whose `dataset_info` to read, when it lists several.
 * @returns The features in order; none when the card has no `dataset_info.features`.
 * @example
 * ```ts
 * import { cardFeatures, cardHeader } from "./dataset_card.ts";
 * const header = cardHeader("---\ndataset_info:\n  features:\n  - name: image\n" +
 *   "    dtype: image\n---\n", "README.md");
 * console.log(cardFeatures(header)); // [ { name: "image", dtype: "image" } ]
 * ```
 */
export function cardFeatures(
  header: Record<string, unknown>,
  config?: string,
): { name: string; dtype: unknown }[] {
  let info = header.dataset_info;
  if (Array.isArray(info)) {
    const list = info as Record<string, unknown>[];
    info = list.find((i) => (i?.config_name ?? "default") === (config ?? "default")) ?? list[0];
  }
  const features = (info as Record<string, unknown> | undefined)?.features;
  if (!Array.isArray(features)) return [];
  return features
    .filter((f) => f && typeof f === "object" && typeof f.name === "string")
    .map((f) => ({ name: f.name as string, dtype: f.dtype }));
}

/**
 * The ClassLabel names of a feature's `dtype` (`class_label: names: {'0': a, …}` or a list).
 *
 * @param dtype The feature's dtype from the card.
 * @returns The names in index order, or null when it is not a ClassLabel.
 * @example
 * ```ts
 * import { classLabelNames } from "./dataset_card.ts";
 * console.log(classLabelNames({ class_label: { names: { "1": "b", "0": "a" } } })); // ["a", "b"]
 * ```
 */
export function classLabelNames(dtype: unknown): string[] | null {
  const names = (dtype as { class_label?: { names?: unknown } } | null)?.class_label?.names;
  if (Array.isArray(names)) return names.map(String);
  if (!names || typeof names !== "object") return null;
  const entries = Object.entries(names as Record<string, unknown>).map(([k, v]) =>
    [Number(k), String(v)] as const
  );
  if (entries.length === 0 || entries.some(([k]) => !Number.isInteger(k))) return null;
  entries.sort((a, b) => a[0] - b[0]);
  if (entries.some(([k], i) => k !== i)) return null;
  return entries.map(([, n]) => n);
}
