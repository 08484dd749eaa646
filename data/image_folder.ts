/**
 * The ImageFolder layout (`root/split/class/*.jpg`, or `root/class/*.jpg`), as 🤗 datasets'
 * `imagefolder` builder reads it, with every file checked up front so that bad files are
 * reported by name before training starts.
 *
 * @module
 */

import { joinPath, listDir, readBytes } from "../io/files.ts";
import { ClassLabel, Dataset, type DatasetDict, type ImageExample } from "./dataset.ts";
import { ImageDecodeError, validateImage } from "./image.ts";

/** A file that was refused, and why. */
export interface BadFile {
  /** Its path. */
  path: string;
  /** What is wrong with it. */
  problem: string;
}

/** What to do with a corrupt, empty, truncated or non-image file. */
export type BadImagePolicy = "skip" | "error";

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** Skip bad files with a warning (default) or stop at the first. */
  onBadImage?: BadImagePolicy;
  /** With no split folders: the fraction to hold out as "test" (none by default). */
  testSize?: number;
  /** Seed of that split. */
  seed?: number;
  /** Largest accepted image in pixels. */
  maxPixels?: number;
  /** Where warnings go (stderr by default). */
  log?: (message: string) => void;
  /** Receives the refused files. */
  onSkipped?: (files: BadFile[]) => void;
}

/** A dataset folder that cannot be used, naming it. */
export class DatasetError extends Error {
  /**
   * Creates the error; its message is `path: problem`.
   *
   * @param path The folder or file.
   * @param problem What is wrong.
   */
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "DatasetError";
  }
}

const IMAGE_EXTENSIONS = /\.(jpe?g|png)$/i;
const SPLIT_NAMES: Record<string, string> = {
  train: "train",
  validation: "validation",
  val: "validation",
  valid: "validation",
  test: "test",
};

async function classFolders(dir: string): Promise<string[]> {
  return (await listDir(dir)).filter((e) => e.isDirectory && !e.name.startsWith(".")).map((e) =>
    e.name
  );
}

/**
 * Loads an ImageFolder. Split folders (train, validation, test; val and valid too) become
 * splits; otherwise the class folders form one "train" split, optionally split by `testSize`.
 * Classes are the sorted class-folder names and must be the same in every split.
 *
 * @param root The dataset folder.
 * @param options Bad-file policy, split and logging.
 * @returns The splits.
 * @throws {DatasetError} For a missing or empty layout, differing class sets, an empty class,
 * or (with `onBadImage: "error"`) the first bad file.
 * @example
 * ```ts ignore
 * import { loadImageFolder } from "./image_folder.ts";
 * const ds = await loadImageFolder("beans");
 * console.log(ds.train.labels.names, ds.train.length);
 * ```
 */
export async function loadImageFolder(
  root: string,
  options: ImageFolderOptions = {},
): Promise<DatasetDict> {
  const policy = options.onBadImage ?? "skip";
  const log = options.log ?? ((m: string) => console.warn(m));
  const top = await classFolders(root);
  if (top.length === 0) throw new DatasetError(root, "has no class or split folders");
  const splitDirs = top.filter((name) => name.toLowerCase() in SPLIT_NAMES);
  const layout: [string, string][] = splitDirs.length > 0
    ? splitDirs.map((d) => [SPLIT_NAMES[d.toLowerCase()], joinPath(root, d)])
    : [["train", root]];
  const seen = new Set<string>();
  for (const [split] of layout) {
    if (seen.has(split)) throw new DatasetError(root, `has two folders for the ${split} split`);
    seen.add(split);
  }
  let names: string[] | null = null;
  const bad: BadFile[] = [];
  const splits: DatasetDict = {};
  for (const [split, dir] of layout) {
    const classes = await classFolders(dir);
    if (classes.length === 0) throw new DatasetError(dir, "has no class folders");
    if (names && names.join("\n") !== classes.join("\n")) {
      throw new DatasetError(
        dir,
        `its classes [${classes.join(", ")}] differ from the other splits' [${names.join(", ")}]`,
      );
    }
    names ??= classes;
    const rows: ImageExample[] = [];
    for (const [label, cls] of classes.entries()) {
      const files = (await listDir(joinPath(dir, cls))).filter((e) =>
        !e.isDirectory && IMAGE_EXTENSIONS.test(e.name)
      );
      let good = 0;
      for (const file of files) {
        const path = joinPath(dir, cls, file.name);
        try {
          validateImage(await readBytes(path), { name: path, maxPixels: options.maxPixels });
          rows.push({ image: { path }, labels: label });
          good++;
        } catch (error) {
          if (!(error instanceof ImageDecodeError) || policy === "error") throw error;
          bad.push({ path, problem: error.problem });
        }
      }
      if (good === 0) {
        throw new DatasetError(joinPath(dir, cls), `class '${cls}' has no usable images`);
      }
    }
    splits[split] = new Dataset(rows, new ClassLabel(classes));
  }
  if (bad.length > 0) {
    log(
      `skipped ${bad.length} bad image file(s) in ${root}:\n` +
        bad.map((b) => `  ${b.path}: ${b.problem}`).join("\n"),
    );
    options.onSkipped?.(bad);
  }
  if (options.testSize !== undefined && splitDirs.length === 0) {
    const { train, test } = splits.train.trainTestSplit(options.testSize, options.seed ?? 42);
    return { train, test };
  }
  return splits;
}
