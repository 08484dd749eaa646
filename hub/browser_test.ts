import assert from "node:assert/strict";
import { loadDataset } from "../data/parquet.ts";
import { useFileSystem } from "../io/files.ts";
import { MemoryFileSystem } from "../io/memory_fs.ts";
import { setSourceResolver } from "../io/sources.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { init } from "../tensor/runtime.ts";
import { type FixtureRepo, HubTestServer } from "../tests/_hub_server.ts";
import { parquetDatasetRepo, tinyVitRepo } from "../tests/_hub_fixtures.ts";
import { browserHubClient, installBrowserHub } from "./browser.ts";
import type { DownloadProgress } from "./download.ts";

await init();

async function repos(): Promise<FixtureRepo[]> {
  return [
    await tinyVitRepo("tessera-test/tiny-vit", ["a", "b"], 5),
    parquetDatasetRepo("AI-Lab-Makerere/beans", ["a", "b"], { train: 4 }, ["beans"]),
  ];
}

Deno.test("the browser client caches ids, refetches nothing, and serves them offline", async () => {
  const server = await new HubTestServer(await repos()).start();
  const cacheName = `tessera-hub-test-${crypto.randomUUID()}`;
  const cache = await caches.open(cacheName);
  const visit = async () => {
    const progress: DownloadProgress[] = [];
    const client = await browserHubClient({
      endpoint: server.endpoint,
      cache,
      onProgress: (p) => progress.push(p),
    });
    useFileSystem(new MemoryFileSystem());
    installBrowserHub(client);
    return progress;
  };
  try {
    const progress = await visit();
    const model = await ViTForImageClassification.fromPretrained("tessera-test/tiny-vit", {
      log: () => {},
    });
    assert.deepEqual(model.config.id2label, { "0": "a", "1": "b" });
    model.dispose();
    const ds = await loadDataset("beans");
    assert.equal(ds.train.length, 4);
    assert.ok(progress.some((p) => p.path === "model.safetensors" && p.finished));
    assert.equal(server.requests.filter((r) => r.method === "HEAD").length, 0, "no HEAD");
    const cdn = server.requests.filter((r) => r.server === "cdn").length;
    assert.equal(cdn, 2, "the weights and the parquet file from the CDN");

    // Second visit: a fresh page (empty memory file system), same Cache API: listings only.
    await visit();
    const before = server.requests.length;
    (await ViTForImageClassification.fromPretrained("tessera-test/tiny-vit", { log: () => {} }))
      .dispose();
    const again = server.requests.slice(before);
    assert.deepEqual(again.filter((r) => r.path.includes("/resolve/")), [], "nothing downloaded");

    // Offline: the server is gone; the cache serves the model through refs/.
    await server.stop();
    await visit();
    (await ViTForImageClassification.fromPretrained("tessera-test/tiny-vit", { log: () => {} }))
      .dispose();
    await assert.rejects(
      ViTForImageClassification.fromPretrained("tessera-test/other"),
      new RegExp(
        "cannot reach http:\\/\\/127\\.0\\.0\\.1:\\d+ .*'config.json' of " +
          "model 'tessera-test\\/other' is not in the cache \\(the " + "browser's cache\\)",
      ),
    );
  } finally {
    setSourceResolver(null);
    useFileSystem(null);
    await caches.delete(cacheName);
    await server.stop().catch(() => {});
  }
});

/** A MemoryFileSystem that records the bytes it adopts and the bytes its readers get. */
class RecordingFileSystem extends MemoryFileSystem {
  readonly adopted = new Map<string, Uint8Array>();
  readonly served = new Map<string, Uint8Array[]>();

  override adoptFile(path: string, data: Uint8Array): void {
    this.adopted.set(path, data);
    super.adoptFile(path, data);
  }

  override async readFile(path: string): Promise<Uint8Array> {
    const data = await super.readFile(path);
    this.served.set(path, [...(this.served.get(path) ?? []), data]);
    return data;
  }
}

/**
 * Watches, from the page's side, the ways JavaScript makes a second full copy of `size` bytes:
 * `slice` of a typed array or an ArrayBuffer (whole, or piece by piece: the bytes sliced are
 * summed), a `Blob` made of them, and a body read whole (`arrayBuffer`, `bytes`, `blob` of a
 * Response or a Blob); and counts the bytes `set` into Uint8Arrays of exactly `size` bytes (one
 * fill of one buffer is `size`).
 */
function watchCopies(size: number) {
  const copies: string[] = [];
  let filled = 0;
  let sliced = 0;
  const restore: (() => void)[] = [];
  const OriginalBlob = globalThis.Blob;
  globalThis.Blob = class extends OriginalBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (this.size >= size) copies.push(`new Blob of ${this.size} bytes`);
    }
  };
  restore.push(() => globalThis.Blob = OriginalBlob);
  const wrap = (
    owner: object,
    name: string,
    after: (r: unknown, self: unknown, a: unknown[]) => void,
  ) => {
    const original = (owner as Record<string, (...a: unknown[]) => unknown>)[name];
    if (typeof original !== "function") return;
    Object.defineProperty(owner, name, {
      configurable: true,
      writable: true,
      value: function (this: unknown, ...args: unknown[]) {
        const result = original.apply(this, args);
        if (result instanceof Promise) return result.then((r) => (after(r, this, args), r));
        after(result, this, args);
        return result;
      },
    });
    restore.push(() =>
      Object.defineProperty(owner, name, { configurable: true, writable: true, value: original })
    );
  };
  const big = (what: string) => (r: unknown) => {
    const n = r instanceof Blob ? r.size : (r as { byteLength?: number })?.byteLength ?? 0;
    if (n >= size) copies.push(`${what} of ${n} bytes`);
  };
  const typedArray = Object.getPrototypeOf(Uint8Array.prototype);
  wrap(typedArray, "slice", (r) => {
    sliced += (r as Uint8Array).byteLength;
    big("TypedArray.slice")(r);
  });
  wrap(ArrayBuffer.prototype, "slice", big("ArrayBuffer.slice"));
  for (const [owner, label] of [[Response.prototype, "Response"], [Blob.prototype, "Blob"]]) {
    for (const m of ["arrayBuffer", "bytes", "blob"]) {
      wrap(owner as object, m, big(`${label}.${m}`));
    }
  }
  wrap(typedArray, "set", (_r, self, [source]) => {
    if (self instanceof Uint8Array && self.byteLength === size) {
      filled += (source as ArrayLike<number>).length;
    }
  });
  return {
    copies,
    get filled() {
      return filled;
    },
    get sliced() {
      return sliced;
    },
    reset() {
      copies.length = 0;
      filled = 0;
      sliced = 0;
    },
    restore: () => restore.reverse().forEach((r) => r()),
  };
}

Deno.test("a Hub model's weights reach the loader in the one buffer filled from the stream", async () => {
  const repo = await tinyVitRepo("tessera-test/tiny-vit", ["a", "b"], 5);
  const size = repo.files["model.safetensors"].length;
  const server = await new HubTestServer([repo]).start();
  const cacheName = `tessera-hub-test-${crypto.randomUUID()}`;
  const cache = await caches.open(cacheName);
  const watch = watchCopies(size);
  try {
    // The watch sees the copies the old path made: a body read whole, a slice.
    await new Response(new Uint8Array(size)).arrayBuffer();
    new Uint8Array(size).slice();
    new Blob([new Uint8Array(size)]);
    assert.equal(watch.copies.length, 3, watch.copies.join());
    for (const visit of ["download", "from the cache"]) {
      watch.reset();
      const fs = new RecordingFileSystem();
      useFileSystem(fs);
      installBrowserHub(await browserHubClient({ endpoint: server.endpoint, cache }));
      const model = await ViTForImageClassification.fromPretrained("tessera-test/tiny-vit", {
        log: () => {},
      });
      assert.deepEqual(model.config.id2label, { "0": "a", "1": "b" });
      model.dispose();
      const found = [...fs.adopted].find(([p]) => p.endsWith("/model.safetensors"));
      assert.ok(found, `${visit}: the weights were written into the file system, not adopted`);
      const [path, weights] = found;
      // One buffer of exactly the file's size holds the weights: the file system keeps it and
      // the loader reads it, the very same bytes, not a copy of them.
      assert.equal(weights.buffer.byteLength, size, visit);
      assert.deepEqual(weights, repo.files["model.safetensors"], visit);
      const served = fs.served.get(path) ?? [];
      assert.ok(served.length >= 1, `${visit}: the loader read ${path}`);
      assert.ok(served.every((s) => s === weights), `${visit}: the loader got a copy`);
      // Filled once from the stream (the network's, then the cache's), never copied whole.
      assert.equal(watch.filled, size, visit);
      assert.deepEqual(watch.copies, [], visit);
      assert.ok(watch.sliced < size, `${visit}: ${watch.sliced} bytes sliced`);
    }
    const cdn = server.requests.filter((r) => r.server === "cdn").length;
    assert.equal(cdn, 1, "the weights were downloaded once");
  } finally {
    watch.restore();
    setSourceResolver(null);
    useFileSystem(null);
    await caches.delete(cacheName);
    await server.stop();
  }
});
