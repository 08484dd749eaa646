/**
 * Which files of a dataset folder make which split, as 🤗 `datasets` resolves `data_files`
 * (src/datasets/data_files.py, the patterns for fsspec ≥ 2023.12): a card's `configs`
 * patterns when it has them; else the Hub's sharded names `data/{split}-00000-of-00001.*`;
 * else a split keyword in a folder name (`train/`, `data/valid-x/`), then in a file name
 * (`my_test_file.parquet`); else every file is `train`. Pure: it works on relative paths.
 *
 * @module
 */

/** datasets' SPLIT_KEYWORDS: the names each default split goes by. */
export const SPLIT_KEYWORDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  train: ["train", "training"],
  validation: ["validation", "valid", "dev", "val"],
  test: ["test", "testing", "eval", "evaluation"],
});

/** datasets' NON_WORDS_CHARS: what may surround a split keyword in a name. */
const _SEP = "[-._ 0-9]";

/** Files datasets never takes as data. */
const _IGNORED = new Set([
  "README.md",
  "config.json",
  "dataset_info.json",
  "dataset_infos.json",
  "dummy_data.zip",
  "dataset_dict.json",
]);

/**
 * A glob as fsspec ≥ 2023.12 (and Python's glob) reads it, as a regular expression over a
 * relative path: `*` and `?` stay within a name, `**` as a whole segment spans folders,
 * `[…]` is a character class (`[!…]` negated).
 *
 * @param pattern The glob.
 * @returns The expression, anchored at both ends.
 * @example
 * ```ts
 * import { globToRegExp } from "./data_files.ts";
 * console.log(globToRegExp("data/train-*").test("data/train-00000-of-00001.parquet")); // true
 * ```
 */
export function globToRegExp(pattern: string): RegExp {
  let out = "";
  const p = pattern.replace(/^\.\//, "");
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "*" && p[i + 1] === "*") {
      const whole = (i === 0 || p[i - 1] === "/") && (i + 2 === p.length || p[i + 2] === "/");
      if (whole && p[i + 2] === "/") {
        out += "(?:[^/]*/)*"; // "**/": zero or more folders
        i += 2;
      } else if (whole) {
        out += ".*"; // a trailing "**": everything below
        i += 1;
      } else {
        out += "[^/]*"; // "**" inside a name is "*"
        i += 1;
      }
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) {
        out += "\\[";
        continue;
      }
      let body = p.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      out += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** Whether a relative path is data: not hidden, not in a `__special__` folder, not metadata. */
function _isData(path: string): boolean {
  const parts = path.split("/");
  return !_IGNORED.has(parts[parts.length - 1]) &&
    parts.every((p) => !p.startsWith(".") && !p.startsWith("__"));
}

/**
 * The paths that any of a list of globs matches.
 *
 * @param paths Relative paths.
 * @param patterns Globs, as {@link globToRegExp} reads them.
 * @returns The matching paths, sorted.
 * @example
 * ```ts
 * import { matchPatterns } from "./data_files.ts";
 * console.log(matchPatterns(["a/x.parquet", "b/y.parquet"], ["a/*"])); // ["a/x.parquet"]
 * ```
 */
export function matchPatterns(paths: readonly string[], patterns: readonly string[]): string[] {
  const res = patterns.map(globToRegExp);
  return paths.filter((p) => res.some((re) => re.test(p))).sort();
}

/** datasets' split patterns, by split, for keywords in folder names or in file names. */
function _keywordPatterns(inDirName: boolean): [string, string[]][] {
  const base = inDirName
    ? ["**/{k}/**", `**/{k}${_SEP}*/**`, `**/*${_SEP}{k}/**`, `**/*${_SEP}{k}${_SEP}*/**`]
    : [`**/{k}${_SEP}*`, `**/*${_SEP}{k}${_SEP}*`];
  return Object.entries(SPLIT_KEYWORDS).map(([split, keywords]) => [
    split,
    keywords.flatMap((k) => base.map((b) => b.replaceAll("{k}", k))),
  ]);
}

/**
 * The data files of each split, resolved as `datasets` resolves them.
 *
 * @param paths Every file of the dataset folder, relative to it, with `/` separators.
 * @param configFiles A card config's patterns by split, when the card declares `configs`.
 * @param accept Which files count (e.g. those ending in `.parquet`); all by default.
 * @returns Files by split, in datasets' split order (train, validation, test, then the rest
 * sorted, or the card's order); a card's split whose patterns match nothing maps to [].
 * @example
 * ```ts
 * import { resolveDataFiles } from "./data_files.ts";
 * const files = resolveDataFiles(["data/train-00000-of-00001.parquet",
 *   "data/test-00000-of-00001.parquet", "README.md"]);
 * console.log([...files.keys()]); // ["train", "test"]
 * ```
 */
export function resolveDataFiles(
  paths: readonly string[],
  configFiles?: ReadonlyMap<string, readonly string[]> | null,
  accept: (path: string) => boolean = () => true,
): Map<string, string[]> {
  const data = paths.filter((p) => _isData(p) && accept(p));
  const out = new Map<string, string[]>();
  if (configFiles) {
    for (const [split, patterns] of configFiles) out.set(split, matchPatterns(data, patterns));
    return out;
  }
  // data/{split}-00000-of-00001.parquet: the split is whatever the name says.
  const sharded = /^data\/([^/]+?)-\d{5}-of-\d{5}[^/]*\.[^/]*$/;
  const splits = new Map<string, string[]>();
  for (const p of data) {
    const m = p.match(sharded);
    if (m && /^\w+(\.\w+)*$/.test(m[1])) splits.set(m[1], [...splits.get(m[1]) ?? [], p]);
  }
  if (splits.size > 0) {
    const order = [
      ...Object.keys(SPLIT_KEYWORDS).filter((s) => splits.has(s)),
      ...[...splits.keys()].filter((s) => !(s in SPLIT_KEYWORDS)).sort(),
    ];
    for (const s of order) out.set(s, splits.get(s)!.sort());
    return out;
  }
  for (const inDirName of [true, false]) {
    for (const [split, patterns] of _keywordPatterns(inDirName)) {
      const files = matchPatterns(data, patterns);
      if (files.length > 0) out.set(split, files);
    }
    if (out.size > 0) return out;
  }
  if (data.length > 0) out.set("train", [...data].sort());
  return out;
}
