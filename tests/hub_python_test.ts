/**
 * Tessera's Hub cache against Python's own `huggingface_hub`, both talking to the fake Hub:
 * each finds what the other downloaded with no network, and the two cache trees are the same
 * entry for entry (symlink targets included). Runs where a Python with `huggingface_hub` is
 * found (`TESSERA_HF_PYTHON`, else `python3`), and shows as ignored elsewhere.
 */

import assert from "node:assert/strict";
import { testTempDir } from "../io/_test_util.ts";
import { HUB_ENV_VARS } from "../hub/config.ts";
import { type FixtureRepo, HubTestServer } from "./_hub_server.ts";

const PYTHON = Deno.env.get("TESSERA_HF_PYTHON") ?? "python3";

function pythonVersion(): string | null {
  try {
    const out = new Deno.Command(PYTHON, {
      args: ["-c", "import huggingface_hub; print(huggingface_hub.__version__)"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.code === 0 ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

const version = pythonVersion();
const text = (s: string) => new TextEncoder().encode(s);
const big = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7919) % 251);
const REPOS: FixtureRepo[] = [
  {
    type: "models",
    id: "tessera-test/tiny-vit",
    files: {
      "config.json": text('{"model_type": "vit"}\n'),
      "model.safetensors": big(70_000),
      "sub/dir/notes.txt": text("nested\n"),
    },
  },
  {
    type: "datasets",
    id: "tessera-test/tiny-beans",
    files: {
      "README.md": text("# tiny\n"),
      "data/train-00000-of-00001.parquet": big(30_000),
    },
  },
];

const PY_DOWNLOAD = `
import json, sys
from huggingface_hub import hf_hub_download, snapshot_download, try_to_load_from_cache
out = {}
for f in ["config.json", "model.safetensors", "sub/dir/notes.txt"]:
    out[f] = hf_hub_download("tessera-test/tiny-vit", f)
out["dataset"] = snapshot_download("tessera-test/tiny-beans", repo_type="dataset")
for f in ["missing.json", "preprocessor_config.json"]:
    try:
        hf_hub_download("tessera-test/tiny-vit", f)
    except Exception as e:
        out["missing"] = type(e).__name__
out["no_exist"] = repr(try_to_load_from_cache("tessera-test/tiny-vit", "missing.json"))
print(json.dumps(out))
`;

async function tree(dir: string, at = ""): Promise<string[]> {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(`${dir}/${at}`)].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const rel = at ? `${at}/${e.name}` : e.name;
    if (e.isDirectory) out.push(`${rel}/`, ...await tree(dir, rel));
    else if (e.isSymlink) out.push(`${rel} -> ${await Deno.readLink(`${dir}/${rel}`)}`);
    else out.push(rel);
  }
  return out;
}

async function python(
  script: string,
  env: Record<string, string>,
): Promise<Record<string, string>> {
  // Not outputSync: the fake Hub answers from this process's event loop.
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", script],
    env: { HF_HUB_DISABLE_PROGRESS_BARS: "1", HF_HUB_DISABLE_TELEMETRY: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return JSON.parse(dec.decode(out.stdout).trim().split("\n").at(-1)!);
}

/** cli/hub_fetch.ts with unscoped read/write, so that Deno allows symlinks. */
async function tessera(kind: string, id: string, env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1,127.0.0.2",
      `--allow-env=${HUB_ENV_VARS.join(",")}`,
      "--allow-read",
      "--allow-write",
      new URL("../cli/hub_fetch.ts", import.meta.url).pathname,
      kind,
      id,
    ],
    env: { HF_HUB_DISABLE_PROGRESS_BARS: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const answer = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(out.code, 0, JSON.stringify(answer));
  return answer.dir;
}

Deno.test({
  name: `Tessera's cache and huggingface_hub ${
    version ?? "(absent)"
  }'s are the same tree, and each reads the other's offline`,
  ignore: version === null,
  fn: async () => {
    const server = await new HubTestServer(REPOS).start();
    const root = await testTempDir();
    const py = `${root}/python-hub`;
    const ts = `${root}/tessera-hub`;
    try {
      const endpoint = { HF_ENDPOINT: server.endpoint };
      const fromPython = await python(PY_DOWNLOAD, { ...endpoint, HF_HUB_CACHE: py });
      assert.equal(fromPython.missing, "RemoteEntryNotFoundError");
      // Tessera makes the same downloads, then a missing file (recorded in .no_exist).
      const modelDir = await tessera("model", "tessera-test/tiny-vit", {
        ...endpoint,
        HF_HUB_CACHE: ts,
      });
      const datasetDir = await tessera("dataset", "tessera-test/tiny-beans", {
        ...endpoint,
        HF_HUB_CACHE: ts,
      });
      assert.equal(datasetDir, fromPython.dataset.replace(py, ts));
      assert.equal(
        modelDir,
        fromPython["config.json"].replace(py, ts).replace(/\/config.json$/, ""),
      );
      // (notes.txt and missing.json through the library, as hub_fetch fetches a model's files)
      const { hubDownload } = await import("../hub/download.ts");
      const { DenoHubStorage } = await import("../hub/deno_storage.ts");
      const { hubConfigFromEnv } = await import("../hub/config.ts");
      const vars: Record<string, string> = { ...endpoint, HF_HUB_CACHE: ts };
      const client = {
        config: hubConfigFromEnv((k) => vars[k]),
        storage: new DenoHubStorage(ts),
        fetch: (u: string, i?: RequestInit) => fetch(u, i),
        manualRedirects: true,
      };
      const model = { id: "tessera-test/tiny-vit", type: "model" } as const;
      const notes = await hubDownload(client, model, "sub/dir/notes.txt");
      assert.equal(notes, fromPython["sub/dir/notes.txt"].replace(py, ts));
      await assert.rejects(hubDownload(client, model, "missing.json"), /has no file/);

      // huggingface_hub 1.3x also caches snapshot_download's tree listing in trees/; Tessera
      // lists files through the revision API and keeps no such file.
      const pyTree = (await tree(py)).filter((l) => !/^datasets--[^/]+\/trees\//.test(l));
      const tsTree = await tree(ts);
      // The same names, and symlinks with the same relative targets, except where the test's
      // scoped grant made Tessera hard-link (sub/dir/notes.txt went through this process).
      const strip = (l: string) => l.replace(/ -> .*$/, "");
      assert.deepEqual(tsTree.map(strip), pyTree.map(strip));
      for (const line of tsTree.filter((l) => l.includes(" -> "))) {
        assert.ok(pyTree.includes(line), `${line} not in Python's tree:\n${pyTree.join("\n")}`);
      }
      console.log(`huggingface_hub ${version} tree:\n  ${pyTree.join("\n  ")}`);

      // Python reads Tessera's cache with HF_HUB_OFFLINE=1, and Tessera reads Python's.
      const pyOnTs = await python(
        PY_DOWNLOAD.replace(/^for f in \["missing[\s\S]*?\n(out\["no_exist"\])/m, "$1"),
        {
          HF_HUB_OFFLINE: "1",
          HF_HUB_CACHE: ts,
        },
      );
      assert.equal(pyOnTs["model.safetensors"], fromPython["model.safetensors"].replace(py, ts));
      // Tessera's .no_exist/ entry tells Python the file is missing (its _CACHED_NO_EXIST).
      assert.match(pyOnTs.no_exist, /^<object object at 0x[0-9a-f]+>$/);
      assert.equal(pyOnTs.missing, undefined);
      const n = server.requests.length;
      const offline = {
        ...client,
        config: { ...client.config, offline: true, cacheDir: py },
        storage: new DenoHubStorage(py),
      };
      assert.equal(
        await hubDownload(offline, model, "model.safetensors"),
        fromPython["model.safetensors"],
      );
      assert.equal(server.requests.length, n);
    } finally {
      await server.stop();
    }
  },
});
