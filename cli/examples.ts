/**
 * `deno task examples --data DIR [--split train] [--per-class 3] [--seed N] [--out grid.png]`:
 * the blog's `show_examples`, one row per class, each image labelled, written as PNG.
 *
 * @module
 */

import { range } from "../data/dataset.ts";
import { makeGrid } from "../data/grid.ts";
import { loadDataset } from "../data/parquet.ts";
import { encodePng } from "../data/png.ts";
import { readImage } from "../data/sample.ts";
import { writeAtomic } from "../io/files.ts";
import { defineCli, runCli, UsageError } from "./_run.ts";

/** The task: flags and what it does. */
export const EXAMPLES_CLI = defineCli({
  name: "examples",
  usage: `usage: deno task examples --data DIR [--split train] [--per-class 3] [--seed N]
                          [--size PX] [--out grid.png]

Writes a grid of examples, one row per class, as the blog's show_examples does.
DIR is an ImageFolder or a Hugging Face parquet download.`,
  flags: {
    data: { type: "string", required: true, value: "DIR", help: "the dataset" },
    split: { type: "string", default: "train", value: "NAME", help: "the split to draw from" },
    "per-class": { type: "number", integer: true, min: 1, default: 3, value: "N" },
    seed: { type: "number", integer: true, default: 1234, value: "N", help: "which examples" },
    size: { type: "number", integer: true, min: 16, default: 350, value: "PX", help: "cell size" },
    out: { type: "string", default: "grid.png", value: "FILE", help: "the PNG to write" },
  },
  main: async ({ values }) => {
    const perClass = values["per-class"];
    const ds = await loadDataset(values.data);
    const split = ds[values.split];
    if (!split) {
      throw new UsageError(`no split '${values.split}' (splits: ${Object.keys(ds).join(", ")})`);
    }
    const rows = [];
    for (const [label, name] of split.labels.names.entries()) {
      const picked = split.filter((r) => r.labels === label).shuffle(values.seed);
      const n = Math.min(perClass, picked.length);
      const images = [];
      for (const i of range(n)) images.push(await readImage(picked.select(range(n)).row(i).image));
      rows.push({ label: name, images });
    }
    await writeAtomic(values.out, encodePng(makeGrid(rows, values.size)));
    console.log(`wrote ${values.out} (${rows.length} classes × ${perClass})`);
  },
});

if (import.meta.main) await runCli(EXAMPLES_CLI);
