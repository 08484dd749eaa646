import assert from "node:assert/strict";
import { globToRegExp, resolveDataFiles } from "./data_files.ts";

const parquet = (p: string) => p.endsWith(".parquet");

function resolved(paths: string[], config?: Map<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(resolveDataFiles(paths, config, parquet));
}

Deno.test("resolveDataFiles() orders beans' Hub layout as train, validation, test", () => {
  const beans = [
    "README.md",
    "data/test-00000-of-00001.parquet",
    "data/train-00000-of-00001.parquet",
    "data/validation-00000-of-00001.parquet",
    ".gitattributes",
  ];
  const files = resolveDataFiles(beans, null, parquet);
  assert.deepEqual([...files.keys()], ["train", "validation", "test"]);
  assert.deepEqual(files.get("validation"), ["data/validation-00000-of-00001.parquet"]);
});

Deno.test("resolveDataFiles() keeps a sharded split's files together, other splits sorted", () => {
  assert.deepEqual(
    resolved([
      "data/train-00001-of-00002.parquet",
      "data/train-00000-of-00002.parquet",
      "data/zeta-00000-of-00001.parquet",
      "data/extra-00000-of-00001.parquet",
    ]),
    {
      train: ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"],
      extra: ["data/extra-00000-of-00001.parquet"],
      zeta: ["data/zeta-00000-of-00001.parquet"],
    },
  );
});

Deno.test("resolveDataFiles() takes a card config's patterns over every default", () => {
  const config = new Map([["train", ["data/tr-*"]], ["test", ["holdout/*.parquet", "x.parquet"]]]);
  assert.deepEqual(
    resolved([
      "data/tr-a.parquet",
      "data/tr-b.parquet",
      "data/train-00000-of-00001.parquet",
      "holdout/1.parquet",
      "x.parquet",
    ], config),
    {
      train: ["data/tr-a.parquet", "data/tr-b.parquet"],
      test: ["holdout/1.parquet", "x.parquet"],
    },
  );
  assert.deepEqual(resolved(["a.parquet"], new Map([["train", ["b/*"]]])), { train: [] });
});

Deno.test("resolveDataFiles() falls back to split keywords in folder, then file names", () => {
  assert.deepEqual(
    resolved(["train/a.parquet", "train/b.parquet", "dev/c.parquet", "data/testing-1/d.parquet"]),
    {
      train: ["train/a.parquet", "train/b.parquet"],
      validation: ["dev/c.parquet"],
      test: ["data/testing-1/d.parquet"],
    },
  );
  // Folder keywords win over file keywords: test.parquet inside train/ is train's.
  assert.deepEqual(resolved(["train/test.parquet"]), { train: ["train/test.parquet"] });
  assert.deepEqual(
    resolved(["my_train_file.parquet", "valid.parquet", "eval-2.parquet", "pretest.parquet"]),
    { train: ["my_train_file.parquet"], validation: ["valid.parquet"], test: ["eval-2.parquet"] },
  );
});

Deno.test("resolveDataFiles() puts everything in train when no name says a split", () => {
  assert.deepEqual(resolved(["b.parquet", "sub/a.parquet", "notes.txt", ".cache/c.parquet"]), {
    train: ["b.parquet", "sub/a.parquet"],
  });
  assert.deepEqual(resolved(["notes.txt"]), {});
});

Deno.test("globToRegExp() reads *, **, ? and character classes as Python's glob does", () => {
  assert.ok(globToRegExp("**/train/**").test("train/a.parquet"));
  assert.ok(globToRegExp("**/train/**").test("x/y/train/z/a.parquet"));
  assert.ok(!globToRegExp("data/*").test("data/sub/a.parquet"));
  assert.ok(globToRegExp("data/**").test("data/sub/a.parquet"));
  assert.ok(globToRegExp("**/*[-._ 0-9]val[-._ 0-9]*").test("a/my.val.parquet"));
  assert.ok(!globToRegExp("**/*[-._ 0-9]val[-._ 0-9]*").test("interval.parquet"));
  assert.ok(globToRegExp("f?.[!c]sv").test("f1.tsv") && !globToRegExp("f?.[!c]sv").test("f1.csv"));
  assert.ok(globToRegExp("a+b(1).parquet").test("a+b(1).parquet"));
});
