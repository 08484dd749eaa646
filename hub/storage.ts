/**
 * What the Hub client asks of its cache, in huggingface_hub's terms (`file_download.py`,
 * version 1.29): `refs/<revision>` holding a commit, `blobs/<etag>`, `snapshots/<commit>/<path>`
 * pointing at a blob, `.no_exist/<commit>/<path>` for files known to be missing, a lock per
 * blob and a temporary file that becomes the blob only when complete. `hub/deno_storage.ts`
 * keeps Python's folder layout on disk; `hub/browser_storage.ts` keeps the same keys in the
 * browser's Cache API.
 *
 * @module
 */

/** A blob being downloaded: a temporary file beside where the blob goes. */
export interface PartialBlob {
  /** Bytes written so far. */
  readonly size: number;
  /**
   * Appends bytes.
   *
   * @param chunk The next bytes.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Empties it (the server ignored a `Range`: the download restarts). */
  truncate(): Promise<void>;
  /** Makes it the blob `blobs/<etag>` (a rename where the storage has one). */
  commit(): Promise<void>;
  /** Deletes it; nothing of it is kept. */
  discard(): Promise<void>;
}

/**
 * The cache. `repoDir` is the repository's folder name (`models--org--name`); paths inside a
 * repository are `/`-separated.
 */
export interface HubStorage {
  /** Where the cache is, for messages. */
  readonly root: string;
  /**
   * The commit a branch or tag last resolved to.
   *
   * @param repoDir The repository's folder.
   * @param revision The branch or tag.
   * @returns The commit, or null when unknown.
   */
  readRef(repoDir: string, revision: string): Promise<string | null>;
  /**
   * Records what a branch or tag resolves to (no newline, as huggingface_hub writes it).
   *
   * @param repoDir The repository's folder.
   * @param revision The branch or tag.
   * @param commit The commit.
   */
  writeRef(repoDir: string, revision: string, commit: string): Promise<void>;
  /**
   * The local location of a snapshot's file, when it is cached.
   *
   * @param repoDir The repository's folder.
   * @param commit The commit.
   * @param path The file.
   * @returns Its location, or null.
   */
  snapshotFile(repoDir: string, commit: string, path: string): Promise<string | null>;
  /**
   * The local location of a snapshot's folder, when it exists.
   *
   * @param repoDir The repository's folder.
   * @param commit The commit.
   * @returns Its location, or null.
   */
  snapshotDir(repoDir: string, commit: string): Promise<string | null>;
  /**
   * Whether a file is known not to exist at a commit (`.no_exist/<commit>/<path>`).
   *
   * @param repoDir The repository's folder.
   * @param commit The commit.
   * @param path The file.
   * @returns True when recorded as missing.
   */
  isNoExist(repoDir: string, commit: string, path: string): Promise<boolean>;
  /**
   * Records that a file does not exist at a commit.
   *
   * @param repoDir The repository's folder.
   * @param commit The commit.
   * @param path The file.
   */
  markNoExist(repoDir: string, commit: string, path: string): Promise<void>;
  /**
   * Whether a blob is complete in the cache.
   *
   * @param repoDir The repository's folder.
   * @param etag The blob's etag.
   * @returns True when present.
   */
  hasBlob(repoDir: string, etag: string): Promise<boolean>;
  /**
   * Takes the blob's lock (`.locks/<repoDir>/<etag>.lock`), waiting for another holder.
   *
   * @param repoDir The repository's folder.
   * @param etag The blob's etag.
   * @returns A function that releases it.
   */
  lock(repoDir: string, etag: string): Promise<() => Promise<void>>;
  /**
   * Creates the temporary file of a blob, unique to this download.
   *
   * @param repoDir The repository's folder.
   * @param etag The blob's etag.
   * @param size The bytes announced, where known (a storage in memory allocates them at once).
   * @returns The partial blob, empty.
   */
  createPartial(repoDir: string, etag: string, size?: number): Promise<PartialBlob>;
  /**
   * Points `snapshots/<commit>/<path>` at `blobs/<etag>` (a relative symlink, or a copy where
   * links fail).
   *
   * @param repoDir The repository's folder.
   * @param commit The commit.
   * @param path The file.
   * @param etag The blob's etag.
   * @returns The snapshot file's location.
   */
  link(repoDir: string, commit: string, path: string, etag: string): Promise<string>;
  /** Writes `CACHEDIR.TAG` at the cache's root when missing (backup tools skip the folder). */
  tagCache(): Promise<void>;
}
