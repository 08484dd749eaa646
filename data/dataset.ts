/**
 * Datasets the way the blog uses 🤗 `datasets`: a ClassLabel feature, splits in a DatasetDict,
 * and `filter`, `shuffle(seed)`, `select`, `withTransform` (lazy and batched), indexing and
 * slicing. Rows stay as they are loaded (paths or bytes); images decode only when read.
 *
 * @module
 */

import { Rng } from "../tensor/rng.ts";

/** The `datasets.ClassLabel` feature: class names and conversions. */
export class ClassLabel {
  /** Class names by index. */
  readonly names: readonly string[];

  /**
   * Creates the feature.
   *
   * @param names Class names, index order.
   */
  constructor(names: readonly string[]) {
    if (new Set(names).size !== names.length) throw new Error(`duplicate class names: ${names}`);
    this.names = Object.freeze([...names]);
  }

  /** Number of classes. */
  get numClasses(): number {
    return this.names.length;
  }

  /** The name of class `i`. */
  int2str(i: number): string {
    const name = this.names[i];
    if (name === undefined) {
      throw new Error(`class index ${i} is out of range 0..${this.numClasses - 1}`);
    }
    return name;
  }

  /** The index of class `name`. */
  str2int(name: string): number {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`unknown class '${name}' (classes: ${this.names.join(", ")})`);
    return i;
  }

  /** `{ "0": name, … }` as config.json's id2label. */
  id2label(): Record<string, string> {
    return Object.fromEntries(this.names.map((n, i) => [String(i), n]));
  }

  /** `{ name: 0, … }` as config.json's label2id. */
  label2id(): Record<string, number> {
    return Object.fromEntries(this.names.map((n, i) => [n, i]));
  }
}

/** Where an image comes from: a file path, in-memory bytes, or both. */
export interface ImageRef {
  /** Path on disk, or the original name for in-memory images. */
  path: string;
  /** The encoded file, when it is held in memory (parquet rows). */
  bytes?: Uint8Array;
}

/** A row of an image-classification dataset, with the blog's column names. */
export interface ImageExample {
  /** The image. */
  image: ImageRef;
  /** The class index. */
  labels: number;
}

/** Columns of a batch: each key holds one value per row. */
export type Batch = Record<string, unknown[]>;

/** A batched transform, as `Dataset.with_transform` takes. */
export type Transform = (batch: Batch) => Batch;

function toBatch<T>(rows: readonly T[]): Batch {
  const batch: Batch = {};
  for (const row of rows) {
    for (const [k, v] of Object.entries(row as Record<string, unknown>)) (batch[k] ??= []).push(v);
  }
  return batch;
}

/**
 * A table of rows with named features. Every operation returns a new Dataset that shares the
 * rows; `withTransform` applies its function when rows are read.
 *
 * @example
 * ```ts
 * import { ClassLabel, Dataset } from "./dataset.ts";
 * const ds = new Dataset([{ x: 1, labels: 0 }, { x: 2, labels: 1 }], new ClassLabel(["a", "b"]));
 * console.log(ds.filter((r) => r.labels === 1).get(0)); // { x: 2, labels: 1 }
 * ```
 */
export class Dataset<T extends object = ImageExample> {
  readonly #rows: readonly T[];
  readonly #index: Uint32Array;
  readonly #transform: Transform | null;
  /** The label feature. */
  readonly labels: ClassLabel;

  /**
   * Creates a dataset over rows.
   *
   * @param rows The rows.
   * @param labels The label feature.
   * @param index Which rows, in which order (all, in order, by default).
   * @param transform Applied on read.
   */
  constructor(
    rows: readonly T[],
    labels: ClassLabel,
    index?: Uint32Array,
    transform: Transform | null = null,
  ) {
    this.#rows = rows;
    this.labels = labels;
    this.#index = index ?? Uint32Array.from(rows.keys());
    this.#transform = transform;
  }

  /** Number of rows. */
  get length(): number {
    return this.#index.length;
  }

  /** The features, as `ds.features` prints them. */
  get features(): { labels: ClassLabel } {
    return { labels: this.labels };
  }

  /** Row `i` without the transform. */
  row(i: number): T {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`index ${i} is out of range for a dataset of ${this.length} rows`);
    }
    return this.#rows[this.#index[i]];
  }

  /** Row `i`, transformed when a transform is set (`ds[i]`). */
  get(i: number): Record<string, unknown> {
    const row = this.row(i);
    if (!this.#transform) return row as Record<string, unknown>;
    const out = this.#transform(toBatch([row]));
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v[0]]));
  }

  /** Rows `start` to `end` as columns, transformed when set (`ds[start:end]`). */
  slice(start: number, end: number): Batch {
    const s = Math.max(0, start < 0 ? this.length + start : start);
    const e = Math.min(this.length, end < 0 ? this.length + end : end);
    const rows: T[] = [];
    for (let i = s; i < e; i++) rows.push(this.row(i));
    const batch = toBatch(rows);
    return this.#transform ? this.#transform(batch) : batch;
  }

  /** The rows for which `predicate` holds. */
  filter(predicate: (row: T, i: number) => boolean): Dataset<T> {
    const kept: number[] = [];
    for (let i = 0; i < this.length; i++) if (predicate(this.row(i), i)) kept.push(this.#index[i]);
    return new Dataset(this.#rows, this.labels, Uint32Array.from(kept), this.#transform);
  }

  /** The rows in a seeded random order (Fisher–Yates with Tessera's RNG, not NumPy's). */
  shuffle(seed = 42): Dataset<T> {
    const order = this.#index.slice();
    const rng = new Rng(seed);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return new Dataset(this.#rows, this.labels, order, this.#transform);
  }

  /** The rows at `indices` (an array or an iterable such as a range). */
  select(indices: Iterable<number>): Dataset<T> {
    const picked = [...indices].map((i) => {
      this.row(i);
      return this.#index[i];
    });
    return new Dataset(this.#rows, this.labels, Uint32Array.from(picked), this.#transform);
  }

  /** The same rows with a lazy, batched transform applied on read. */
  withTransform(transform: Transform | null): Dataset<T> {
    return new Dataset(this.#rows, this.labels, this.#index, transform);
  }

  /** Splits into train and test parts by a seeded shuffle, as `train_test_split`. */
  trainTestSplit(testSize: number, seed = 42): { train: Dataset<T>; test: Dataset<T> } {
    const shuffled = this.shuffle(seed);
    const nTest = testSize < 1 ? Math.round(this.length * testSize) : Math.round(testSize);
    if (nTest <= 0 || nTest >= this.length) {
      throw new Error(`test size ${testSize} leaves an empty split of ${this.length} rows`);
    }
    return {
      train: shuffled.select(range(nTest, this.length)),
      test: shuffled.select(range(0, nTest)),
    };
  }

  /** Counts of each class, by index. */
  classCounts(): number[] {
    const counts = new Array(this.labels.numClasses).fill(0);
    for (let i = 0; i < this.length; i++) counts[(this.row(i) as { labels: number }).labels]++;
    return counts;
  }

  /** Iterates over transformed rows. */
  *[Symbol.iterator](): Iterator<Record<string, unknown>> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /** A one-line summary like `Dataset({ features: [...], num_rows: N })`. */
  toString(): string {
    const first = this.length > 0 ? Object.keys(this.row(0)) : [];
    return `Dataset({ features: [${
      first.map((k) => `'${k}'`).join(", ")
    }], num_rows: ${this.length} })`;
  }
}

/** Splits by name, as `DatasetDict`. */
export type DatasetDict<T extends object = ImageExample> = Record<string, Dataset<T>>;

/** The integers `start` to `end - 1`, as Python's `range`. */
export function range(start: number, end?: number): number[] {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  return Array.from({ length: Math.max(0, e - s) }, (_, i) => s + i);
}
