import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
import { parquetWriteBuffer } from "npm:hyparquet-writer@0.17.0";
import { ClassLabel, Dataset, range } from "./dataset.ts";
import { loadImageFolder } from "./image_folder.ts";
import { loadDataset, namesFromDatasetCard } from "./parquet.ts";
import { encodeJpeg } from "./jpeg.ts";
import { encodePng } from "./png.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { DataLoader } from "./loader.ts";
import { ViTImageProcessor } from "./processor.ts";
import { testTempDir } from "../io/_test_util.ts";
import { init } from "../tensor/runtime.ts";

await init();

const NAMES = ["angular_leaf_spot", "bean_rust", "healthy"];

async function writeFolder(root: string, splits: Record<string, number>, size = 48) {
  for (const [split, n] of Object.entries(splits)) {
    for (const [label, name] of NAMES.entries()) {
      await Deno.mkdir(`${root}/${split}/${name}`, { recursive: true });
      for (let i = 0; i < n; i++) {
        const img = renderBeanLeaf(label, i * 3 + label, size);
        const bytes = i % 2 ? encodePng(img) : encodeJpeg(img);
        await Deno.writeFile(`${root}/${split}/${name}/${i}.${i % 2 ? "png" : "jpg"}`, bytes);
      }
    }
  }
}

Deno.test(
  "Dataset supports filter, shuffle(seed), select, slicing and a lazy batched transform",
  () => {
    const rows = range(10).map((i) => ({ x: i, labels: i % 3 }));
    const ds = new Dataset(rows, new ClassLabel(["a", "b", "c"]));
    assert.equal(ds.labels.int2str(1), "b");
    assert.equal(ds.labels.str2int("c"), 2);
    assert.throws(() => ds.labels.str2int("d"), /unknown class 'd'/);
    const b = ds.filter((r) => r.labels === 1);
    assert.deepEqual([...range(b.length)].map((i) => b.row(i).x), [1, 4, 7]);
    const s1 = ds.shuffle(7);
    const s2 = ds.shuffle(7);
    assert.deepEqual(range(10).map((i) => s1.row(i).x), range(10).map((i) => s2.row(i).x));
    assert.notDeepEqual(range(10).map((i) => s1.row(i).x), range(10));
    assert.deepEqual(ds.select(range(2)).slice(0, 2), { x: [0, 1], labels: [0, 1] });
    let calls = 0;
    const t = ds.withTransform((batch) => {
      calls++;
      return { ...batch, y: (batch.x as number[]).map((x) => x * 10) };
    });
    assert.equal(calls, 0, "transform is lazy");
    assert.deepEqual(t.get(3), { x: 3, labels: 0, y: 30 });
    assert.deepEqual(t.slice(0, 2).y, [0, 10]);
    assert.equal(calls, 2);
    assert.throws(() => ds.get(10), /out of range/);
  },
);

Deno.test("loadImageFolder() reads splits and classes, and reports bad files by name", async () => {
  const root = await testTempDir();
  await writeFolder(root, { train: 3, val: 2 });
  await Deno.writeFile(`${root}/train/healthy/empty.jpg`, new Uint8Array());
  await Deno.writeTextFile(`${root}/train/healthy/notes.png`, "not an image");
  const jpg = encodeJpeg(renderBeanLeaf(0, 1, 48));
  await Deno.writeFile(`${root}/train/bean_rust/cut.jpg`, jpg.subarray(0, jpg.length / 2));
  const logs: string[] = [];
  const ds = await loadImageFolder(root, { log: (m) => logs.push(m) });
  assert.deepEqual(Object.keys(ds).sort(), ["train", "validation"]);
  assert.deepEqual(ds.train.labels.names, NAMES);
  assert.equal(ds.train.length, 9);
  assert.equal(ds.validation.length, 6);
  assert.deepEqual(ds.train.classCounts(), [3, 3, 3]);
  assert.match(logs[0], /skipped 3 bad image file\(s\)/);
  assert.match(logs[0], /empty\.jpg: empty file/);
  assert.match(logs[0], /notes\.png: not a JPEG or PNG file/);
  assert.match(logs[0], /cut\.jpg: truncated JPEG/);
  await assert.rejects(
    () => loadImageFolder(root, { onBadImage: "error", log: () => {} }),
    /bean_rust\/cut\.jpg: truncated JPEG/,
  );
  await Deno.mkdir(`${root}/val/extra_class`);
  await Deno.writeFile(`${root}/val/extra_class/a.png`, encodePng(renderBeanLeaf(2, 0, 16)));
  await assert.rejects(() => loadImageFolder(root, { log: () => {} }), /classes .* differ/);
  await Deno.remove(root, { recursive: true });
});

Deno.test(
  "loadImageFolder() refuses an empty class and splits a flat folder by ratio",
  async () => {
    const root = await testTempDir();
    await writeFolder(root, { flat: 4 });
    const flat = `${root}/flat`;
    const ds = await loadImageFolder(flat, { testSize: 0.25, seed: 3 });
    assert.equal(ds.train.length + ds.test.length, 12);
    assert.equal(ds.test.length, 3);
    await Deno.mkdir(`${flat}/empty_class`);
    await assert.rejects(() => loadImageFolder(flat), /class 'empty_class' has no usable images/);
    await Deno.remove(root, { recursive: true });
  },
);

Deno.test(
  "a parquet download in the Hub's layout loads with class names from its metadata",
  async () => {
    const root = await testTempDir();
    await Deno.mkdir(`${root}/data`);
    for (const [split, n] of [["train", 4], ["validation", 2]] as const) {
      const images = range(n).map((i) => ({
        bytes: encodeJpeg(renderBeanLeaf(i % 3, i, 32)),
        path: `${NAMES[i % 3]}_${split}.${i}.jpg`,
      }));
      const buffer = parquetWriteBuffer({
        columnData: [
          { name: "image_file_path", data: images.map((im) => im.path) },
          { name: "image", data: images },
          { name: "labels", data: range(n).map((i) => BigInt(i % 3)) },
        ],
        schema: [
          { name: "schema", num_children: 3 },
          {
            name: "image_file_path",
            type: "BYTE_ARRAY",
            converted_type: "UTF8",
            repetition_type: "OPTIONAL",
          },
          { name: "image", repetition_type: "OPTIONAL", num_children: 2 },
          { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
          { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
          { name: "labels", type: "INT64", repetition_type: "OPTIONAL" },
        ],
        kvMetadata: split === "train"
          ? [{
            key: "huggingface",
            value: JSON.stringify({
              info: { features: { labels: { names: NAMES, _type: "ClassLabel" } } },
            }),
          }]
          : [],
      });
      await Deno.writeFile(`${root}/data/${split}-00000-of-00001.parquet`, new Uint8Array(buffer));
    }
    const ds = await loadDataset(root);
    assert.deepEqual(Object.keys(ds).sort(), ["train", "validation"]);
    assert.deepEqual(ds.train.labels.names, NAMES);
    assert.equal(ds.train.length, 4);
    assert.equal(ds.validation.row(1).labels, 1);
    assert.ok(ds.train.row(0).image.bytes instanceof Uint8Array);
    await Deno.remove(root, { recursive: true });
  },
);

Deno.test("class names come from the dataset card's YAML when the parquet has none", () => {
  const card = `---
dataset_info:
  features:
  - name: image
    dtype: image
  - name: labels
    dtype:
      class_label:
        names:
          '0': angular_leaf_spot
          '1': bean_rust
          '2': healthy
  splits:
  - name: train
---
# beans`;
  assert.deepEqual(namesFromDatasetCard(card), NAMES);
});

Deno.test(
  "DataLoader batches in a seeded per-epoch order, in workers, with drop-last",
  async () => {
    const root = await testTempDir();
    await writeFolder(root, { train: 5 });
    const ds = (await loadImageFolder(root)).train;
    const processor = new ViTImageProcessor({ size: 24 });
    const make = (workers: number) =>
      new DataLoader(ds, processor.config, {
        batchSize: 4,
        shuffle: true,
        seed: 9,
        dropLast: true,
        numWorkers: workers,
      });
    const threaded = make(2);
    const inline = make(0);
    assert.equal(threaded.numBatches, 3);
    assert.notDeepEqual([...threaded.order(0)], [...threaded.order(1)], "each epoch reshuffles");
    const a: number[][] = [];
    for await (const batch of threaded.batches(0)) {
      assert.deepEqual(batch.pixelValues.shape, [4, 3, 24, 24]);
      const expected = await processor.preprocess(
        await Promise.all(
          batch.indices.map((i) => import("./sample.ts").then((m) => m.readImage(ds.row(i).image))),
        ),
      );
      assert.deepEqual([...await batch.pixelValues.toArray()], [
        ...await expected.pixelValues.toArray(),
      ]);
      a.push(batch.indices);
      batch.pixelValues.dispose();
      expected.pixelValues.dispose();
    }
    const b: number[][] = [];
    for await (const batch of inline.batches(0)) {
      b.push(batch.indices);
      batch.pixelValues.dispose();
    }
    assert.deepEqual(a, b, "workers and the main thread give the same batches");
    const resumed: number[][] = [];
    for await (const batch of threaded.batches(0, 1)) {
      resumed.push(batch.indices);
      batch.pixelValues.dispose();
    }
    assert.deepEqual(resumed, a.slice(1), "resuming at batch 1 continues the same order");
    threaded.close();
    await Deno.remove(root, { recursive: true });
  },
);
