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
