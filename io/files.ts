/**
 * File access for the thin I/O layer around the core: reads whose errors name the file, and
 * atomic writes (a temporary file in the same folder, then a rename), so that a crash never
 * leaves a half-written file where a complete one is expected.
 *
 * @module
 */

/** A file could not be read or written; the message names it. */
export class FileError extends Error {
  /**
   * Creates the error; its message is `path: problem`.
   *
   * @param path The file.
   * @param problem What went wrong.
   */
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "FileError";
  }
}

function describe(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "file not found";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory";
  if (error instanceof Deno.errors.NotADirectory) return "a parent is not a folder";
  if (error instanceof Deno.errors.NotCapable) {
    return "no permission (the task may write only inside the current folder)";
  }
  return error instanceof Error ? error.message : String(error);
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
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new FileError(path, describe(error));
  }
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
 * Writes a file atomically: the data goes to a temporary file beside it, which is then renamed
 * over the target.
 *
 * @param path The file.
 * @param data Bytes or text.
 * @throws {FileError} Naming the file when it cannot be written (the temporary is removed).
 */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) : ".";
  const name = slash >= 0 ? path.slice(slash + 1) : path;
  const temp = `${dir}/.${name}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await Deno.mkdir(dir, { recursive: true });
    const file = await Deno.open(temp, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < bytes.byteLength) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw new FileError(path, `cannot write (${describe(error)})`);
  }
}

/** Joins path segments with single slashes. */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/").replace(/\/{2,}/g, "/");
}

/** Whether a path exists (file or folder). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Names of the entries of a folder, sorted, with whether each is a folder. */
export async function listDir(path: string): Promise<{ name: string; isDirectory: boolean }[]> {
  const out: { name: string; isDirectory: boolean }[] = [];
  try {
    for await (const entry of Deno.readDir(path)) {
      out.push({ name: entry.name, isDirectory: entry.isDirectory });
    }
  } catch (error) {
    throw new FileError(path, describe(error));
  }
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
  const probe = `${dir}/.tessera-write-test-${Deno.pid}`;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (error) {
    throw new FileError(dir, `cannot write the output folder (${describe(error)})`);
  }
}
