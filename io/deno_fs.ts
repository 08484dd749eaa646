/**
 * The {@link FileSystem} over Deno's file APIs: the only place where the library calls
 * `Deno.*` for files. Writes are atomic (a temporary file in the same folder, synced, then
 * renamed over the target), and Deno's errors become {@link FileError}s with a plain reason.
 *
 * `files.ts` uses it where `Deno` exists and no other file system was set, so that plain paths
 * work for Deno users; loading this module does nothing (in a browser it is never used).
 *
 * @module
 */

import { type DirEntry, FileError, type FileInfo, type FileSystem } from "./file_system.ts";

/** Deno's error as a short reason. */
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

/** The folder of a path ("." for a bare name). */
function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
}

/** Writes all of `bytes` (a write may take fewer). */
async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await file.write(bytes.subarray(written));
}

/**
 * Files on the local disk through Deno.
 *
 * @example
 * ```ts
 * import { DenoFileSystem } from "./deno_fs.ts";
 * const fs = new DenoFileSystem();
 * console.log((await fs.stat("deno.json"))?.isDirectory); // false
 * ```
 */
export class DenoFileSystem implements FileSystem {
  /**
   * Reads a whole file.
   *
   * @param path The file.
   * @returns Its bytes.
   */
  async readFile(path: string): Promise<Uint8Array> {
    try {
      return await Deno.readFile(path);
    } catch (error) {
      throw new FileError(path, describe(error));
    }
  }

  /**
   * Writes a file atomically: a synced temporary file beside it, renamed over it.
   *
   * @param path The file.
   * @param data Its bytes.
   */
  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const dir = parentOf(path);
    const name = path.slice(path.lastIndexOf("/") + 1);
    const temp = `${dir}/.${name}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      await Deno.mkdir(dir, { recursive: true });
      const file = await Deno.open(temp, { write: true, create: true, truncate: true });
      try {
        await writeAll(file, data);
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(temp, path);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw new FileError(path, describe(error));
    }
  }

  /**
   * Appends to a file and syncs it, creating it when missing.
   *
   * @param path The file.
   * @param data The bytes to add.
   */
  async appendFile(path: string, data: Uint8Array): Promise<void> {
    try {
      const file = await Deno.open(path, { create: true, append: true });
      try {
        await writeAll(file, data);
        await file.sync();
      } finally {
        file.close();
      }
    } catch (error) {
      throw new FileError(path, describe(error));
    }
  }

  /**
   * Lists a folder.
   *
   * @param path The folder.
   * @returns Its entries.
   */
  async readDir(path: string): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    try {
      for await (const entry of Deno.readDir(path)) {
        out.push({ name: entry.name, isDirectory: entry.isDirectory });
      }
    } catch (error) {
      throw new FileError(path, describe(error));
    }
    return out;
  }

  /**
   * Describes a path.
   *
   * @param path The file or folder.
   * @returns Its kind and size, or null when nothing is there.
   */
  async stat(path: string): Promise<FileInfo | null> {
    try {
      const info = await Deno.stat(path);
      return { isDirectory: info.isDirectory, size: info.isDirectory ? 0 : info.size };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw new FileError(path, describe(error));
    }
  }

  /**
   * Creates a folder and its parents.
   *
   * @param path The folder.
   */
  async mkdir(path: string): Promise<void> {
    try {
      await Deno.mkdir(path, { recursive: true });
    } catch (error) {
      throw new FileError(path, describe(error));
    }
  }

  /**
   * Removes a file or folder with its contents; no error when missing.
   *
   * @param path The file or folder.
   */
  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(path, { recursive: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw new FileError(path, describe(error));
    }
  }

  /**
   * Moves a file or folder.
   *
   * @param from Where it is.
   * @param to Where it goes.
   */
  async rename(from: string, to: string): Promise<void> {
    try {
      await Deno.rename(from, to);
    } catch (error) {
      throw new FileError(from, `cannot move to ${to} (${describe(error)})`);
    }
  }
}
