/**
 * The Hub end to end: `deno task train --model ORG/NAME --data ORG/DATASET` against the local
 * fake Hub downloads into Python's cache layout and trains; again with the server stopped and
 * HF_HUB_OFFLINE=1 it trains from the cache with zero requests; two processes fetching one file
 * at once leave one correct blob; the token appears nowhere in the output or the cache.
 */

import assert from "node:assert/strict";
import { removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { HUB_ENV_VARS } from "../hub/config.ts";
import { init } from "../tensor/runtime.ts";
import { HubTestServer } from "./_hub_server.ts";
import { encodePng } from "../data/png.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { parquetDatasetRepo, tinyVitRepo } from "./_hub_fixtures.ts";

await init();

const NAMES = ["angular_leaf_spot", "bean_rust", "healthy"];

const root = await testTempDir();
removeOnUnload(root);
const repos = [
  await tinyVitRepo("tessera-test/tiny-vit", NAMES, 3),
  parquetDatasetRepo("tessera-test/tiny-beans", NAMES, { train: 12, validation: 6 }),
];
const TASK_ENV = [
  "LP_NATIVE_VECTOR_WIDTH",
  ...HUB_ENV_VARS.filter((v) => v !== "HF_TOKEN"),
].join(",");

/** `deno task train` as deno.json declares it, with the output inside `root`. */
/** A task as deno.json declares it (train, evaluate, predict), writing only inside `root`. */
async function task(name: string, args: string[], env: Record<string, string>) {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      `--allow-env=${TASK_ENV}`,
      "--allow-run=grep,deno",
      ...(name === "train" ? [`--allow-write=${root}`, "--allow-sys=hostname"] : []),
      new URL(`../cli/${name}.ts`, import.meta.url).pathname,
      ...args,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** `deno task train --model ORG/NAME --data ORG/DATASET`, two steps. */
function train(env: Record<string, string>, out: string) {
  return task("train", [
    "--model",
    "tessera-test/tiny-vit",
    "--data",
    "tessera-test/tiny-beans",
    "--output-dir",
    out,
    "--max-steps",
    "2",
    "--save-steps",
    "2",
    "--eval-steps",
    "2",
    "--per-device-train-batch-size",
    "4",
  ], env);
}

async function tree(dir: string, at = ""): Promise<string[]> {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(`${dir}/${at}`)].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const rel = at ? `${at}/${e.name}` : e.name;
    if (e.isDirectory) out.push(`${rel}/`, ...await tree(dir, rel));
    else out.push(rel);
  }
  return out;
}

async function grepTree(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const bytes = new TextEncoder().encode(needle);
  for (const rel of await tree(dir)) {
    if (rel.endsWith("/")) continue;
    const data = await Deno.readFile(`${dir}/${rel}`);
    outer: for (let i = 0; i + bytes.length <= data.length; i++) {
      for (let j = 0; j < bytes.length; j++) if (data[i + j] !== bytes[j]) continue outer;
      hits.push(rel);
      break;
    }
  }
  return hits;
}

Deno.test("deno task train with Hub ids downloads and trains, then trains offline", async () => {
  const server = await new HubTestServer(repos).start();
  const cache = `${root}/hf/hub`;
  const env = {
    HF_ENDPOINT: server.endpoint,
    HF_HOME: `${root}/hf`,
    HF_TOKEN: server.token,
    HF_HUB_DISABLE_PROGRESS_BARS: "",
  };
  let stopped = false;
  try {
    const first = await train(env, `${root}/out-online`);
    assert.equal(first.code, 0, first.stderr + first.stdout);
    // Progress lines, one per downloaded file, in the CLI's style.
    assert.match(
      first.stderr,
      /model\.safetensors: 100%\|█+\| [\d.]+k\/[\d.]+k \[\d\d:\d\d<\d\d:\d\d, /,
    );
    assert.match(first.stdout, /\*\*\*\*\* train metrics \*\*\*\*\*/);
    assert.ok(await Deno.stat(`${root}/out-online/model.safetensors`));
    const mcommit = server.commits.get("models/tessera-test/tiny-vit")!;
    const dcommit = server.commits.get("datasets/tessera-test/tiny-beans")!;
    const listing = await tree(cache);
    const e = (p: string) => server.etag("models", "tessera-test/tiny-vit", p);
    const d = (p: string) => server.etag("datasets", "tessera-test/tiny-beans", p);
    assert.deepEqual(listing, [
      ".locks/",
      ".locks/datasets--tessera-test--tiny-beans/",
      ...[
        d("README.md"),
        d("data/train-00000-of-00001.parquet"),
        d("data/validation-00000-of-00001.parquet"),
      ].sort().map((x) => `.locks/datasets--tessera-test--tiny-beans/${x}.lock`),
      ".locks/models--tessera-test--tiny-vit/",
      ...[e("config.json"), e("model.safetensors"), e("preprocessor_config.json")].sort()
        .map((x) => `.locks/models--tessera-test--tiny-vit/${x}.lock`),
      "CACHEDIR.TAG",
      "datasets--tessera-test--tiny-beans/",
      "datasets--tessera-test--tiny-beans/blobs/",
      ...[
        d("README.md"),
        d("data/train-00000-of-00001.parquet"),
        d("data/validation-00000-of-00001.parquet"),
      ].sort().map((x) => `datasets--tessera-test--tiny-beans/blobs/${x}`),
      "datasets--tessera-test--tiny-beans/refs/",
      "datasets--tessera-test--tiny-beans/refs/main",
      "datasets--tessera-test--tiny-beans/snapshots/",
      `datasets--tessera-test--tiny-beans/snapshots/${dcommit}/`,
      `datasets--tessera-test--tiny-beans/snapshots/${dcommit}/README.md`,
      `datasets--tessera-test--tiny-beans/snapshots/${dcommit}/data/`,
      `datasets--tessera-test--tiny-beans/snapshots/${dcommit}/data/train-00000-of-00001.parquet`,
      `datasets--tessera-test--tiny-beans/snapshots/${dcommit}/data/` +
      "validation-00000-of-00001.parquet",
      "models--tessera-test--tiny-vit/",
      "models--tessera-test--tiny-vit/blobs/",
      ...[e("config.json"), e("model.safetensors"), e("preprocessor_config.json")].sort()
        .map((x) => `models--tessera-test--tiny-vit/blobs/${x}`),
      "models--tessera-test--tiny-vit/refs/",
      "models--tessera-test--tiny-vit/refs/main",
      "models--tessera-test--tiny-vit/snapshots/",
      `models--tessera-test--tiny-vit/snapshots/${mcommit}/`,
      `models--tessera-test--tiny-vit/snapshots/${mcommit}/config.json`,
      `models--tessera-test--tiny-vit/snapshots/${mcommit}/model.safetensors`,
      `models--tessera-test--tiny-vit/snapshots/${mcommit}/preprocessor_config.json`,
    ]);
    assert.equal(
      await Deno.readTextFile(`${cache}/models--tessera-test--tiny-vit/refs/main`),
      mcommit,
    );
    console.log(`cache tree:\n  ${listing.join("\n  ")}`);
    // The token was sent to the hub only, and is written nowhere.
    assert.ok(server.requests.filter((r) => r.server === "cdn").every((r) => !r.authorization));
    assert.deepEqual(await grepTree(`${root}/out-online`, server.token), []);
    assert.deepEqual(await grepTree(cache, server.token), []);
    assert.ok(!first.stdout.includes(server.token) && !first.stderr.includes(server.token));

    // HF_HUB_OFFLINE=1 with the server up: any request would be counted.
    const n = server.requests.length;
    const offline = await train({ ...env, HF_HUB_OFFLINE: "1" }, `${root}/out-offline`);
    assert.equal(offline.code, 0, offline.stderr + offline.stdout);
    assert.match(offline.stdout, /\*\*\*\*\* train metrics \*\*\*\*\*/);
    assert.equal(server.requests.length, n, "no request offline");
    // evaluate and predict take the same ids, from the cache.
    const offlineEnv = { ...env, HF_HUB_OFFLINE: "1" };
    const evaluated = await task("evaluate", [
      "--model",
      "tessera-test/tiny-vit",
      "--data",
      "tessera-test/tiny-beans",
      "--json",
    ], offlineEnv);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    assert.equal(JSON.parse(evaluated.stdout).validation_samples, 6);
    const image = `${root}/leaf.png`;
    await Deno.writeFile(image, encodePng(renderBeanLeaf(1, 5, 32)));
    const predicted = await task(
      "predict",
      ["--model", "tessera-test/tiny-vit", "--json", image],
      offlineEnv,
    );
    assert.equal(predicted.code, 0, predicted.stderr);
    assert.ok(NAMES.includes(JSON.parse(predicted.stdout)[0].label), predicted.stdout);
    assert.equal(server.requests.length, n, "no request offline");
    await server.stop();
    stopped = true;
    const gone = await train({ ...env, HF_HUB_OFFLINE: "1" }, `${root}/out-gone`);
    assert.equal(gone.code, 0, gone.stderr + gone.stdout);
    // Server gone without HF_HUB_OFFLINE: the cache serves as well.
    const unreachable = await train(env, `${root}/out-unreachable`);
    assert.equal(unreachable.code, 0, unreachable.stderr + unreachable.stdout);
    // Offline with an empty cache: one line that says so.
    const empty = await train(
      { ...env, HF_HUB_OFFLINE: "1", HF_HOME: `${root}/hf-empty` },
      `${root}/out-empty`,
    );
    assert.equal(empty.code, 1);
    assert.match(
      empty.stderr.trim(),
      new RegExp(
        "^train: error: dataset 'tessera-test\\/tiny-beans' at 'main' " +
          "is not in the cache \\(.*hf-empty\\/hub\\) and HF_HUB_OFFLINE " +
          "is set: run once with the network, or unset HF_HUB_OFFLINE$",
      ),
    );
  } finally {
    if (!stopped) await server.stop();
  }
});

Deno.test("two processes fetching one file at once download one correct blob once", async () => {
  const server = await new HubTestServer(repos).start();
  server.faults.chunkDelayMs = 5;
  const home = `${root}/hf-two`;
  try {
    const fetchOnce = () =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net=127.0.0.1,127.0.0.2",
          `--allow-env=${HUB_ENV_VARS.join(",")}`,
          `--allow-read=${home}`,
          `--allow-write=${home}`,
          new URL("../cli/hub_fetch.ts", import.meta.url).pathname,
          "model",
          "tessera-test/tiny-vit",
        ],
        env: { HF_ENDPOINT: server.endpoint, HF_HOME: home, HF_HUB_DISABLE_PROGRESS_BARS: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const [a, b] = await Promise.all([fetchOnce(), fetchOnce()]);
    const dec = new TextDecoder();
    for (const r of [a, b]) assert.equal(r.code, 0, dec.decode(r.stderr) + dec.decode(r.stdout));
    const dirA = JSON.parse(dec.decode(a.stdout)).dir;
    assert.equal(JSON.parse(dec.decode(b.stdout)).dir, dirA);
    const want = repos[0].files["model.safetensors"];
    assert.deepEqual(await Deno.readFile(`${dirA}/model.safetensors`), want);
    const etag = server.etag("models", "tessera-test/tiny-vit", "model.safetensors");
    const blobs = [...Deno.readDirSync(`${home}/hub/models--tessera-test--tiny-vit/blobs`)];
    assert.ok(blobs.every((x) => !x.name.includes("incomplete")), blobs.map((x) => x.name).join());
    // The lock made the second process find the blob instead of downloading it again.
    const gets = server.requests.filter((r) => r.server === "cdn" && r.path.includes(etag));
    assert.equal(gets.length, 1, JSON.stringify(server.requests));
  } finally {
    await server.stop();
  }
});
