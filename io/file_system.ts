/**
 * What the library asks of files: the {@link FileSystem} interface, its entries and the one
 * error every file system throws. `files.ts` holds the one in use; `deno_fs.ts` and
 * `memory_fs.ts` implement it.
 *
 * @module
 */

/** A file could not be read or written; the message names it. */
export class FileError extends Error {
  /**
   * Creates the error; its message is `path: reason`.
   *
   * @param path The file.
   * @param reason What went wrong, without the path ("file not found", "permission denied").
   */
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
    this.name = "FileError";
  }
}

/** One entry of a folder. */
export interface DirEntry {
  /** The entry's name (no folder). */
  name: string;
  /** Whether it is a folder. */
  isDirectory: boolean;
}

/** What {@link FileSystem.stat} tells about a path. */
export interface FileInfo {
  /** Whether it is a folder. */
  isDirectory: boolean;
  /** Size in bytes (0 for a folder). */
  size: number;
}

/**
 * Everything the library asks of files. Paths are `/`-separated strings; every method throws
 * {@link FileError} naming the path and the reason.
 */
export interface FileSystem {
  /**
   * Reads a whole file.
   *
   * @param path The file.
   * @returns Its bytes.
   */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Writes a whole file, creating its folders; atomic where the backend allows (a temporary
   * file beside it, then a rename), so a crash never leaves a half-written file.
   *
   * @param path The file.
   * @param data Its bytes.
   */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /**
   * Appends to a file, creating it (not its folder) when missing.
   *
   * @param path The file.
   * @param data The bytes to add.
   */
  appendFile(path: string, data: Uint8Array): Promise<void>;
  /**
   * Lists a folder (in no particular order).
   *
   * @param path The folder.
   * @returns Its entries.
   */
  readDir(path: string): Promise<DirEntry[]>;
  /**
   * Describes a path.
   *
   * @param path The file or folder.
   * @returns Its kind and size, or null when nothing is there.
   */
  stat(path: string): Promise<FileInfo | null>;
  /**
   * Creates a folder and its parents; no error when it exists.
   *
   * @param path The folder.
   */
  mkdir(path: string): Promise<void>;
  /**
   * Removes a file or a folder with everything in it; no error when it is missing.
   *
   * @param path The file or folder.
   */
  remove(path: string): Promise<void>;
  /**
   * Moves a file or folder; a file replaces a file at `to`.
   *
   * @param from Where it is.
   * @param to Where it goes.
   */
  rename(from: string, to: string): Promise<void>;
}
