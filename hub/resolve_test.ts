import assert from "node:assert/strict";
import { parquetWriteBuffer } from "hyparquet-writer";
import { range } from "../data/dataset.ts";
import { loadDataset } from "../data/parquet.ts";
import { encodePng } from "../data/png.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { renderBeanLeaf } from "../data/synthetic_beans.ts";
import { testTempDir } from "../io/_test_util.ts";
import { setSourceResolver } from "../io/sources.ts";
import { AutoModelForImageClassification } from "../nn/auto.ts";
import { ViTForImageClassification } from "../nn/vit.ts";
import { init } from "../tensor/runtime.ts";
import { type FixtureRepo, HubTestServer } from "../tests/_hub_server.ts";
import { saveTinyModel } from "../tests/_tiny_vit.ts";
import { hubConfigFromEnv } from "./config.ts";
import { installDenoHub } from "./deno.ts";
import { DenoHubStorage } from "./deno_storage.ts";
import type { HubClient } from "./download.ts";

await init();

const NAMES = ["a", "b"];

async function repos(): Promise<FixtureRepo[]> {
  const dir = `${await testTempDir()}/tiny`;
  (await saveTinyModel(dir, { "0": "a", "1": "b" }, 5)).dispose();
  const read = (f: string) => Deno.readFileSync(`${dir}/${f}`);
  const images = range(4).map((i) => ({
    bytes: encodePng(renderBeanLeaf(i % 2, i, 32)),
    path: `${i}.png`,
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
      value: JSON.stringify({ info: { features: { labels: { names: NAMES } } } }),
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

Deno.test("fromPretrained, the Auto class, ViTImageProcessor and loadDataset take Hub ids when no folder has that name", async () => {
  const server = await new HubTestServer(await repos()).start();
  const cache = `${await testTempDir()}/hub`;
  const vars: Record<string, string> = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: cache };
  const client: HubClient = {
    config: hubConfigFromEnv((k) => vars[k]),
    storage: new DenoHubStorage(cache),
    fetch: (url, init) => fetch(url, init),
    manualRedirects: true,
  };
  installDenoHub(client);
  try {
    const model = await ViTForImageClassification.fromPretrained("tessera-test/tiny-vit", {
      log: () => {},
    });
    assert.deepEqual(model.config.id2label, { "0": "a", "1": "b" });
    model.dispose();
    const commit = server.commits.get("models/tessera-test/tiny-vit")!;
    const auto = await AutoModelForImageClassification.fromPretrained("tessera-test/tiny-vit", {
      revision: commit,
      numLabels: 3,
      log: () => {},
    });
    assert.equal(auto.numLabels, 3);
    auto.dispose();
    const processor = await ViTImageProcessor.fromPretrained("tessera-test/tiny-vit");
    assert.equal(processor.config.size.height, 32);
    const ds = await loadDataset("beans");
    assert.deepEqual(ds.train.labels.names, NAMES);
    assert.equal(ds.train.length, 4);
    await assert.rejects(
      ViTForImageClassification.fromPretrained("tessera-test/missing"),
      /^HubError: no local folder 'tessera-test\/missing', and model 'tessera-test\/missing' not found on http:\/\/127\.0\.0\.1:\d+: check the id/,
    );
    // A local folder of that name wins, without a request.
    const n = server.requests.length;
    const local = await ViTImageProcessor.fromPretrained(
      new URL("../models/vit-tiny-contours", import.meta.url).pathname,
    );
    assert.ok(local.config.size.height > 0);
    assert.equal(server.requests.length, n);
  } finally {
    setSourceResolver(null);
    await server.stop();
  }
});
