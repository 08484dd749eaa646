import assert from "node:assert/strict";
import {
  cardFeatures,
  cardHeader,
  classLabelNames,
  DatasetCardError,
  parseCardYaml,
  selectCardConfig,
} from "./dataset_card.ts";

/** The header of beans' card on the Hub, as push_to_hub writes it (abridged). */
const BEANS = `---
annotations_creators:
- expert-generated
language_creators:
- expert-generated
language:
- en
license:
- mit
multilinguality:
- monolingual
size_categories:
- 1K<n<10K
source_datasets:
- original
task_ids:
- multi-class-image-classification
pretty_name: Beans
task_categories:
- image-classification
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
  splits:
  - name: train
    num_bytes: 143762054.662
    num_examples: 1034
  - name: validation
    num_bytes: 18515799.0
    num_examples: 133
  download_size: 179978834
  dataset_size: 178262797.662
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: validation
    path: data/validation-*
  - split: test
    path: data/test-*
---

# Dataset Card for Beans
`;

Deno.test("parseCardYaml() reads beans' header: configs, features and class names", () => {
  const header = cardHeader(BEANS, "README.md");
  assert.deepEqual(header.license, ["mit"]);
  assert.deepEqual(header.size_categories, ["1K<n<10K"]);
  const config = selectCardConfig(header, "README.md")!;
  assert.equal(config.name, "default");
  assert.deepEqual(Object.fromEntries(config.dataFiles), {
    train: ["data/train-*"],
    validation: ["data/validation-*"],
    test: ["data/test-*"],
  });
  const features = cardFeatures(header);
  assert.deepEqual(features.map((f) => f.name), ["image_file_path", "image", "labels"]);
  assert.equal(features[1].dtype, "image");
  assert.deepEqual(classLabelNames(features[2].dtype), [
    "angular_leaf_spot",
    "bean_rust",
    "healthy",
  ]);
  assert.equal(
    (header.dataset_info as { splits: { num_bytes: number }[] }).splits[0].num_bytes,
    143762054.662,
  );
});

Deno.test("parseCardYaml() reads quoted, flow, commented, block and nested-sequence YAML", () => {
  assert.deepEqual(
    parseCardYaml(
      `a: 'it''s # not a comment'  # a comment
b: "x\\ty"
c: [one, 'two, three', 3]
d:
  - - 1
    - 2
  -
    e: true
f: |
  line one
  line two
g: ~
h: {x: 1, y: [2, 3], 'z, w': {}}
i: a long description
  that wraps
-j: plain
`,
      "x.md",
    ),
    {
      a: "it's # not a comment",
      b: "x\ty",
      c: ["one", "two, three", 3],
      d: [[1, 2], { e: true }],
      f: "line one\nline two",
      g: null,
      h: { x: 1, y: [2, 3], "z, w": {} },
      i: "a long description that wraps",
      "-j": "plain",
    },
  );
});

Deno.test("parseCardYaml() refuses what it cannot read, naming the file and line", () => {
  for (
    const [text, message] of [
      ["a: &anchor 1", /x\.md: line 1: unsupported YAML &anchor/],
      ["a: {b 1}", /x\.md: line 1: expected "key: value" in flow mapping/],
      ["a:\n  b: 1\n c: 2", /x\.md: line 3: unexpected indentation/],
      ["a: 'open", /x\.md: line 1: unterminated quoted string/],
      ["just text", /x\.md: line 1: expected "key: value"/],
    ] as const
  ) {
    assert.throws(() => parseCardYaml(text, "x.md"), (e: Error) => {
      assert.ok(e instanceof DatasetCardError);
      assert.match(e.message, message);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("selectCardConfig() picks a config as load_dataset does", () => {
  const header = cardHeader(
    `---
configs:
- config_name: small
  data_files: small/*.parquet
- config_name: full
  default: true
  data_dir: full
  data_files:
    train: tr/*.parquet
    test: [te/a.parquet, te/b.parquet]
dataset_info:
- config_name: small
  features:
  - name: label
    dtype:
      class_label:
        names: [cat, dog]
- config_name: full
  features:
  - name: label
    dtype:
      class_label:
        names:
          '0': ant
          '1': bee
---
`,
    "README.md",
  );
  const full = selectCardConfig(header, "README.md")!;
  assert.equal(full.name, "full");
  assert.deepEqual(Object.fromEntries(full.dataFiles), {
    train: ["full/tr/*.parquet"],
    test: ["full/te/a.parquet", "full/te/b.parquet"],
  });
  const small = selectCardConfig(header, "README.md", "small")!;
  assert.deepEqual(Object.fromEntries(small.dataFiles), { train: ["small/*.parquet"] });
  assert.deepEqual(classLabelNames(cardFeatures(header, "small")[0].dtype), ["cat", "dog"]);
  assert.deepEqual(classLabelNames(cardFeatures(header, "full")[0].dtype), ["ant", "bee"]);
  assert.throws(
    () => selectCardConfig(header, "README.md", "medium"),
    /README\.md: has no config 'medium' \(configs: small, full\)/,
  );
  const two = cardHeader("---\nconfigs:\n- config_name: a\n- config_name: b\n---\n", "R.md");
  assert.throws(() => selectCardConfig(two, "R.md"), /R\.md: declares configs a, b; say which/);
  assert.equal(selectCardConfig(cardHeader("# no header", "R.md"), "R.md"), null);
  const dup = cardHeader(
    "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: a\n" +
      "  - split: train\n    path: b\n---\n",
    "R.md",
  );
  assert.throws(() => selectCardConfig(dup, "R.md"), /names split 'train' twice/);
});

Deno.test("classLabelNames() refuses names with gaps in their indices", () => {
  assert.equal(classLabelNames({ class_label: { names: { "0": "a", "2": "c" } } }), null);
  assert.equal(classLabelNames("string"), null);
});
