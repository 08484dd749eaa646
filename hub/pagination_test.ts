import assert from "node:assert/strict";
import { testTempDir } from "../io/_test_util.ts";
import { type FixtureRepo, HubTestServer } from "../tests/_hub_server.ts";
import { browserHubClient } from "./browser.ts";
import { hubConfigFromEnv } from "./config.ts";
import { DenoHubStorage } from "./deno_storage.ts";
import { type HubClient, hubDownload } from "./download.ts";
import { nextPageUrl } from "./pagination.ts";
import { listRepoFiles, snapshotDownload } from "./snapshot.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A dataset of 7 files whose revision API lists no siblings: only the tree names them. */
const FILES: Record<string, Uint8Array> = {
  "README.md": text("---\nlicense: mit\n---\n"),
  ...Object.fromEntries(
    Array.from({ length: 6 }, (_, i) => [
      `data/train-0000${i}-of-00006.parquet`,
      text(`shard ${i} `.repeat(40 + i)),
    ]),
  ),
};
const REPOS: FixtureRepo[] = [
  { type: "datasets", id: "tessera-test/many-shards", files: FILES, noSiblings: true },
];
const DATASET = { id: "tessera-test/many-shards", type: "dataset" } as const;

async function setup() {
  const server = await new HubTestServer(REPOS).start();
  server.treePageSize = 2;
  const cache = `${await testTempDir()}/hub`;
  const vars: Record<string, string> = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: cache };
  const client: HubClient = {
    config: hubConfigFromEnv((k) => vars[k]),
    storage: new DenoHubStorage(cache),
    fetch: (url, init) => fetch(url, init),
    manualRedirects: true,
    sleep: () => Promise.resolve(),
  };
  return { server, client };
}

Deno.test("nextPageUrl() reads the rel=next entry of a Link header, as requests' links", () => {
  const base = "https://huggingface.co/api/datasets/a/b/tree/main?recursive=true";
  assert.equal(
    nextPageUrl(
      '<https://huggingface.co/api/datasets/a/b/tree/main?recursive=true&cursor=ZXk%3D>; rel="next"',
      base,
    ),
    "https://huggingface.co/api/datasets/a/b/tree/main?recursive=true&cursor=ZXk%3D",
  );
  // Several entries, next not first; a relative URL resolves against the page's.
  assert.equal(
    nextPageUrl('</api/x?cursor=1>; rel="prev", </api/x?cursor=3>; rel=next', base),
    "https://huggingface.co/api/x?cursor=3",
  );
  // rel may hold several space-separated relations.
  assert.equal(
    nextPageUrl('</api/x?page=2>; rel="last next"', base),
    "https://huggingface.co/api/x?page=2",
  );
  assert.equal(nextPageUrl('</api/x?cursor=1>; rel="prev"', base), null);
  assert.equal(nextPageUrl(null, base), null);
  assert.equal(nextPageUrl("", base), null);
});

Deno.test("listRepoFiles() follows the tree's Link pages and lists every file", async () => {
  const { server, client } = await setup();
  try {
    const listing = await listRepoFiles(client, DATASET);
    assert.equal(listing.commit, server.commits.get("datasets/tessera-test/many-shards"));
    assert.deepEqual(listing.files.sort(), Object.keys(FILES).sort());
    // 7 entries at 2 a page: 4 pages, the later ones asked by their cursor.
    const pages = server.requests.filter((r) => r.path.includes("/tree/"));
    assert.equal(pages.length, 4, pages.map((p) => p.path).join("\n"));
    assert.equal(pages.filter((p) => p.path.includes("cursor=")).length, 3);
    assert.ok(pages.every((p) => p.status === 200));
  } finally {
    await server.stop();
  }
});

Deno.test("snapshotDownload() fetches the files of every tree page", async () => {
  const { server, client } = await setup();
  try {
    const dir = await snapshotDownload(client, DATASET);
    for (const [path, data] of Object.entries(FILES)) {
      assert.deepEqual(await Deno.readFile(`${dir}/${path}`), data, path);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("the browser client finds a file listed on the tree's last page", async () => {
  const { server } = await setup();
  const cacheName = `tessera-hub-pages-${crypto.randomUUID()}`;
  try {
    const client = await browserHubClient({
      endpoint: server.endpoint,
      cache: await caches.open(cacheName),
    });
    const last = "data/train-00005-of-00006.parquet";
    const pointer = await hubDownload(client, DATASET, last);
    const stored = await client.storage.open(pointer);
    assert.deepEqual(new Uint8Array(await stored!.arrayBuffer()), FILES[last]);
  } finally {
    await caches.delete(cacheName);
    await server.stop();
  }
});
