import assert from "node:assert/strict";
import { loadDataset } from "../data/parquet.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { AutoImageProcessor } from "../data/auto_processor.ts";
import { testTempDir } from "../io/_test_util.ts";
import { setSourceResolver } from "../io/sources.ts";
import { AutoModelForImageClassification } from "../models/auto.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { init } from "../tensor/runtime.ts";
import { type FixtureRepo, HubTestServer } from "../tests/_hub_server.ts";
import { parquetDatasetRepo, tinyVitRepo } from "../tests/_hub_fixtures.ts";
import { hubConfigFromEnv } from "./config.ts";
import { installDenoHub } from "./deno.ts";
import { DenoHubStorage } from "./deno_storage.ts";
import type { HubClient } from "./download.ts";

await init();

async function repos(): Promise<FixtureRepo[]> {
  return [
    await tinyVitRepo("tessera-test/tiny-vit", ["a", "b"], 5),
    parquetDatasetRepo("AI-Lab-Makerere/beans", ["a", "b"], { train: 4 }, ["beans"]),
  ];
}

Deno.test("the pretrained loaders and loadDataset take Hub ids if no folder matches", async () => {
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
    const autoProcessor = await AutoImageProcessor.fromPretrained("tessera-test/tiny-vit", {
      revision: commit,
    });
    assert.ok(autoProcessor instanceof ViTImageProcessor);
    assert.deepEqual(autoProcessor.outputSize, { height: 32, width: 32 });
    const ds = await loadDataset("beans");
    assert.deepEqual(ds.train.labels.names, ["a", "b"]);
    assert.equal(ds.train.length, 4);
    await assert.rejects(
      ViTForImageClassification.fromPretrained("tessera-test/missing"),
      new RegExp(
        "^HubError: no local folder 'tessera-test\\/missing', and " +
          "model 'tessera-test\\/missing' not found on " +
          "http:\\/\\/127\\.0\\.0\\.1:\\d+: check the id",
      ),
    );
    // A local folder of that name wins, without a request.
    const n = server.requests.length;
    const local = await ViTImageProcessor.fromPretrained(
      new URL("../models/vit-tiny-contours", import.meta.url).pathname,
    );
    assert.ok(local.outputSize.height > 0);
    assert.equal(server.requests.length, n);
  } finally {
    setSourceResolver(null);
    await server.stop();
  }
});
