/**
 * The Hub cache in a browser: the same keys as huggingface_hub's folders
 * (`models--org--name/blobs/<etag>`, `snapshots/<commit>/<path>`, `refs/<revision>`,
 * `.no_exist/<commit>/<path>`) kept as entries of the Cache API, so a second visit downloads
 * nothing. A snapshot entry holds its blob's etag (the browser's symlink); the blob holds the
 * bytes once. A download fills one buffer of the announced size until complete and checked, then
 * is stored from that buffer without a copy; {@link CacheApiHubStorage.readBlob} reads a blob
 * back into one buffer (or hands over the one just stored), so a large file is held once on its
 * way to the loaders. Locks use the Web Locks API where there is one (other tabs wait), else a
 * queue in the page.
 *
 * @module
 */

import { readBodyInto, streamOf } from "./read_body.ts";
import type { HubStorage, PartialBlob } from "./storage.ts";

/** The URL prefix of the entries (the Cache API keys requests by URL). */
const BASE = "https://hub-cache.tessera.invalid/";

/** The part of the Web Locks API the storage uses. */
interface WebLocks {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
}

/** The part of the Cache API the storage uses. */
export interface CacheLike {
  /** Finds an entry. */
  match(request: string): Promise<Response | undefined>;
  /** Stores an entry. */
  put(request: string, response: Response): Promise<void>;
  /** Deletes an entry. */
  delete(request: string): Promise<boolean>;
  /** Every entry's request. */
  keys(): Promise<readonly Request[]>;
}

/**
 * huggingface_hub's cache layout over the Cache API.
 *
 * @example
 * ```ts ignore
 * import { CacheApiHubStorage } from "./cache_api_storage.ts";
 * const storage = new CacheApiHubStorage(await caches.open("tessera-hub"));
 * ```
 */
export class CacheApiHubStorage implements HubStorage {
  /** Where the cache is, for messages. */
  readonly root = "the browser's cache";
  readonly #queues = new Map<string, Promise<void>>();
  readonly #committed = new Map<string, Uint8Array>();
  /**
   * Whether a blob's buffer is kept after it is stored, until {@link readBlob} takes it or
   * {@link releaseCommitted} drops it (so that a fresh download is not read back from the
   * cache into a second buffer). `installBrowserHub` turns it on.
   */
  keepCommitted = false;

  /**
   * Creates the storage.
   *
   * @param cache An open cache (`await caches.open("tessera-hub")`).
   */
  constructor(readonly cache: CacheLike) {}

  /**
   * The key of a path under the cache's root.
   *
   * @param path `models--org--name/...`.
   * @returns The URL the entry is stored under.
   */
  static key(path: string): string {
    return BASE + path.split("/").map(encodeURIComponent).join("/");
  }

  async #text(path: string): Promise<string | null> {
    const r = await this.cache.match(CacheApiHubStorage.key(path));
    return r ? await r.text() : null;
  }

  /** The commit in `refs/<revision>`. */
  readRef(repoDir: string, revision: string): Promise<string | null> {
    return this.#text(`${repoDir}/refs/${revision}`);
  }

  /** Stores `refs/<revision>`. */
  writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
    return this.cache.put(
      CacheApiHubStorage.key(`${repoDir}/refs/${revision}`),
      new Response(commit),
    );
  }

  /** `repoDir/snapshots/<commit>/<path>` when its entry and blob exist. */
  async snapshotFile(repoDir: string, commit: string, path: string): Promise<string | null> {
    const pointer = `${repoDir}/snapshots/${commit}/${path}`;
    const etag = await this.#text(pointer);
    return etag !== null && await this.hasBlob(repoDir, etag) ? pointer : null;
  }

  /** `repoDir/snapshots/<commit>` when any file of it is stored. */
  async snapshotDir(repoDir: string, commit: string): Promise<string | null> {
    const prefix = CacheApiHubStorage.key(`${repoDir}/snapshots/${commit}/`);
    const keys = await this.cache.keys();
    return keys.some((k) => k.url.startsWith(prefix)) ? `${repoDir}/snapshots/${commit}` : null;
  }

  /**
   * The files of a snapshot, with their blobs' keys.
   *
   * @param dir `repoDir/snapshots/<commit>`.
   * @returns Paths inside the snapshot, and where each one's bytes are.
   */
  async snapshotFiles(dir: string): Promise<{ path: string; blob: string }[]> {
    const prefix = CacheApiHubStorage.key(`${dir}/`);
    const repoDir = dir.split("/")[0];
    const out: { path: string; blob: string }[] = [];
    for (const k of await this.cache.keys()) {
      if (!k.url.startsWith(prefix)) continue;
      const path = k.url.slice(prefix.length).split("/").map(decodeURIComponent).join("/");
      const etag = await (await this.cache.match(k.url))!.text();
      out.push({ path, blob: `${repoDir}/blobs/${etag}` });
    }
    return out;
  }

  /**
   * A stored file's bytes.
   *
   * @param path A blob or snapshot path.
   * @returns Its response (the body streams), or null.
   */
  async open(path: string): Promise<Response | null> {
    if (path.includes("/snapshots/")) {
      const etag = await this.#text(path);
      if (etag === null) return null;
      path = `${path.split("/")[0]}/blobs/${etag}`;
    }
    return (await this.cache.match(CacheApiHubStorage.key(path))) ?? null;
  }

  /**
   * A stored blob's bytes in one buffer: the buffer a download just filled when it is kept
   * ({@link keepCommitted}), else the entry's body read chunk by chunk into a buffer of its
   * `Content-Length`.
   *
   * @param blob `repoDir/blobs/<etag>`.
   * @returns The bytes (the caller's to keep; the storage holds no reference), or null.
   * @throws {Error} When the entry's body is not as long as it says, naming the blob.
   */
  async readBlob(blob: string): Promise<Uint8Array | null> {
    const key = CacheApiHubStorage.key(blob);
    const fresh = this.#committed.get(key);
    if (fresh) {
      this.#committed.delete(key);
      return fresh;
    }
    const response = await this.cache.match(key);
    if (!response) return null;
    const size = Number(response.headers.get("Content-Length") ?? NaN);
    if (!Number.isSafeInteger(size) || size < 0) {
      // Entries stored elsewhere without a length: one buffer all the same.
      return new Uint8Array(await response.arrayBuffer());
    }
    return await readBodyInto(response.body, size, blob);
  }

  /** Drops the buffers kept by {@link keepCommitted} that nobody took. */
  releaseCommitted(): void {
    this.#committed.clear();
  }

  /** Whether `.no_exist/<commit>/<path>` is stored. */
  async isNoExist(repoDir: string, commit: string, path: string): Promise<boolean> {
    return (await this.#text(`${repoDir}/.no_exist/${commit}/${path}`)) !== null;
  }

  /** Stores `.no_exist/<commit>/<path>`. */
  markNoExist(repoDir: string, commit: string, path: string): Promise<void> {
    return this.cache.put(
      CacheApiHubStorage.key(`${repoDir}/.no_exist/${commit}/${path}`),
      new Response(""),
    );
  }

  /** Whether `blobs/<etag>` is stored. */
  async hasBlob(repoDir: string, etag: string): Promise<boolean> {
    return (await this.cache.match(CacheApiHubStorage.key(`${repoDir}/blobs/${etag}`))) !==
      undefined;
  }

  /** A Web Lock named after the blob (other tabs wait), else a queue in this page. */
  lock(repoDir: string, etag: string): Promise<() => Promise<void>> {
    const name = `tessera-hub/${repoDir}/${etag}`;
    const locks = (globalThis.navigator as { locks?: WebLocks } | undefined)?.locks;
    return new Promise((resolveLock) => {
      let release!: () => void;
      const held = new Promise<void>((r) => release = r);
      const granted = () => {
        resolveLock(() => (release(), Promise.resolve()));
        return held;
      };
      if (locks) {
        locks.request(name, granted);
        return;
      }
      const before = this.#queues.get(name) ?? Promise.resolve();
      const mine = before.then(granted);
      this.#queues.set(name, mine);
    });
  }

  /**
   * A download held in memory, in one buffer of the announced size filled in place; stored as
   * `blobs/<etag>` only when committed, streamed from that buffer (`new Response(bytes)` would
   * copy it).
   */
  createPartial(repoDir: string, etag: string, size?: number): Promise<PartialBlob> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(size ?? 0);
    } catch {
      return Promise.reject(
        new Error(`${repoDir}/blobs/${etag}: ${size} bytes do not fit in this page's memory`),
      );
    }
    let length = 0;
    const key = CacheApiHubStorage.key(`${repoDir}/blobs/${etag}`);
    const committed = this.#committed;
    const keep = () => this.keepCommitted;
    const cache = this.cache;
    return Promise.resolve({
      get size() {
        return length;
      },
      write(chunk: Uint8Array) {
        if (length + chunk.length > bytes.length) {
          // No size was announced (or it was wrong): grow, as rarely as doubling allows.
          const grown = new Uint8Array(Math.max(2 * bytes.length, length + chunk.length));
          grown.set(bytes.subarray(0, length));
          bytes = grown;
        }
        bytes.set(chunk, length);
        length += chunk.length;
        return Promise.resolve();
      },
      truncate() {
        length = 0;
        return Promise.resolve();
      },
      async commit() {
        const body = length === bytes.length ? bytes : bytes.subarray(0, length);
        bytes = new Uint8Array(0);
        await cache.put(
          key,
          new Response(streamOf(body), { headers: { "Content-Length": String(body.length) } }),
        );
        if (keep()) committed.set(key, body);
      },
      discard() {
        bytes = new Uint8Array(0);
        length = 0;
        return Promise.resolve();
      },
    });
  }

  /** Stores the snapshot entry: the blob's etag. */
  async link(repoDir: string, commit: string, path: string, etag: string): Promise<string> {
    const pointer = `${repoDir}/snapshots/${commit}/${path}`;
    await this.cache.put(CacheApiHubStorage.key(pointer), new Response(etag));
    return pointer;
  }

  /** Nothing to tag in a browser cache. */
  tagCache(): Promise<void> {
    return Promise.resolve();
  }
}
