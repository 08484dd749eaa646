/**
 * File access for the thin I/O layer around the core: one small {@link FileSystem} interface,
 * the one in use ({@link useFileSystem}, {@link fileSystem}), and the helpers the library calls
 * (reads whose errors name the file, atomic writes, listings). The core never touches a
 * platform API for files, so it runs unchanged in Deno (`DenoFileSystem`, used where `Deno`
 * exists and none was set) and in a browser tab (`MemoryFileSystem` over the files a user
 * picked). Importing this module sets nothing up.
 *
 * @module
 */

import { DenoFileSystem } from "./deno_fs.ts";
import { type DirEntry, FileError, type FileSystem } from "./file_system.ts";

export { type DirEntry, FileError, type FileInfo, type FileSystem } from "./file_system.ts";

/**
 * The file system a user set with {@link useFileSystem}: the one piece of state in io/, kept
 * process-wide on purpose, since files belong to the process, not to a GPU runtime.
 */
const chosen: { fs: FileSystem | null } = { fs: null };

/**
 * Sets the file system the library reads and writes through.
 *
 * @param fs The file system, or null to return to the default (Deno's, where `Deno` exists).
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
  chosen.fs = fs;
}

/**
 * The file system in use.
 *
 * @returns The one set with {@link useFileSystem}, else Deno's where `Deno` exists.
 * @throws {Error} When there is neither (a browser page that set none).
 * @example
 * ```ts
 * import { fileSystem } from "./files.ts";
 * console.log((await fileSystem().stat("deno.json"))?.isDirectory); // false
 * ```
 */
export function fileSystem(): FileSystem {
  if (chosen.fs) return chosen.fs;
  // Deno users keep plain paths without a set-up call; the object holds no state.
  if (typeof Deno !== "undefined") return new DenoFileSystem();
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
