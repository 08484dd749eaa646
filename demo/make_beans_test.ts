/**
 * The generated dataset is the same bytes whether worker threads make it or the calling thread
 * does, keeps the bytes that the README's results were measured on, and a failed run leaves no
 * folder behind.
 */
import assert from "node:assert/strict";
import { makeBeanJpeg, makeBeans } from "./make_beans.ts";
import { beanSeed } from "./synthetic_beans.ts";
import { removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { exists } from "../io/files.ts";

const root = await testTempDir();
removeOnUnload(root);

async function files(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      for (const [k, v] of await files(path, `${prefix}${entry.name}/`)) out.set(k, v);
    } else out.set(`${prefix}${entry.name}`, await Deno.readFile(path));
  }
  return out;
}

Deno.test(
  "worker threads make the same dataset, byte for byte, as the calling thread",
  async () => {
    const splits = { train: 10, validation: 4 };
    const n0 = await makeBeans(`${root}/one`, { seed: 7, size: 32, splits, workers: 0 });
    const n2 = await makeBeans(`${root}/two`, { seed: 7, size: 32, splits, workers: 3 });
    assert.equal(n0, 14);
    assert.equal(n2, 14);
    const one = await files(`${root}/one`);
    const two = await files(`${root}/two`);
    assert.equal(one.size, 14);
    assert.deepEqual([...two.keys()].sort(), [...one.keys()].sort());
    for (const [name, bytes] of one) assert.deepEqual(two.get(name), bytes, name);
    assert.ok(one.has("train/bean_rust/bean_rust_train.0.jpg"));
  },
);

Deno.test("a failing worker run leaves neither the folder nor its partial copy", async () => {
  const target = `${root}/bad`;
  await assert.rejects(
    // A size whose pixel array JavaScript cannot allocate makes the worker throw.
    makeBeans(target, { seed: 1, size: 1e6, splits: { train: 3 }, workers: 2 }),
    /image \d+/,
  );
  assert.equal(await exists(target), false);
  const left = [];
  for await (const entry of Deno.readDir(root)) left.push(entry.name);
  assert.deepEqual(left.filter((n) => n.startsWith("bad")), []);
});

Deno.test("the default dataset's images keep their bytes (a digest of nine)", async () => {
  // Pinned when the JPEGs were written by jpeg-js 0.4.4's encoder. A change here changes every
  // figure measured on the default run, so it must be deliberate.
  const parts: Uint8Array[] = [];
  for (const split of ["train", "validation", "test"]) {
    for (let label = 0; label < 3; label++) {
      const seed = beanSeed(0, split, label, label + 1);
      parts.push(makeBeanJpeg({ id: 0, label, seed, size: 160, quality: 90 }));
    }
  }
  const all = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  parts.reduce((offset, p) => (all.set(p, offset), offset + p.length), 0);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(all.length, 80132);
  assert.equal(hex, "555600127c2500cae8fbc05bc9f438a2eb8e7867297a0fdfacb1a449429dc174");
});
