/**
 * `--revision` (the model id's branch, tag or commit, as Transformers' `revision`) and
 * `--data-revision` (the dataset id's) of `deno task train`, `evaluate`, `predict` and `export`, against
 * the local fake Hub whose repositories have a `v2` branch that differs from `main`: the branch
 * asked for is what is downloaded and used, a commit hash works as well, and a revision the
 * repository lacks is the Hub's one-line RevisionNotFound.
 */

import assert from "node:assert/strict";
import { removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { HUB_ENV_VARS } from "../hub/config.ts";
import { init } from "../tensor/runtime.ts";
import { encodePng } from "../data/png.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { HubTestServer } from "./_hub_server.ts";
import { parquetDatasetRepo, tinyVitRepo } from "./_hub_fixtures.ts";

await init();

const MAIN_NAMES = ["angular_leaf_spot", "bean_rust", "healthy"];
const V2_NAMES = ["v2_spot", "v2_rust", "v2_healthy"];
const MODEL = "tessera-test/tiny-vit";
const DATA = "tessera-test/tiny-beans";

const root = await testTempDir();
removeOnUnload(root);
const mainModel = await tinyVitRepo(MODEL, MAIN_NAMES, 3);
const v2Model = await tinyVitRepo(MODEL, V2_NAMES, 4);
const mainData = parquetDatasetRepo(DATA, V2_NAMES, { train: 8, validation: 6 });
const v2Data = parquetDatasetRepo(DATA, V2_NAMES, { train: 4, validation: 3 });
const REPOS = [
  { ...mainModel, branches: { v2: v2Model.files } },
  { ...mainData, branches: { v2: v2Data.files } },
];
const TASK_ENV = [
  "LP_NATIVE_VECTOR_WIDTH",
  ...HUB_ENV_VARS.filter((v) => v !== "HF_TOKEN"),
].join(",");

/** A task as deno.json declares it (train, evaluate, predict, export), writing inside `root`. */
async function task(name: string, args: string[], env: Record<string, string>) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      `--allow-env=${TASK_ENV}`,
      "--allow-run=grep,deno",
      ...(name === "train" ? [`--allow-write=${root}`, "--allow-sys=hostname"] : []),
      ...(name === "export" ? [`--allow-write=${root}`] : []),
      new URL(`../cli/${name}.ts`, import.meta.url).pathname,
      ...args,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

function setupEnv(server: HubTestServer, home: string): Record<string, string> {
  return { HF_ENDPOINT: server.endpoint, HF_HOME: home, HF_HUB_DISABLE_PROGRESS_BARS: "1" };
}

const image = `${root}/leaf.png`;
await Deno.writeFile(image, encodePng(renderBeanLeaf(1, 5, 32)));

Deno.test("predict --revision downloads and uses that branch or commit, not main", async () => {
  const server = await new HubTestServer(REPOS).start();
  const home = `${root}/hf-predict`;
  const env = setupEnv(server, home);
  const repoDir = `${home}/hub/models--tessera-test--tiny-vit`;
  const mainCommit = server.commitOf("models", MODEL, "main");
  const v2Commit = server.commitOf("models", MODEL, "v2");
  assert.notEqual(mainCommit, v2Commit);
  try {
    const v2 = await task("predict", ["--model", MODEL, "--revision", "v2", "--json", image], env);
    assert.equal(v2.code, 0, v2.stderr);
    const [result] = JSON.parse(v2.stdout);
    assert.ok(V2_NAMES.includes(result.label), v2.stdout);
    assert.deepEqual(
      result.top_k.map((t: { label: string }) => t.label).sort(),
      [...V2_NAMES].sort(),
    );
    assert.equal(await Deno.readTextFile(`${repoDir}/refs/v2`), v2Commit);
    assert.deepEqual(
      await Deno.readFile(`${repoDir}/snapshots/${v2Commit}/model.safetensors`),
      v2Model.files["model.safetensors"],
    );
    // Nothing of main was fetched.
    assert.deepEqual([...Deno.readDirSync(`${repoDir}/snapshots`)].map((e) => e.name), [v2Commit]);
    assert.equal(await Deno.stat(`${repoDir}/refs/main`).catch(() => null), null);
    assert.ok(server.requests.every((r) => !r.path.includes("/resolve/main/")));

    // A commit hash is a revision too: main's, by its hash.
    const byHash = await task(
      "predict",
      ["--model", MODEL, "--revision", mainCommit, "--json", image],
      env,
    );
    assert.equal(byHash.code, 0, byHash.stderr);
    assert.ok(MAIN_NAMES.includes(JSON.parse(byHash.stdout)[0].label), byHash.stdout);
    assert.deepEqual(
      await Deno.readFile(`${repoDir}/snapshots/${mainCommit}/model.safetensors`),
      mainModel.files["model.safetensors"],
    );

    // Offline, v2 comes from the cache through refs/v2.
    const n = server.requests.length;
    const offline = await task(
      "predict",
      ["--model", MODEL, "--revision", "v2", "--json", image],
      { ...env, HF_HUB_OFFLINE: "1" },
    );
    assert.equal(offline.code, 0, offline.stderr);
    assert.ok(V2_NAMES.includes(JSON.parse(offline.stdout)[0].label), offline.stdout);
    assert.equal(server.requests.length, n, "no request offline");
  } finally {
    await server.stop();
  }
});

Deno.test("a revision the repository lacks is one line naming it; a bad one is a usage error", async () => {
  const server = await new HubTestServer(REPOS).start();
  const env = setupEnv(server, `${root}/hf-bad`);
  try {
    const bad = await task("predict", ["--model", MODEL, "--revision", "nope", image], env);
    assert.equal(bad.code, 1, bad.stdout);
    assert.equal(
      bad.stderr.trim(),
      "predict: error: model 'tessera-test/tiny-vit' has no revision 'nope': give an existing " +
        "branch, tag or commit hash",
    );
    const badData = await task("evaluate", [
      "--model",
      MODEL,
      "--data",
      DATA,
      "--data-revision",
      "nope",
    ], env);
    assert.equal(badData.code, 1, badData.stdout);
    assert.equal(
      badData.stderr.trim(),
      "evaluate: error: dataset 'tessera-test/tiny-beans' has no revision 'nope': give an " +
        "existing branch, tag or commit hash",
    );
    const n = server.requests.length;
    const escape = await task("predict", ["--model", MODEL, "--revision", "../x", image], env);
    assert.equal(escape.code, 2);
    assert.match(escape.stderr, /^predict: error: '\.\.\/x' is not a branch, tag or commit hash\n/);
    const alone = await task("train", ["--revision", "v2"], env);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--revision names a revision of the --model Hub id: give --model/);
    assert.equal(server.requests.length, n, "no request for a refused revision");
  } finally {
    await server.stop();
  }
});

Deno.test("evaluate and train take --revision and --data-revision separately", async () => {
  const server = await new HubTestServer(REPOS).start();
  const home = `${root}/hf-train`;
  const env = setupEnv(server, home);
  const cache = `${home}/hub`;
  try {
    const evaluated = await task("evaluate", [
      "--model",
      MODEL,
      "--revision",
      "v2",
      "--data",
      DATA,
      "--data-revision",
      "v2",
      "--json",
    ], env);
    assert.equal(evaluated.code, 0, evaluated.stderr);
    // v2's validation split has 3 rows (main's has 6).
    assert.equal(JSON.parse(evaluated.stdout).validation_samples, 3);
    const dataV2 = server.commitOf("datasets", DATA, "v2");
    assert.equal(
      await Deno.readTextFile(`${cache}/datasets--tessera-test--tiny-beans/refs/v2`),
      dataV2,
    );

    // The dataset at main with the model at v2: the two revisions are independent.
    const trained = await task("train", [
      "--model",
      MODEL,
      "--revision",
      "v2",
      "--data",
      DATA,
      "--output-dir",
      `${root}/out-v2`,
      "--max-steps",
      "1",
      "--eval-strategy",
      "no",
      "--save-strategy",
      "no",
      "--load-best-model-at-end",
      "false",
      "--per-device-train-batch-size",
      "4",
    ], env);
    assert.equal(trained.code, 0, trained.stderr + trained.stdout);
    assert.match(trained.stdout, /train 8, validation 6/);
    const modelDir = `${cache}/models--tessera-test--tiny-vit`;
    assert.deepEqual(
      [...Deno.readDirSync(`${modelDir}/refs`)].map((e) => e.name).sort(),
      ["v2"],
    );
    const dataRefs = [...Deno.readDirSync(`${cache}/datasets--tessera-test--tiny-beans/refs`)];
    assert.deepEqual(dataRefs.map((e) => e.name).sort(), ["main", "v2"]);
  } finally {
    await server.stop();
  }
});

Deno.test("export --revision exports the branch asked for", async () => {
  const server = await new HubTestServer(REPOS).start();
  const env = setupEnv(server, `${root}/hf-export`);
  try {
    const out = `${root}/onnx-v2`;
    const exported = await task(
      "export",
      ["--model", MODEL, "--revision", "v2", "--out", out],
      env,
    );
    assert.equal(exported.code, 0, exported.stderr + exported.stdout);
    const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.deepEqual(Object.values(config.id2label), V2_NAMES);
    assert.ok((await Deno.stat(`${out}/onnx/model.onnx`)).size > 0);
  } finally {
    await server.stop();
  }
});
