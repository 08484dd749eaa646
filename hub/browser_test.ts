import assert from "node:assert/strict";
import { parquetWriteBuffer } from "hyparquet-writer";
import { range } from "../data/dataset.ts";
import { loadDataset } from "../data/parquet.ts";
import { encodePng } from "../data/png.ts";
import { renderBeanLeaf } from "../data/synthetic_beans.ts";
import { useFileSystem } from "../io/files.ts";
import { MemoryFileSystem } from "../io/memory_fs.ts";
import { setSourceResolver } from "../io/sources.ts";
import { testTempDir } from "../io/_test_util.ts";
import { ViTForImageClassification } from "../nn/vit.ts";
import { init } from "../tensor/runtime.ts";
import { type FixtureRepo, HubTestServer } from "../tests/_hub_server.ts";
import { saveTinyModel } from "../tests/_tiny_vit.ts";
import { browserHubClient, installBrowserHub } from "./browser.ts";
import type { DownloadProgress } from "./download.ts";

await init();

async function repos(): Promise<FixtureRepo[]> {
  const dir = `${await testTempDir()}/tiny`;
  (await saveTinyModel(dir, { "0": "a", "1": "b" }, 9)).dispose();
  const read = (f: string) => Deno.readFileSync(`${dir}/${f}`);
  const images = range(4).map((i) => ({
    bytes: encodePng(renderBeanLeaf(i % 2, i, 32)),
    path: "",
  }));
  const parquet = new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: "image", data: images },
      { name: "labels", data: range(4).map((i) => BigInt(i % 2)) },
    ],
    schema: [
      { name: "schema", num_children: 2 },
      { name: "image", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
      { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      { name: "labels", type: "INT64", repetition_type: "OPTIONAL" },
    ],
    kvMetadata: [{
      key: "huggingface",
      value: JSON.stringify({ info: { features: { labels: { names: ["a", "b"] } } } }),
    }],
  }));
  return [
    {
      type: "models",
      id: "tessera-test/tiny-vit",
      files: {
        "config.json": read("config.json"),
        "model.safetensors": read("model.safetensors"),
        "preprocessor_config.json": read("preprocessor_config.json"),
      },
    },
    {
      type: "datasets",
      id: "AI-Lab-Makerere/beans",
      aliases: ["beans"],
      files: { "data/train-00000-of-00001.parquet": parquet },
    },
  ];
}

Deno.test("the browser client fetches ids into the Cache API, a second visit downloads nothing, and offline serves the cache", async () => {
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
      /cannot reach http:\/\/127\.0\.0\.1:\d+ .*'config.json' of model 'tessera-test\/other' is not in the cache \(the browser's cache\)/,
    );
  } finally {
    setSourceResolver(null);
    useFileSystem(null);
    await caches.delete(cacheName);
    await server.stop().catch(() => {});
  }
});
