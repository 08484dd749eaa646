import assert from "node:assert/strict";
import { testTempDir } from "../io/_test_util.ts";
import { type FixtureRepo, HubTestServer } from "../tests/_hub_server.ts";
import { hubConfigFromEnv } from "./config.ts";
import { DenoHubStorage } from "./deno_storage.ts";
import { type DownloadProgress, type HubClient, hubDownload } from "./download.ts";
import { HubError } from "./errors.ts";
import { fetchFromHub } from "./resolve.ts";
import { snapshotDownload } from "./snapshot.ts";
import { Sha256 } from "./_sha256.ts";

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);
const WEIGHTS = bytes(300_000, 1);
const REPOS: FixtureRepo[] = [
  {
    type: "models",
    id: "tessera-test/tiny-vit",
    files: {
      "config.json": text('{"model_type": "vit"}\n'),
      "model.safetensors": WEIGHTS,
      "preprocessor_config.json": text('{"size": 32}\n'),
      "sub/dir/notes.txt": text("nested file\n"),
    },
  },
  {
    type: "models",
    id: "tessera-test/gated",
    gated: true,
    files: { "config.json": text("{}\n"), "model.safetensors": bytes(5000, 2) },
  },
  {
    type: "models",
    id: "tessera-test/bin-only",
    files: { "config.json": text("{}\n"), "pytorch_model.bin": bytes(3000, 5) },
  },
  { type: "models", id: "tessera-test/no-weights", files: { "config.json": text("{}\n") } },
  {
    type: "datasets",
    id: "AI-Lab-Makerere/beans",
    aliases: ["beans"],
    files: {
      "README.md": text("---\nlicense: mit\n---\n"),
      "data/train-00000-of-00001.parquet": bytes(20_000, 3),
      "data/validation-00000-of-00001.parquet": bytes(9_000, 4),
    },
  },
];

async function setup(env: Record<string, string> = {}) {
  const server = await new HubTestServer(REPOS).start();
  const cache = `${await testTempDir()}/hub`;
  const progress: DownloadProgress[] = [];
  const vars: Record<string, string> = {
    HF_ENDPOINT: server.endpoint,
    HF_HUB_CACHE: cache,
    ...env,
  };
  const storage = new DenoHubStorage(cache);
  const client: HubClient = {
    config: hubConfigFromEnv((k) => vars[k]),
    storage,
    fetch: (url, init) => fetch(url, init),
    manualRedirects: true,
    sleep: () => Promise.resolve(),
    onProgress: (p) => progress.push(p),
  };
  return { server, cache, client, progress, storage };
}

const MODEL = { id: "tessera-test/tiny-vit", type: "model" } as const;

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof HubError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}

async function listTree(root: string, at = ""): Promise<string[]> {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(`${root}/${at}`)].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const rel = at ? `${at}/${e.name}` : e.name;
    if (e.isDirectory) out.push(`${rel}/`, ...await listTree(root, rel));
    else if (e.isSymlink) out.push(`${rel} -> ${await Deno.readLink(`${root}/${rel}`)}`);
    else out.push(rel);
  }
  return out;
}

Deno.test("Sha256 matches WebCrypto at lengths around block edges, fed in pieces", async () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 70_001]) {
    const data = bytes(n, n + 7);
    const want = [...new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const h = new Sha256();
    for (let at = 0; at < n; at += 37) h.update(data.subarray(at, at + 37));
    assert.equal(h.hex(), want, `length ${n}`);
  }
});

Deno.test("hubDownload() writes Python's layout: etag blobs, snapshots/, refs/main", async () => {
  const { server, cache, client, storage } = await setup();
  try {
    const path = await hubDownload(client, MODEL, "model.safetensors");
    const commit = server.commits.get("models/tessera-test/tiny-vit")!;
    const etag = server.etag("models", "tessera-test/tiny-vit", "model.safetensors");
    const repoDir = `${cache}/models--tessera-test--tiny-vit`;
    assert.equal(path, `${repoDir}/snapshots/${commit}/model.safetensors`);
    assert.deepEqual(await Deno.readFile(path), WEIGHTS);
    assert.deepEqual(await Deno.readFile(`${repoDir}/blobs/${etag}`), WEIGHTS);
    assert.equal(await Deno.readTextFile(`${repoDir}/refs/main`), commit);
    await hubDownload(client, MODEL, "sub/dir/notes.txt");
    const noteEtag = server.etag("models", "tessera-test/tiny-vit", "sub/dir/notes.txt");
    assert.match(noteEtag, /^[0-9a-f]{40}$/, "a non-LFS file's etag is its git blob hash");
    assert.ok(await Deno.stat(`${repoDir}/blobs/${noteEtag}`));
    // The test task may write only under .cache/test, where Deno refuses symlinks: hard links.
    assert.equal(storage.lastLink, "hardlink");
    assert.equal((await Deno.stat(path)).nlink, 2);
    assert.equal(
      await Deno.readTextFile(`${cache}/CACHEDIR.TAG`),
      "Signature: 8a477f597d28d172789f06886806bc55\n" +
        "# This file is a cache directory tag created by huggingface_hub.\n" +
        "# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n",
    );
    assert.ok(await Deno.stat(`${cache}/.locks/models--tessera-test--tiny-vit/${etag}.lock`));
    const tree = await listTree(cache);
    assert.ok(!tree.some((l) => l.includes(".incomplete")), tree.join("\n"));
    // The LFS file went HEAD (hub, 302 read, not followed) then GET on the CDN without a token.
    const seen = server.requests.map((r) => `${r.server} ${r.method} ${r.status}`);
    assert.deepEqual(seen.slice(0, 2), ["hub HEAD 302", "cdn GET 200"]);
    // A second call is served from the cache after one HEAD, with no download.
    const before = server.requests.length;
    assert.equal(await hubDownload(client, MODEL, "model.safetensors"), path);
    assert.deepEqual(server.requests.slice(before).map((r) => r.method), ["HEAD"]);
    // At the commit itself, no request at all.
    const n = server.requests.length;
    await hubDownload(client, { ...MODEL, revision: commit }, "model.safetensors");
    assert.equal(server.requests.length, n);
  } finally {
    await server.stop();
  }
});

Deno.test("hubDownload() resumes a cut download with Range and keeps the right bytes", async () => {
  const { server, client, progress } = await setup();
  try {
    server.faults.cutAfter.set("model.safetensors", 100_000);
    const path = await hubDownload(client, MODEL, "model.safetensors");
    assert.deepEqual(await Deno.readFile(path), WEIGHTS);
    const cdn = server.requests.filter((r) => r.server === "cdn");
    assert.deepEqual(cdn.map((r) => [r.range, r.status]), [[null, 200], ["bytes=100000-", 206]]);
    const last = progress.at(-1)!;
    assert.equal(last.finished, true);
    assert.equal(last.done, WEIGHTS.length);
  } finally {
    await server.stop();
  }
});

Deno.test("hubDownload() restarts from the first byte when the server ignores Range", async () => {
  const { server, client } = await setup();
  try {
    server.faults.cutAfter.set("model.safetensors", 50_000);
    server.faults.ignoreRange = true;
    const path = await hubDownload(client, MODEL, "model.safetensors");
    assert.deepEqual(await Deno.readFile(path), WEIGHTS);
    const cdn = server.requests.filter((r) => r.server === "cdn");
    assert.deepEqual(cdn.map((r) => [r.range, r.status]), [[null, 200], ["bytes=50000-", 200]]);
  } finally {
    await server.stop();
  }
});

Deno.test("hubDownload() refuses a corrupt byte by sha256 and keeps nothing", async () => {
  const { server, cache, client } = await setup();
  try {
    server.faults.corrupt.add("model.safetensors");
    await rejectsWith(
      hubDownload(client, MODEL, "model.safetensors"),
      "Checksum",
      new RegExp(
        "model 'tessera-test\\/tiny-vit' model.safetensors: sha256 " +
          "[0-9a-f]{64} does not match .*nothing kept",
      ),
    );
    const tree = await listTree(cache);
    assert.ok(!tree.some((l) => l.includes("blobs/") && !l.endsWith("/")), tree.join("\n"));
    assert.ok(!tree.some((l) => l.includes("snapshots/") && l.endsWith("safetensors")));
    // Fixed server: the next try downloads it.
    server.faults.corrupt.clear();
    assert.deepEqual(
      await Deno.readFile(await hubDownload(client, MODEL, "model.safetensors")),
      WEIGHTS,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("hubDownload() says a gated repo needs HF_TOKEN, and opens with the token", async () => {
  const { server, client } = await setup();
  const gated = { id: "tessera-test/gated", type: "model" } as const;
  try {
    await rejectsWith(
      hubDownload(client, gated, "config.json"),
      "GatedRepo",
      new RegExp(
        "is gated: accept its terms at " +
          "http:\\/\\/127\\.0\\.0\\.1:\\d+\\/tessera-test\\/gated and set " + "HF_TOKEN",
      ),
    );
    const wrong = { ...client, config: { ...client.config, token: "hf_wrong" } };
    await rejectsWith(hubDownload(wrong, gated, "config.json"), "GatedRepo", /check that HF_TOKEN/);
    const good = { ...client, config: { ...client.config, token: server.token } };
    assert.ok(await hubDownload(good, gated, "model.safetensors"));
    // The token went to the hub's host only, never to the CDN.
    const cdn = server.requests.filter((r) => r.server === "cdn");
    assert.ok(cdn.length > 0 && cdn.every((r) => r.authorization === null));
    assert.ok(server.requests.some((r) => r.authorization === `Bearer ${server.token}`));
  } finally {
    await server.stop();
  }
});

Deno.test("hubDownload() names a missing repo, file or revision in one line each", async () => {
  const { server, cache, client } = await setup();
  try {
    await rejectsWith(
      hubDownload(client, { id: "nobody/nothing", type: "model" }, "config.json"),
      "RepoNotFound",
      /model 'nobody\/nothing' not found on http:.*check the id; if it is private, set HF_TOKEN/,
    );
    await rejectsWith(
      hubDownload(client, MODEL, "nope.json"),
      "EntryNotFound",
      /model 'tessera-test\/tiny-vit' has no file 'nope.json' at revision 'main'/,
    );
    const commit = server.commits.get("models/tessera-test/tiny-vit")!;
    // Recorded as huggingface_hub does, so offline runs know it is missing.
    assert.ok(
      await Deno.stat(`${cache}/models--tessera-test--tiny-vit/.no_exist/${commit}/nope.json`),
    );
    await rejectsWith(
      hubDownload(client, { ...MODEL, revision: "v9" }, "config.json"),
      "RevisionNotFound",
      /has no revision 'v9': give an existing branch, tag or commit hash/,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("hubDownload() retries 429 and 503 after Retry-After, then succeeds", async () => {
  const { server, client } = await setup();
  const waits: number[] = [];
  client.sleep = (ms) => (waits.push(ms), Promise.resolve());
  try {
    server.faults.rateLimit.set("config.json", 2);
    server.faults.unavailable.set("config.json", 1);
    assert.ok(await hubDownload(client, MODEL, "config.json"));
    assert.deepEqual(waits, [1000, 1000, 1000]);
    assert.deepEqual(
      server.requests.filter((r) => r.method === "HEAD").map((r) => r.status),
      [429, 429, 503, 200],
    );
  } finally {
    await server.stop();
  }
});

Deno.test("offline hubDownload() serves the cache with zero requests, else one line", async () => {
  const { server, cache, client } = await setup();
  try {
    const path = await hubDownload(client, MODEL, "config.json");
    const n = server.requests.length;
    const offline = { ...client, config: { ...client.config, offline: true } };
    assert.equal(await hubDownload(offline, MODEL, "config.json"), path);
    await rejectsWith(
      hubDownload(offline, MODEL, "model.safetensors"),
      "NotCached",
      /'model.safetensors' of model 'tessera-test\/tiny-vit' is not in the cache .* HF_HUB_OFFLINE/,
    );
    assert.equal(server.requests.length, n, "no request while offline");
    await server.stop();
    // The server gone (not offline mode): the cache still serves, a missing file says so.
    assert.equal(await hubDownload(client, MODEL, "config.json"), path);
    await rejectsWith(
      hubDownload(client, MODEL, "model.safetensors"),
      "NotCached",
      /cannot reach http:\/\/127\.0\.0\.1:\d+ .*not in the cache/,
    );
    assert.ok(cache);
  } finally {
    await server.stop().catch(() => {});
  }
});

Deno.test("snapshotDownload() follows the Hub's rename of 'beans', caching all files", async () => {
  const { server, cache, client } = await setup();
  try {
    const dir = await snapshotDownload(client, { id: "beans", type: "dataset" });
    const commit = server.commits.get("datasets/AI-Lab-Makerere/beans")!;
    // The folder is named after the id asked for, as huggingface_hub names it.
    assert.equal(dir, `${cache}/datasets--beans/snapshots/${commit}`);
    assert.deepEqual(
      await Deno.readFile(`${dir}/data/validation-00000-of-00001.parquet`),
      REPOS[4].files["data/validation-00000-of-00001.parquet"],
    );
    assert.equal(await Deno.readTextFile(`${cache}/datasets--beans/refs/main`), commit);
    assert.ok(server.requests.some((r) => r.status === 307));
    // Offline: the same folder, no request.
    const n = server.requests.length;
    const offline = { ...client, config: { ...client.config, offline: true } };
    assert.equal(await snapshotDownload(offline, { id: "beans", type: "dataset" }), dir);
    assert.equal(server.requests.length, n);
    await rejectsWith(
      snapshotDownload(offline, { id: "AI-Lab-Makerere/beans", type: "dataset" }),
      "NotCached",
      /dataset 'AI-Lab-Makerere\/beans' at 'main' is not in the cache/,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("fetchFromHub() gets a model's files, falling back to pytorch_model.bin", async () => {
  const { server, client } = await setup();
  try {
    const dir = await fetchFromHub(client, "tessera-test/tiny-vit", "model", {});
    for (const f of ["config.json", "model.safetensors", "preprocessor_config.json"]) {
      assert.ok((await Deno.stat(`${dir}/${f}`)).isFile, f);
    }
    const bin = await fetchFromHub(client, "tessera-test/bin-only", "model", {});
    assert.deepEqual(
      await Deno.readFile(`${bin}/pytorch_model.bin`),
      REPOS[2].files["pytorch_model.bin"],
    );
    assert.equal(await Deno.stat(`${bin}/model.safetensors`).catch(() => null), null);
    await rejectsWith(
      fetchFromHub(client, "tessera-test/no-weights", "model", {}),
      "NoWeights",
      new RegExp(
        "model 'tessera-test\\/no-weights' has neither " +
          "model.safetensors nor pytorch_model.bin at 'main'",
      ),
    );
    await rejectsWith(
      fetchFromHub(client, "tessera-test/gated", "model", {}),
      "GatedRepo",
      /gated/,
    );
  } finally {
    await server.stop();
  }
});
