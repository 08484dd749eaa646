/**
 * The Hugging Face Hub's parquet layout of an image dataset (`data/train-00000-of-00001.parquet`,
 * …), which is what a user gets by downloading the beans dataset: an `image` struct
 * `{bytes, path}` and integer `labels`. Class names come from the parquet's `huggingface`
 * schema metadata, or else from the dataset card's YAML.
 *
 * @module
 */

import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { exists, joinPath, listDir, readBytes } from "../io/files.ts";
import { resolveSource } from "../io/sources.ts";
import { ClassLabel, Dataset, type DatasetDict, type ImageExample } from "./dataset.ts";
import { ImageDecodeError, validateImage } from "./image.ts";
import {
  type BadFile,
  DatasetError,
  type ImageFolderOptions,
  loadImageFolder,
} from "./image_folder.ts";

async function findParquet(dir: string, depth = 0): Promise<string[]> {
  const out: string[] = [];
  for (const e of await listDir(dir)) {
    const path = joinPath(dir, e.name);
    if (e.isDirectory && depth < 3 && !e.name.startsWith(".")) {
      out.push(...await findParquet(path, depth + 1));
    } else if (!e.isDirectory && e.name.endsWith(".parquet")) out.push(path);
  }
  return out;
}

function splitOf(path: string): string {
  const parts = path.split("/");
  const file = parts[parts.length - 1];
  const prefix = file.replace(/\.parquet$/, "").split("-")[0];
  const name = /^\d+$/.test(prefix) ? parts[parts.length - 2] : prefix;
  return name === "val" || name === "valid" ? "validation" : name;
}

/**
 * Class names from the `huggingface` key-value metadata of a parquet file, if present.
 *
 * @param metadata The parsed file metadata's key_value_metadata.
 * @returns The names, or null.
 */
export function namesFromParquetMetadata(
  metadata: { key: string; value?: string }[] | undefined,
): string[] | null {
  const entry = metadata?.find((m) => m.key === "huggingface");
  if (!entry?.value) return null;
  try {
    const info = JSON.parse(entry.value);
    const features = info?.info?.features ?? info?.features;
    for (const key of ["labels", "label"]) {
      const names = features?.[key]?.names;
      if (Array.isArray(names)) return names.map(String);
    }
  } catch {
    return null;
  }
  return null;
}

/**
 * Class names from a dataset card's YAML header (`dataset_info.features[].dtype.class_label.names`).
 *
 * @param card The README.md text.
 * @returns The names in index order, or null.
 */
export function namesFromDatasetCard(card: string): string[] | null {
  const header = card.match(/^---\n([\s\S]*?)\n---/);
  if (!header) return null;
  const lines = header[1].split("\n");
  const at = lines.findIndex((l) => /^\s*class_label:\s*$/.test(l));
  if (at < 0) return null;
  const names: [number, string][] = [];
  const indent = (l: string) => l.length - l.trimStart().length;
  let i = at + 1;
  if (!/^\s*names:\s*$/.test(lines[i] ?? "")) return null;
  const base = indent(lines[i]);
  for (i++; i < lines.length && indent(lines[i]) > base; i++) {
    const m = lines[i].match(/^\s*'?(\d+)'?\s*:\s*(.+?)\s*$/);
    if (m) names.push([Number(m[1]), m[2].replace(/^['"]|['"]$/g, "")]);
  }
  if (names.length === 0) return null;
  return names.sort((a, b) => a[0] - b[0]).map(([, n]) => n);
}

/**
 * Loads a dataset saved in the Hub's parquet layout.
 *
 * @param dir The downloaded dataset folder.
 * @param options Bad-image policy and logging (as for ImageFolder).
 * @returns The splits.
 * @throws {DatasetError} When no parquet file, no class names, or a missing column is found.
 * @example
 * ```ts ignore
 * import { loadParquetDataset } from "./parquet.ts";
 * const ds = await loadParquetDataset("beans");
 * console.log(ds.validation.length);
 * ```
 */
export async function loadParquetDataset(
  dir: string,
  options: ImageFolderOptions = {},
): Promise<DatasetDict> {
  const files = (await findParquet(dir)).sort();
  if (files.length === 0) throw new DatasetError(dir, "contains no .parquet files");
  const policy = options.onBadImage ?? "skip";
  const log = options.log ?? ((m: string) => console.warn(m));
  let names: string[] | null = null;
  const bySplit = new Map<string, ImageExample[]>();
  const bad: BadFile[] = [];
  for (const file of files) {
    const bytes = await readBytes(file);
    const buffer = bytes.buffer.slice(
      bytes.byteOffset,
      bytes.byteOffset + bytes.byteLength,
    ) as ArrayBuffer;
    let rows: Record<string, unknown>[];
    try {
      names ??= namesFromParquetMetadata(parquetMetadata(buffer).key_value_metadata);
      rows = await parquetReadObjects({ file: buffer, utf8: false }) as Record<string, unknown>[];
    } catch (error) {
      throw new DatasetError(file, `not a readable parquet file (${(error as Error).message})`);
    }
    const split = splitOf(file);
    const list = bySplit.get(split) ?? [];
    bySplit.set(split, list);
    rows.forEach((row, i) => {
      const image = row.image as { bytes?: Uint8Array | string; path?: unknown } | undefined;
      const label = row.labels ?? row.label;
      if (!image || label === undefined) {
        throw new DatasetError(file, "rows need an 'image' struct {bytes, path} and 'labels'");
      }
      const path = `${file}#${i}${typeof image.path === "string" ? ` (${image.path})` : ""}`;
      const data = typeof image.bytes === "string"
        ? new TextEncoder().encode(image.bytes)
        : image.bytes;
      try {
        if (!data) throw new ImageDecodeError(path, "no image bytes");
        validateImage(data, { name: path, maxPixels: options.maxPixels });
        list.push({ image: { path, bytes: data }, labels: Number(label) });
      } catch (error) {
        if (!(error instanceof ImageDecodeError) || policy === "error") throw error;
        bad.push({ path, problem: error.problem });
      }
    });
  }
  if (!names) {
    const card = joinPath(dir, "README.md");
    if (await exists(card)) {
      names = namesFromDatasetCard(new TextDecoder().decode(await readBytes(card)));
    }
  }
  if (!names) {
    throw new DatasetError(
      dir,
      "no class names: neither the parquet 'huggingface' metadata nor README.md's class_label",
    );
  }
  const labels = new ClassLabel(names);
  const splits: DatasetDict = {};
  for (const [split, rows] of bySplit) {
    for (const row of rows) {
      if (!(row.labels >= 0 && row.labels < labels.numClasses)) {
        throw new DatasetError(
          dir,
          `label ${row.labels} in split ${split} is outside ${labels.numClasses} classes`,
        );
      }
    }
    splits[split] = new Dataset(rows, labels);
  }
  if (bad.length > 0) {
    log(
      `skipped ${bad.length} bad image(s) in ${dir}:\n` +
        bad.map((b) => `  ${b.path}: ${b.problem}`).join("\n"),
    );
    options.onSkipped?.(bad);
  }
  return splits;
}

/**
 * Loads a dataset folder in whichever layout it has: parquet files (the Hub's download) or an
 * ImageFolder tree.
 *
 * @param dir The dataset folder, or a Hub id ("AI-Lab-Makerere/beans") when no folder has that
 * name.
 * @param options Bad-image policy, logging, and the Hub revision ("main" by default).
 * @returns The splits.
 */
export async function loadDataset(
  dir: string,
  options: ImageFolderOptions & { revision?: string } = {},
): Promise<DatasetDict> {
  // A Hub id with no local folder of that name becomes its cached snapshot (hub/).
  dir = await resolveSource(dir, "dataset", { revision: options.revision });
  return (await findParquet(dir)).length > 0
    ? await loadParquetDataset(dir, options)
    : await loadImageFolder(dir, options);
}
