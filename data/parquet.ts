/**
 * The Hugging Face Hub's parquet layout of an image dataset (`data/train-00000-of-00001.parquet`,
 * …), which is what a user gets by downloading the beans dataset: an `image` struct
 * `{bytes, path}` and integer `labels`. Files are chosen per split as `datasets` chooses them
 * (the card's `configs`, then its default patterns: see data_files.ts). Class names come from
 * the parquet's `huggingface` schema metadata, or else from the dataset card's YAML.
 *
 * @module
 */

import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { joinPath, listDir, readBytes } from "../io/files.ts";
import { resolveSource } from "../io/sources.ts";
import {
  cardFeatures,
  cardHeader,
  classLabelNames,
  DatasetCardError,
  selectCardConfig,
} from "./dataset_card.ts";
import { resolveDataFiles } from "./data_files.ts";
import { ClassLabel, Dataset, type DatasetDict, type ImageExample } from "./dataset.ts";
import { ImageDecodeError, validateImage } from "./image.ts";
import {
  type BadFile,
  DatasetError,
  type ImageFolderOptions,
  loadImageFolder,
} from "./image_folder.ts";

/** Every file under `dir` (hidden folders skipped), relative to it with `/` separators. */
type KeyValue = { key: string; value?: string };

async function listFiles(dir: string, prefix = "", depth = 0): Promise<string[]> {
  const out: string[] = [];
  for (const e of await listDir(dir)) {
    if (e.name.startsWith(".")) continue;
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) {
      if (depth < 4) out.push(...await listFiles(joinPath(dir, e.name), rel, depth + 1));
    } else out.push(rel);
  }
  return out;
}

async function findParquet(dir: string): Promise<string[]> {
  return (await listFiles(dir)).filter(isParquet);
}

function isParquet(path: string): boolean {
  return path.endsWith(".parquet");
}

/** The features of a parquet's `huggingface` metadata (`{info: {features}}` or `{features}`). */
function parquetFeatures(
  metadata: { key: string; value?: string }[] | undefined,
): Record<string, { _type?: string; names?: unknown }> | null {
  const entry = metadata?.find((m) => m.key === "huggingface");
  if (!entry?.value) return null;
  try {
    const info = JSON.parse(entry.value);
    const features = info?.info?.features ?? info?.features;
    return features && typeof features === "object" ? features : null;
  } catch {
    return null;
  }
}

/**
 * Class names from the `huggingface` key-value metadata of a parquet file, if present: the
 * first ClassLabel feature (or, in older files, `labels`/`label` with names).
 *
 * @param metadata The parsed file metadata's key_value_metadata.
 * @returns The names, or null.
 */
export function namesFromParquetMetadata(
  metadata: { key: string; value?: string }[] | undefined,
): string[] | null {
  const column = labelFromParquetMetadata(metadata);
  return column ? column.names : null;
}

function labelFromParquetMetadata(
  metadata: { key: string; value?: string }[] | undefined,
): { column: string; names: string[] } | null {
  const features = parquetFeatures(metadata);
  if (!features) return null;
  const entries = Object.entries(features);
  const found = entries.find(([, f]) => f?._type === "ClassLabel" && Array.isArray(f.names)) ??
    entries.find(([k, f]) => (k === "labels" || k === "label") && Array.isArray(f?.names));
  return found ? { column: found[0], names: (found[1].names as unknown[]).map(String) } : null;
}

/**
 * Class names from a dataset card's YAML header
 * (`dataset_info.features[].dtype.class_label.names`).
 *
 * @param card The README.md text.
 * @returns The names in index order, or null (also when the header cannot be read).
 */
export function namesFromDatasetCard(card: string): string[] | null {
  try {
    const header = cardHeader(card, "README.md");
    for (const f of cardFeatures(header)) {
      const names = classLabelNames(f.dtype);
      if (names) return names;
    }
  } catch (error) {
    if (!(error instanceof DatasetCardError)) throw error;
  }
  return null;
}

/** Options of {@link loadParquetDataset}. */
export interface ParquetDatasetOptions extends ImageFolderOptions {
  /** The card's config to load (`load_dataset(path, name)`); the default config otherwise. */
  config?: string;
}

/**
 * Loads a dataset saved in the Hub's parquet layout, choosing files as `datasets` does: the
 * README's `configs` data_files when it declares them, else `data/{split}-*-of-*.parquet`,
 * else split keywords in folder and file names. The image column is a `struct<bytes, path>`
 * (the feature typed Image, else `image`); the labels are the ClassLabel feature, whose names
 * come from the parquet's `huggingface` metadata or else the README's `dataset_info`.
 *
 * @param dir The downloaded dataset folder.
 * @param options Config, bad-image policy and logging (as for ImageFolder).
 * @returns The splits.
 * @throws {DatasetError} Naming the file: no parquet file, a config that matches none, no class
 * names, a missing column, an unreadable parquet, a label out of range.
 * @example
 * ```ts ignore
 * import { loadParquetDataset } from "./parquet.ts";
 * const ds = await loadParquetDataset("beans");
 * console.log(ds.validation.length);
 * ```
 */
export async function loadParquetDataset(
  dir: string,
  options: ParquetDatasetOptions = {},
): Promise<DatasetDict> {
  const paths = await listFiles(dir);
  const cardPath = joinPath(dir, "README.md");
  let header: Record<string, unknown> = {};
  let config;
  try {
    if (paths.includes("README.md")) {
      header = cardHeader(new TextDecoder().decode(await readBytes(cardPath)), cardPath);
    }
    config = selectCardConfig(header, cardPath, options.config);
  } catch (error) {
    if (error instanceof DatasetCardError) throw new DatasetError(error.file, error.problem);
    throw error;
  }
  const bySplitFiles = resolveDataFiles(paths, config?.dataFiles, isParquet);
  if (config) {
    for (const [split, files] of bySplitFiles) {
      if (files.length === 0) {
        throw new DatasetError(
          cardPath,
          `config '${config.name}' split '${split}' (${
            config.dataFiles.get(split)!.join(", ")
          }) matches no .parquet file in ${dir}`,
        );
      }
    }
  }
  if (bySplitFiles.size === 0) throw new DatasetError(dir, "contains no .parquet files");
  const features = cardFeatures(header, config?.name);
  const policy = options.onBadImage ?? "skip";
  const log = options.log ?? ((m: string) => console.warn(m));
  // All files first: the schema metadata of any of them describes every split's columns.
  const tables: { split: string; file: string; buffer: ArrayBuffer; meta: KeyValue[] }[] = [];
  for (const [split, rels] of bySplitFiles) {
    for (const rel of rels) {
      const file = joinPath(dir, rel);
      const bytes = await readBytes(file);
      const buffer = bytes.buffer.slice(
        bytes.byteOffset,
        bytes.byteOffset + bytes.byteLength,
      ) as ArrayBuffer;
      try {
        tables.push({
          split,
          file,
          buffer,
          meta: parquetMetadata(buffer).key_value_metadata ?? [],
        });
      } catch (error) {
        throw new DatasetError(file, `not a readable parquet file (${(error as Error).message})`);
      }
    }
  }
  let label: { column: string; names: string[] } | null = null;
  let metaFeatures: ReturnType<typeof parquetFeatures> = null;
  for (const t of tables) {
    label ??= labelFromParquetMetadata(t.meta);
    metaFeatures ??= parquetFeatures(t.meta);
  }
  const bySplit = new Map<string, ImageExample[]>([...bySplitFiles.keys()].map((s) => [s, []]));
  const bad: BadFile[] = [];
  for (const { split, file, buffer } of tables) {
    const list = bySplit.get(split)!;
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, utf8: false }) as Record<string, unknown>[];
    } catch (error) {
      throw new DatasetError(file, `not a readable parquet file (${(error as Error).message})`);
    }
    const imageColumn = imageColumnOf(metaFeatures, features, rows[0]);
    const labelColumn = label?.column ?? labelColumnOf(features, rows[0]);
    rows.forEach((row, i) => {
      const image = row[imageColumn] as
        | { bytes?: Uint8Array | string; path?: unknown }
        | undefined;
      const value = row[labelColumn];
      if (!image || typeof image !== "object" || value === undefined || value === null) {
        throw new DatasetError(
          file,
          `row ${i} needs an '${imageColumn}' struct {bytes, path} and '${labelColumn}'`,
        );
      }
      const path = `${file}#${i}${typeof image.path === "string" ? ` (${image.path})` : ""}`;
      const data = typeof image.bytes === "string"
        ? new TextEncoder().encode(image.bytes)
        : image.bytes;
      try {
        if (!data) throw new ImageDecodeError(path, "no image bytes");
        validateImage(data, { name: path, maxPixels: options.maxPixels });
        list.push({ image: { path, bytes: data }, labels: Number(value) });
      } catch (error) {
        if (!(error instanceof ImageDecodeError) || policy === "error") throw error;
        bad.push({ path, problem: error.problem });
      }
    });
  }
  let names = label?.names ?? null;
  if (!names) {
    for (const f of features) names ??= classLabelNames(f.dtype);
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
      if (!(Number.isInteger(row.labels) && row.labels >= 0 && row.labels < labels.numClasses)) {
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
 * The image column: the feature typed Image (metadata, then card), else the first column
 * holding a `{bytes, path}` struct, else `image`.
 */
function imageColumnOf(
  meta: Record<string, { _type?: string }> | null,
  card: { name: string; dtype: unknown }[],
  row: Record<string, unknown> | undefined,
): string {
  const fromMeta = meta && Object.entries(meta).find(([, f]) => f?._type === "Image");
  if (fromMeta) return fromMeta[0];
  const fromCard = card.find((f) => f.dtype === "image");
  if (fromCard) return fromCard.name;
  const struct = Object.entries(row ?? {}).find(([, v]) =>
    v !== null && typeof v === "object" && "bytes" in v
  );
  return struct?.[0] ?? "image";
}

/** The label column without metadata: the card's ClassLabel feature, else labels or label. */
function labelColumnOf(
  card: { name: string; dtype: unknown }[],
  row: Record<string, unknown> | undefined,
): string {
  const fromCard = card.find((f) => classLabelNames(f.dtype));
  if (fromCard) return fromCard.name;
  return row && !("labels" in row) && "label" in row ? "label" : "labels";
}

/**
 * Loads a dataset folder in whichever layout it has: parquet files (the Hub's download) or an
 * ImageFolder tree.
 *
 * @param dir The dataset folder, or a Hub id ("AI-Lab-Makerere/beans") when no folder has that
 * name.
 * @param options Config (parquet), bad-image policy, logging, and the Hub revision ("main" by
 * default).
 * @returns The splits.
 */
export async function loadDataset(
  dir: string,
  options: ParquetDatasetOptions & { revision?: string } = {},
): Promise<DatasetDict> {
  // A Hub id with no local folder of that name becomes its cached snapshot (hub/).
  dir = await resolveSource(dir, "dataset", { revision: options.revision });
  return (await findParquet(dir)).length > 0
    ? await loadParquetDataset(dir, options)
    : await loadImageFolder(dir, options);
}
