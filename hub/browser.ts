/**
 * The Hub client in a browser: the Cache API as the cache (`hub/cache_api_storage.ts`), the
 * page's `fetch` with CORS (redirects followed by the browser, which drops `Authorization`
 * across origins; no token is ever asked for), and file metadata from the Hub's tree API, since
 * a page cannot read a redirect's headers. {@link installBrowserHub} makes `fromPretrained` and
 * `loadDataset` take ids: the snapshot's files go from the cache into the file system in use (a
 * `MemoryFileSystem`), where the loaders read them. A large file is held once on that way: a
 * download fills one buffer of its announced size, which is stored in the Cache API from that
 * buffer and handed to the file system as it is (`adoptFile`), which hands it to the loader
 * without a copy; a cached file is read in chunks into one buffer of its length, likewise.
 *
 * @module
 */

import { fileSystem } from "../io/files.ts";
import { MemoryFileSystem } from "../io/memory_fs.ts";
import { setSourceResolver } from "../io/sources.ts";
import { CacheApiHubStorage, type CacheLike } from "./cache_api_storage.ts";
import { DEFAULT_ENDPOINT } from "./config.ts";
import type { DownloadProgress, HubClient } from "./download.ts";
import { EntryNotFoundError } from "./errors.ts";
import type { FetchLike, FileMetadata } from "./http.ts";
import { type RepoRef, resolveUrl, revisionApiUrl, treeApiUrl } from "./repo.ts";
import { hubResolver } from "./resolve.ts";
import { getHubJsonPages } from "./pagination.ts";
import { getHubJson } from "./snapshot.ts";

/** A browser Hub client, with its Cache API storage. */
export interface BrowserHubClient extends HubClient {
  /** The cache. */
  storage: CacheApiHubStorage;
}

/** Options of {@link browserHubClient}. */
export interface BrowserHubOptions {
  /** The Hub (huggingface.co by default). */
  endpoint?: string;
  /** An open cache (`caches.open("tessera-hub")` by default). */
  cache?: CacheLike;
  /** The fetch function (the page's by default). */
  fetch?: FetchLike;
  /** Receives progress while a file downloads. */
  onProgress?: (progress: DownloadProgress) => void;
}

interface Listing {
  commit: string;
  files: Map<string, { etag: string; size: number }>;
}

/**
 * File metadata from the revision and tree APIs (one listing per repository and revision):
 * the commit, the LFS sha256 (else the git blob hash), the size, and the resolve URL at the
 * commit, which the browser follows to the CDN.
 *
 * @returns The metadata function for {@link HubClient.metadata}.
 */
export function treeMetadata(): NonNullable<HubClient["metadata"]> {
  const listings = new Map<string, Promise<Listing>>();
  const list = async (client: HubClient, repo: RepoRef, revision: string): Promise<Listing> => {
    const endpoint = client.config.endpoint;
    const info = await getHubJson(client, repo, revisionApiUrl(endpoint, repo, revision)) as {
      sha?: string;
    };
    const commit = String(info?.sha ?? "");
    // Every page of the tree (`Link: <…>; rel="next"`), as huggingface_hub's `paginate`.
    const tree = await getHubJsonPages(client, repo, treeApiUrl(endpoint, repo, commit)) as {
      type: string;
      path: string;
      oid: string;
      size: number;
      lfs?: { oid: string; size: number };
    }[];
    const files = new Map<string, { etag: string; size: number }>();
    for (const e of tree) {
      if (e.type === "file") {
        files.set(e.path, { etag: e.lfs?.oid ?? e.oid, size: e.lfs?.size ?? e.size });
      }
    }
    return { commit, files };
  };
  return async (client, repo, revision, path): Promise<FileMetadata> => {
    const key = `${repo.type}/${repo.id}@${revision}`;
    let listing = listings.get(key);
    if (!listing) {
      listing = list(client, repo, revision);
      listings.set(key, listing);
      listing.catch(() => listings.delete(key));
    }
    const { commit, files } = await listing;
    const file = files.get(path);
    if (!file) throw new EntryNotFoundError({ ...repo, revision }, path, commit);
    return {
      commit,
      etag: file.etag,
      size: file.size,
      location: resolveUrl(client.config.endpoint, repo, commit, path),
    };
  };
}

/**
 * A Hub client for a browser page or worker.
 *
 * @param options Endpoint, cache, fetch, progress.
 * @returns The client.
 * @example
 * ```ts ignore
 * import { browserHubClient } from "./browser.ts";
 * const client = await browserHubClient({ onProgress: (p) => console.log(p.path, p.done) });
 * ```
 */
export async function browserHubClient(
  options: BrowserHubOptions = {},
): Promise<BrowserHubClient> {
  const cache = options.cache ?? await caches.open("tessera-hub");
  return {
    config: {
      endpoint: (options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, ""),
      cacheDir: "the browser's cache",
      offline: false,
      progressBars: true,
    },
    storage: new CacheApiHubStorage(cache),
    fetch: options.fetch ?? ((url, init) => fetch(url, init)),
    manualRedirects: false,
    metadata: treeMetadata(),
    onProgress: options.onProgress,
  };
}

/**
 * Makes `fromPretrained` and `loadDataset` take Hub ids in a browser: a name that the file
 * system in use does not have is fetched into the Cache API, and its snapshot copied into that
 * file system under the same path (`models--org--name/snapshots/<commit>/…`).
 *
 * @param client The client ({@link browserHubClient}).
 * @example
 * ```ts ignore
 * import { browserHubClient, installBrowserHub } from "./browser.ts";
 * installBrowserHub(await browserHubClient());
 * const model = await ViTForImageClassification.fromPretrained("google/vit-base-patch16-224");
 * ```
 */
export function installBrowserHub(client: BrowserHubClient): void {
  const exists = async (name: string) => (await fileSystem().stat(name)) !== null;
  const fetchToFs = hubResolver(client, exists);
  // A download's buffer goes to the file system as it is, not read back from the cache.
  client.storage.keepCommitted = true;
  setSourceResolver(async (name, kind, options) => {
    try {
      const dir = await fetchToFs(name, kind, options);
      if (dir === name) return name;
      const fs = fileSystem();
      for (const { path, blob } of await client.storage.snapshotFiles(dir)) {
        const target = `${dir}/${path}`;
        if (await fs.stat(target)) continue;
        const bytes = await client.storage.readBlob(blob);
        if (!bytes) continue;
        // The one buffer, not a copy, where the file system can keep it so.
        if (fs instanceof MemoryFileSystem) fs.adoptFile(target, bytes);
        else await fs.writeFile(target, bytes);
      }
      return dir;
    } finally {
      client.storage.releaseCommitted();
    }
  });
}
