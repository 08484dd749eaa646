/**
 * `hubDownload`: one file of a repository into the cache, the whole of its life in one
 * function and in huggingface_hub's order (`_hf_hub_download_to_cache_dir`, version 1.29):
 * a commit-hash revision already cached is served at once; otherwise one HEAD gives the commit,
 * etag, size and location; when that fails (offline, unreachable, server error) the cache is
 * tried through `refs/`; then `refs/` is written, the blob's lock taken, the bytes streamed to
 * a temporary file (resumed with `Range` after a cut connection, restarted where the server
 * ignores it), the size and, for LFS files, the sha256 checked, the file renamed into `blobs/`
 * and `snapshots/<commit>/<path>` pointed at it.
 *
 * @module
 */

import type { HubConfig } from "./config.ts";
import { EntryNotFoundError, errorFromResponse, HubError, HubUnreachableError } from "./errors.ts";
import { type FetchLike, type FileMetadata, fileMetadata, requestFollowing } from "./http.ts";
import { describeRepo, isCommitHash, repoFolderName, type RepoRef, resolveUrl } from "./repo.ts";
import type { HubStorage, PartialBlob } from "./storage.ts";
import { Sha256 } from "./_sha256.ts";

/** A download's progress. */
export interface DownloadProgress {
  /** The file in the repository. */
  path: string;
  /** Bytes received (resumed bytes included). */
  done: number;
  /** Bytes in all. */
  total: number;
  /** Seconds since this download started. */
  elapsed: number;
  /** Whether this is the last report of the file. */
  finished: boolean;
}

/** Everything the client needs: settings, cache, fetch, and where progress goes. */
export interface HubClient {
  /** Endpoint, token, offline, cache folder. */
  config: HubConfig;
  /** The cache. */
  storage: HubStorage;
  /** The fetch function. */
  fetch: FetchLike;
  /** Whether redirects can be read (Deno); false in a browser. */
  manualRedirects?: boolean;
  /** Waits between retries; tests shorten it. */
  sleep?: (ms: number) => Promise<void>;
  /** Receives progress while a file downloads. */
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * File metadata without a HEAD (a browser cannot read a redirect's headers); the default is
   * the HEAD huggingface_hub makes.
   */
  metadata?: (client: HubClient, repo: RepoRef, revision: string, path: string) => Promise<
    FileMetadata
  >;
}

/** Retries of a body cut mid-way (huggingface_hub's `http_get` gives up after 5). */
const MAX_RESUMES = 5;

function httpContext(client: HubClient) {
  return {
    fetch: client.fetch,
    endpoint: client.config.endpoint,
    token: client.config.token,
    sleep: client.sleep,
    manualRedirects: client.manualRedirects,
  };
}

/** The one line for a file that the cache lacks while the Hub cannot be asked. */
function notCached(client: HubClient, repo: RepoRef, path: string, cause: HubError): HubError {
  const where = `'${path}' of ${describeRepo(repo)}`;
  if (cause.code === "Offline") {
    return new HubError(
      "NotCached",
      `${where} is not in the cache (${client.storage.root}) and HF_HUB_OFFLINE is set: ` +
        "run once with the network, or unset HF_HUB_OFFLINE",
    );
  }
  if (cause instanceof HubUnreachableError) {
    return new HubError(
      "NotCached",
      `${cause.message}, and ${where} is not in the cache (${client.storage.root}): ` +
        "check the network or HF_ENDPOINT",
    );
  }
  return cause;
}

/**
 * The commit a revision stands for in the cache: itself when it is a commit hash, else
 * `refs/<revision>`.
 *
 * @param client The client.
 * @param repo The repository.
 * @param revision The revision.
 * @returns The commit, or null when the cache does not know it.
 */
export async function cachedCommit(
  client: HubClient,
  repo: RepoRef,
  revision: string,
): Promise<string | null> {
  if (isCommitHash(revision)) return revision;
  return await client.storage.readRef(repoFolderName(repo), revision);
}

/**
 * A file of a repository, from the cache or downloaded into it, as huggingface_hub's
 * `hf_hub_download`.
 *
 * @param client Settings, cache and fetch.
 * @param repo The repository and revision ("main" by default).
 * @param path The file in the repository.
 * @returns The snapshot file's location (`…/snapshots/<commit>/<path>`).
 * @throws {HubError} One line: the Hub's error (repository, revision or file not found, gated),
 * a file not cached while offline, or a checksum mismatch.
 * @example
 * ```ts ignore
 * import { hubDownload } from "./download.ts";
 * const file = await hubDownload(client, { id: "google/vit-base-patch16-224", type: "model" },
 *   "config.json");
 * ```
 */
export async function hubDownload(
  client: HubClient,
  repo: RepoRef,
  path: string,
): Promise<string> {
  const storage = client.storage;
  const repoDir = repoFolderName(repo);
  const revision = repo.revision ?? "main";

  // 1. A commit hash whose file is cached needs no request.
  if (isCommitHash(revision)) {
    const pointer = await storage.snapshotFile(repoDir, revision, path);
    if (pointer) return pointer;
  }

  // 2. The metadata, or the error that sends us to the cache.
  let meta: FileMetadata | null = null;
  let headError: HubError | null = null;
  if (client.config.offline) {
    headError = new HubError("Offline", "HF_HUB_OFFLINE is set");
  } else {
    try {
      meta = await (client.metadata ?? headMetadata)(client, repo, revision, path);
    } catch (error) {
      if (error instanceof EntryNotFoundError && error.commit) {
        await storage.markNoExist(repoDir, error.commit, path);
        if (revision !== error.commit) await storage.writeRef(repoDir, revision, error.commit);
      }
      if (!(error instanceof HubError)) throw error;
      if (error instanceof EntryNotFoundError || error.code === "RevisionNotFound") throw error;
      headError = error;
    }
  }

  // 3. No metadata: the cached snapshot through refs/, else one line.
  if (!meta) {
    const commit = await cachedCommit(client, repo, revision);
    if (commit) {
      const pointer = await storage.snapshotFile(repoDir, commit, path);
      if (pointer) return pointer;
      if (await storage.isNoExist(repoDir, commit, path)) {
        throw new EntryNotFoundError(repo, path, commit);
      }
    }
    throw notCached(client, repo, path, headError!);
  }

  // 4. Already in the snapshot: refresh the ref and serve it.
  const existing = await storage.snapshotFile(repoDir, meta.commit, path);
  if (existing) {
    if (revision !== meta.commit) await storage.writeRef(repoDir, revision, meta.commit);
    return existing;
  }

  await storage.tagCache();
  if (revision !== meta.commit) await storage.writeRef(repoDir, revision, meta.commit);

  // 5. Under the blob's lock: download unless another process just did, then link.
  const release = await storage.lock(repoDir, meta.etag);
  try {
    if (!(await storage.hasBlob(repoDir, meta.etag))) {
      const partial = await storage.createPartial(repoDir, meta.etag, meta.size);
      await downloadBlob(client, repo, path, meta, partial);
    }
    return await storage.link(repoDir, meta.commit, path, meta.etag);
  } finally {
    await release();
  }
}

/** The HEAD huggingface_hub makes. */
function headMetadata(
  client: HubClient,
  repo: RepoRef,
  revision: string,
  path: string,
): Promise<FileMetadata> {
  const url = resolveUrl(client.config.endpoint, repo, revision, path);
  return fileMetadata(httpContext(client), { ...repo, revision }, url, path);
}

/**
 * Streams the blob into `partial`, resuming with `Range` after a cut, then checks it and
 * makes it the blob; on any failure the partial file is deleted.
 */
async function downloadBlob(
  client: HubClient,
  repo: RepoRef,
  path: string,
  meta: FileMetadata,
  partial: PartialBlob,
): Promise<void> {
  const ctx = httpContext(client);
  const lfs = /^[0-9a-f]{64}$/.test(meta.etag);
  let hash = new Sha256();
  const t0 = performance.now();
  const report = (finished: boolean) =>
    client.onProgress?.({
      path,
      done: partial.size,
      total: meta.size,
      elapsed: (performance.now() - t0) / 1000,
      finished,
    });
  try {
    for (let cuts = 0; partial.size < meta.size || meta.size === 0;) {
      const headers: Record<string, string> = { "Accept-Encoding": "identity" };
      const resumeAt = partial.size;
      if (resumeAt > 0) headers.Range = `bytes=${resumeAt}-`;
      const { response } = await requestFollowing(ctx, meta.location, { headers }, true);
      if (response.status >= 400) {
        await response.body?.cancel();
        throw errorFromResponse(response, repo, ctx.endpoint, path, ctx.token !== undefined);
      }
      if (resumeAt > 0 && response.status !== 206) {
        // The server ignored the Range: start again from the first byte.
        await partial.truncate();
        hash = new Sha256();
      }
      const before = partial.size;
      try {
        for await (const chunk of response.body ?? []) {
          if (partial.size + chunk.length > meta.size) {
            throw new HubError(
              "Size",
              `${describeRepo(repo)} ${path}: the server sent more than the ${meta.size} bytes ` +
                "announced; download refused, nothing kept",
            );
          }
          await partial.write(chunk);
          if (lfs) hash.update(chunk);
          report(false);
        }
      } catch (error) {
        if (error instanceof HubError) throw error;
        // A cut connection: resume, unless several tries brought nothing new.
        if (partial.size === before) cuts++;
        if (cuts >= MAX_RESUMES) {
          throw new HubError(
            "Interrupted",
            `${describeRepo(repo)} ${path}: the connection kept failing at byte ${partial.size} ` +
              `of ${meta.size}; try again`,
          );
        }
        continue;
      }
      if (meta.size === 0) break;
      if (partial.size === before) cuts++;
      if (cuts >= MAX_RESUMES) {
        throw new HubError(
          "Interrupted",
          `${describeRepo(repo)} ${path}: the server stopped at byte ${partial.size} of ` +
            `${meta.size}; try again`,
        );
      }
    }
    if (lfs) {
      const got = hash.hex();
      if (got !== meta.etag) {
        throw new HubError(
          "Checksum",
          `${describeRepo(repo)} ${path}: sha256 ${got} does not match the Hub's ${meta.etag}; ` +
            "download refused, nothing kept",
        );
      }
    }
    await partial.commit();
    report(true);
  } catch (error) {
    await partial.discard();
    throw error;
  }
}
