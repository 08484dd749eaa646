/**
 * The Hub cache on disk in huggingface_hub's exact layout (`file_download.py`, version 1.29), so
 * that Python finds what Tessera downloaded and the other way round:
 *
 * ```
 * $HF_HUB_CACHE/
 *   CACHEDIR.TAG
 *   .locks/models--org--name/<etag>.lock
 *   models--org--name/
 *     blobs/<etag>                      sha256 of an LFS file, else the git blob hash
 *     refs/main                         the commit, no newline
 *     snapshots/<commit>/<path>         relative symlink ../../blobs/<etag>
 *     .no_exist/<commit>/<path>         empty: the file is known to be missing
 * ```
 *
 * A blob is written to `blobs/<etag>.<8 hex>.incomplete` (unique to the download) and renamed
 * when complete. Deno allows a symlink only with unscoped read and write grants; where it is
 * refused (the CLI's download step is granted the cache folder only) or the file system has no
 * links, the snapshot file is a hard link to the blob, else a copy, as huggingface_hub copies.
 * Deno-only: the portable client sees it through {@link HubStorage}.
 *
 * @module
 */

import type { HubStorage, PartialBlob } from "./storage.ts";

/** The cache directory tag huggingface_hub writes (`_local_folder.py`). */
export const CACHEDIR_TAG_CONTENT = "Signature: 8a477f597d28d172789f06886806bc55\n" +
  "# This file is a cache directory tag created by huggingface_hub.\n" +
  "# For information about cache directory tags, see:\n" +
  "#\thttps://bford.info/cachedir/\n";

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

function unique(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 8);
}

/** How a snapshot file was pointed at its blob, for the tests and the report. */
export type LinkKind = "symlink" | "hardlink" | "copy";

/**
 * huggingface_hub's cache folder, through Deno's file APIs.
 *
 * @example
 * ```ts ignore
 * import { DenoHubStorage } from "./deno_storage.ts";
 * const storage = new DenoHubStorage(`${Deno.env.get("HOME")}/.cache/huggingface/hub`);
 * console.log(await storage.readRef("models--google--vit-base-patch16-224", "main"));
 * ```
 */
export class DenoHubStorage implements HubStorage {
  /** How the last snapshot file was linked. */
  lastLink: LinkKind | null = null;

  /**
   * Creates the storage.
   *
   * @param root The cache folder (`HF_HUB_CACHE`).
   */
  constructor(readonly root: string) {}

  #repo(repoDir: string): string {
    return `${this.root}/${repoDir}`;
  }

  #blob(repoDir: string, etag: string): string {
    return `${this.#repo(repoDir)}/blobs/${etag}`;
  }

  #pointer(repoDir: string, commit: string, path: string): string {
    return `${this.#repo(repoDir)}/snapshots/${commit}/${path}`;
  }

  /** The commit in `refs/<revision>`. */
  async readRef(repoDir: string, revision: string): Promise<string | null> {
    try {
      return (await Deno.readTextFile(`${this.#repo(repoDir)}/refs/${revision}`)).trim() || null;
    } catch {
      return null;
    }
  }

  /** Writes `refs/<revision>` atomically, only when it changes. */
  async writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
    if ((await this.readRef(repoDir, revision)) === commit) return;
    const path = `${this.#repo(repoDir)}/refs/${revision}`;
    await Deno.mkdir(parentOf(path), { recursive: true });
    const tmp = `${path}.${unique()}.tmp`;
    await Deno.writeTextFile(tmp, commit);
    await Deno.rename(tmp, path);
  }

  /** `snapshots/<commit>/<path>` when it leads to a file. */
  async snapshotFile(repoDir: string, commit: string, path: string): Promise<string | null> {
    const pointer = this.#pointer(repoDir, commit, path);
    return await isFile(pointer) ? pointer : null;
  }

  /** `snapshots/<commit>` when it exists. */
  async snapshotDir(repoDir: string, commit: string): Promise<string | null> {
    const dir = `${this.#repo(repoDir)}/snapshots/${commit}`;
    return await isDir(dir) ? dir : null;
  }

  /** Whether `.no_exist/<commit>/<path>` exists. */
  isNoExist(repoDir: string, commit: string, path: string): Promise<boolean> {
    return isFile(`${this.#repo(repoDir)}/.no_exist/${commit}/${path}`);
  }

  /** Creates the empty `.no_exist/<commit>/<path>`. */
  async markNoExist(repoDir: string, commit: string, path: string): Promise<void> {
    const file = `${this.#repo(repoDir)}/.no_exist/${commit}/${path}`;
    await Deno.mkdir(parentOf(file), { recursive: true });
    await Deno.writeFile(file, new Uint8Array(0));
  }

  /** Whether `blobs/<etag>` exists. */
  hasBlob(repoDir: string, etag: string): Promise<boolean> {
    return isFile(this.#blob(repoDir, etag));
  }

  /** An exclusive `flock` on `.locks/<repoDir>/<etag>.lock`, as huggingface_hub's filelock. */
  async lock(repoDir: string, etag: string): Promise<() => Promise<void>> {
    const path = `${this.root}/.locks/${repoDir}/${etag}.lock`;
    await Deno.mkdir(parentOf(path), { recursive: true });
    const file = await Deno.open(path, { write: true, create: true });
    await file.lock(true);
    return async () => {
      await file.unlock();
      file.close();
    };
  }

  /** `blobs/<etag>.<8 hex>.incomplete`, created empty. */
  async createPartial(repoDir: string, etag: string): Promise<PartialBlob> {
    const blob = this.#blob(repoDir, etag);
    await Deno.mkdir(parentOf(blob), { recursive: true });
    const tmp = `${blob}.${unique()}.incomplete`;
    const file = await Deno.open(tmp, { write: true, createNew: true });
    let size = 0;
    let open = true;
    const close = () => {
      if (open) file.close();
      open = false;
    };
    return {
      get size() {
        return size;
      },
      async write(chunk: Uint8Array) {
        for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
        size += chunk.length;
      },
      async truncate() {
        await file.truncate(0);
        await file.seek(0, Deno.SeekMode.Start);
        size = 0;
      },
      async commit() {
        await file.sync();
        close();
        await Deno.rename(tmp, blob);
      },
      async discard() {
        close();
        await Deno.remove(tmp).catch(() => {});
      },
    };
  }

  /** Points the snapshot file at the blob: relative symlink, else hard link, else copy. */
  async link(repoDir: string, commit: string, path: string, etag: string): Promise<string> {
    const pointer = this.#pointer(repoDir, commit, path);
    const blob = this.#blob(repoDir, etag);
    await Deno.mkdir(parentOf(pointer), { recursive: true });
    await Deno.remove(pointer).catch(() => {});
    const relative = `${"../".repeat(path.split("/").length + 1)}blobs/${etag}`;
    try {
      await Deno.symlink(relative, pointer);
      this.lastLink = "symlink";
      return pointer;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists && await isFile(pointer)) return pointer;
    }
    try {
      await Deno.link(blob, pointer);
      this.lastLink = "hardlink";
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists && await isFile(pointer)) return pointer;
      const tmp = `${pointer}.${unique()}.tmp`;
      await Deno.copyFile(blob, tmp);
      await Deno.rename(tmp, pointer);
      this.lastLink = "copy";
    }
    return pointer;
  }

  /** Writes `CACHEDIR.TAG` when missing. */
  async tagCache(): Promise<void> {
    const tag = `${this.root}/CACHEDIR.TAG`;
    if (await isFile(tag)) return;
    await Deno.mkdir(this.root, { recursive: true });
    await Deno.writeTextFile(tag, CACHEDIR_TAG_CONTENT).catch(() => {});
  }
}
