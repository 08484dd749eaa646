import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
import { parquetWriteBuffer } from "npm:hyparquet-writer@0.17.0";
import { range } from "./dataset.ts";
import { loadDataset } from "./parquet.ts";
import { encodeJpeg } from "./jpeg.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { testTempDir } from "../io/_test_util.ts";

const NAMES = ["angular_leaf_spot", "bean_rust", "healthy"];

/**
 * Writes a parquet file as `datasets` does for an image dataset: a struct<bytes, path> image
 * column, an int64 ClassLabel column, and optionally the `huggingface` schema metadata.
 */
async function writeParquet(
  file: string,
  labels: number[],
  options: { image?: string; label?: string; metadata?: boolean; tag?: string } = {},
): Promise<void> {
  const image = options.image ?? "image";
  const label = options.label ?? "labels";
  const images = labels.map((l, i) => ({
    bytes: encodeJpeg(renderBeanLeaf(l % 3, i, 32)),
    path: `${options.tag ?? "x"}_${i}.jpg`,
  }));
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "image_file_path", data: images.map((im) => im.path) },
      { name: image, data: images },
      { name: label, data: labels.map((l) => BigInt(l)) },
    ],
    schema: [
      { name: "schema", num_children: 3 },
      {
        name: "image_file_path",
        type: "BYTE_ARRAY",
        converted_type: "UTF8",
        repetition_type: "OPTIONAL",
      },
      { name: image, repetition_type: "OPTIONAL", num_children: 2 },
      { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
      { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      { name: label, type: "INT64", repetition_type: "OPTIONAL" },
    ],
    kvMetadata: options.metadata
      ? [{
        key: "huggingface",
        value: JSON.stringify({
          info: {
            features: {
              image_file_path: { dtype: "string", _type: "Value" },
              [image]: { _type: "Image" },
              [label]: { names: NAMES, _type: "ClassLabel" },
            },
          },
        }),
      }]
      : [],
  });
  await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(file, new Uint8Array(buffer));
}

const CARD = `---
dataset_info:
  features:
  - name: image_file_path
    dtype: string
  - name: image
    dtype: image
  - name: labels
    dtype:
      class_label:
        names:
          '0': angular_leaf_spot
          '1': bean_rust
          '2': healthy
configs:
- config_name: default
  data_files:
  - split: train
    path: data/tr-*
  - split: validation
    path:
    - data/va.parquet
---
# beans
`;

async function withDir(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await testTempDir();
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("loadDataset() takes the card's configs data_files and its class names", async () => {
  await withDir(async (root) => {
    await Deno.writeTextFile(`${root}/README.md`, CARD);
    await writeParquet(`${root}/data/tr-0.parquet`, [0, 1], { tag: "tr0" });
    await writeParquet(`${root}/data/tr-1.parquet`, [2], { tag: "tr1" });
    await writeParquet(`${root}/data/va.parquet`, [1, 1, 0], { tag: "va" });
    // Beans' default name, which the card's config does not list: ignored.
    await writeParquet(`${root}/data/test-00000-of-00001.parquet`, [0], { tag: "te" });
    const ds = await loadDataset(root);
    assert.deepEqual(Object.keys(ds), ["train", "validation"]);
    assert.deepEqual(ds.train.labels.names, NAMES);
    assert.deepEqual(range(3).map((i) => ds.train.row(i).labels), [0, 1, 2]);
    assert.match(ds.train.row(2).image.path, /data\/tr-1\.parquet#0 \(tr1_0\.jpg\)$/);
    assert.deepEqual(range(3).map((i) => ds.validation.row(i).labels), [1, 1, 0]);
  });
});

Deno.test("loadDataset() reads {split}/ folders and the parquet metadata's columns", async () => {
  await withDir(async (root) => {
    await writeParquet(`${root}/train/a.parquet`, [2, 0], { image: "img", label: "label" });
    await writeParquet(`${root}/train/b.parquet`, [1], { image: "img", label: "label" });
    await writeParquet(`${root}/test/c.parquet`, [1, 2], {
      image: "img",
      label: "label",
      metadata: true,
    });
    const ds = await loadDataset(root);
    assert.deepEqual(Object.keys(ds), ["train", "test"]);
    assert.deepEqual(ds.test.labels.names, NAMES, "names from the metadata of one file");
    assert.deepEqual(range(3).map((i) => ds.train.row(i).labels), [2, 0, 1]);
    assert.ok(ds.test.row(0).image.bytes instanceof Uint8Array);
  });
});

Deno.test("loadDataset() reads beans' layout without a card, names from the metadata", async () => {
  await withDir(async (root) => {
    for (const [split, n] of [["validation", 2], ["test", 1], ["train", 3]] as const) {
      await writeParquet(`${root}/data/${split}-00000-of-00001.parquet`, range(n), {
        metadata: true,
      });
    }
    const ds = await loadDataset(root);
    assert.deepEqual(Object.keys(ds), ["train", "validation", "test"]);
    assert.deepEqual([ds.train.length, ds.validation.length, ds.test.length], [3, 2, 1]);
  });
});

Deno.test("loadDataset() explains a bad card, parquet or label, naming the file", async () => {
  await withDir(async (root) => {
    await Deno.writeTextFile(`${root}/README.md`, CARD);
    await writeParquet(`${root}/data/tr-0.parquet`, [0]);
    const oneLine = (re: RegExp) => (e: Error) => re.test(e.message) && !e.message.includes("\n");
    await assert.rejects(
      () => loadDataset(root),
      oneLine(
        new RegExp(
          `${root}/README\\.md: config 'default' split 'validation' \\(data/va\\.parquet\\) ` +
            "matches no \\.parquet file",
        ),
      ),
    );
    await Deno.writeFile(`${root}/data/va.parquet`, new TextEncoder().encode("PAR1 not really"));
    await assert.rejects(
      () => loadDataset(root),
      oneLine(new RegExp(`${root}/data/va\\.parquet: not a readable parquet file`)),
    );
    await writeParquet(`${root}/data/va.parquet`, [5]);
    await assert.rejects(
      () => loadDataset(root),
      oneLine(/label 5 in split validation is outside 3 classes/),
    );
    await Deno.writeTextFile(`${root}/README.md`, "---\nconfigs: &x\n---\n");
    await assert.rejects(
      () => loadDataset(root),
      oneLine(new RegExp(`${root}/README\\.md: line 2: unsupported YAML &x`)),
    );
  });
});
