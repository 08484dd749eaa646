/**
 * File access for the thin I/O layer around the core: one small {@link FileSystem} interface,
 * the one in use ({@link useFileSystem}, {@link fileSystem}), and the helpers the library calls
 * (reads whose errors name the file, atomic writes, listings). The core never touches a
 * platform API for files, so it runs unchanged in Deno (`DenoFileSystem`, the default where
 * `Deno` exists) and in a browser tab (`MemoryFileSystem` over the files a user picked).
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

let active: FileSystem | null = null;
let fallback: FileSystem | null = null;

/**
 * Sets the file system the library reads and writes through.
 *
 * @param fs The file system, or null to return to the default (Deno's, where it registered).
 * @example
 * ```ts
 * import { MemoryFileSystem } from "./memory_fs.ts";
 * import { readJson, useFileSystem } from "./files.ts";
 *
 * const text = new TextEncoder().encode('{"model_type": "vit"}');
 * useFileSystem(MemoryFileSystem.fromFiles([{ path: "model/config.json", data: text }]));
 * console.log(await readJson("model/config.json")); // { model_type: "vit" }
 * useFileSystem(null);
 * ```
 */
export function useFileSystem(fs: FileSystem | null): void {
  active = fs;
}

/**
 * Sets the file system used when {@link useFileSystem} set none. `io/deno_fs.ts` registers
 * Deno's when it loads under Deno, so that plain paths keep working for Deno users.
 *
 * @param fs The default.
 */
export function setDefaultFileSystem(fs: FileSystem): void {
  fallback = fs;
}

/**
 * The file system in use.
 *
 * @returns The one set with {@link useFileSystem}, else the default.
 * @throws {Error} When there is neither (a browser page that set none).
 * @example
 * ```ts
 * import { fileSystem } from "./files.ts";
 * import "./deno_fs.ts";
 * console.log((await fileSystem().stat("deno.json"))?.isDirectory); // false
 * ```
 */
export function fileSystem(): FileSystem {
  const fs = active ?? fallback;
  if (fs) return fs;
  throw new Error(
    "no file system in use: call useFileSystem() first (a MemoryFileSystem in a browser)",
  );
}

/**
 * This process's id where there is one (Deno), else 0: it keeps temporary and TensorBoard file
 * names apart between processes that share a folder.
 *
 * @returns The id.
 */
export function processId(): number {
  return (globalThis as { Deno?: { pid?: number } }).Deno?.pid ?? 0;
}

/**
 * Reads a whole file.
 *
 * @param path The file.
 * @returns Its bytes.
 * @throws {FileError} Naming the file when it cannot be read.
 * @example
 * ```ts
 * import { readBytes } from "./files.ts";
 * import "./deno_fs.ts";
 * const bytes = await readBytes("deno.json");
 * console.log(bytes.byteLength > 0);
 * ```
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  return await fileSystem().readFile(path);
}

/**
 * Reads and parses a JSON file.
 *
 * @param path The file.
 * @returns The parsed value.
 * @throws {FileError} Naming the file when it cannot be read or is not JSON.
 */
export async function readJson(path: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readBytes(path));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FileError(path, `invalid JSON (${(error as Error).message})`);
  }
}

/**
 * Writes a file atomically where the file system allows (a temporary file beside it, renamed
 * over the target), creating its folder.
 *
 * @param path The file.
 * @param data Bytes or text.
 * @throws {FileError} Naming the file when it cannot be written.
 */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    await fileSystem().writeFile(path, bytes);
  } catch (error) {
    throw new FileError(path, `cannot write (${reasonOf(error)})`);
  }
}

/** Joins path segments with single slashes. */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/").replace(/\/{2,}/g, "/");
}

/** Whether a path exists (file or folder). */
export async function exists(path: string): Promise<boolean> {
  try {
    return (await fileSystem().stat(path)) !== null;
  } catch {
    return false;
  }
}

/** Names of the entries of a folder, sorted, with whether each is a folder. */
export async function listDir(path: string): Promise<DirEntry[]> {
  const out = await fileSystem().readDir(path);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Creates a folder if needed and checks that files can be written in it, so that a run fails
 * before it starts rather than at its first save.
 *
 * @param dir The folder.
 * @throws {FileError} Naming the folder when it cannot be created or written.
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  const fs = fileSystem();
  const probe = `${dir}/.tessera-write-test-${processId()}`;
  try {
    await fs.mkdir(dir);
    await fs.writeFile(probe, new Uint8Array());
    await fs.remove(probe);
  } catch (error) {
    throw new FileError(dir, `cannot write the output folder (${reasonOf(error)})`);
  }
}

/** The reason of a FileError (without its path), or any error's message. */
function reasonOf(error: unknown): string {
  if (error instanceof FileError) return error.reason;
  return error instanceof Error ? error.message : String(error);
}
