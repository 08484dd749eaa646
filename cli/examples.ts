/**
 * `deno task examples --data DIR [--split train] [--per-class 3] [--seed N] [--out grid.png]`:
 * the blog's `show_examples`, one row per class, each image labelled, written as PNG.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { range } from "../data/dataset.ts";
import { makeGrid } from "../data/grid.ts";
import { loadDataset } from "../data/parquet.ts";
import { encodePng } from "../data/png.ts";
import { readImage } from "../data/sample.ts";
import { writeAtomic } from "../io/files.ts";
import { runCli, UsageError } from "./_run.ts";

const USAGE = `usage: deno task examples --data DIR [--split train] [--per-class 3] [--seed N]
                          [--size PX] [--out grid.png]

Writes a grid of examples, one row per class, as the blog's show_examples does.
DIR is an ImageFolder or a Hugging Face parquet download.`;

if (import.meta.main) {
  await runCli("examples", async () => {
    const { values } = parseArgs({
      args: Deno.args.filter((a) => a !== "--debug"),
      options: {
        data: { type: "string" },
        split: { type: "string", default: "train" },
        "per-class": { type: "string", default: "3" },
        seed: { type: "string", default: "1234" },
        size: { type: "string", default: "350" },
        out: { type: "string", default: "grid.png" },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.data) throw new UsageError("--data DIR is required");
    const perClass = Number(values["per-class"]);
    const size = Number(values.size);
    if (!Number.isInteger(perClass) || perClass < 1) {
      throw new UsageError("--per-class must be ≥ 1");
    }
    if (!Number.isInteger(size) || size < 16) throw new UsageError("--size must be ≥ 16");
    const ds = await loadDataset(values.data);
    const split = ds[values.split];
    if (!split) {
      throw new UsageError(`no split '${values.split}' (splits: ${Object.keys(ds).join(", ")})`);
    }
    const rows = [];
    for (const [label, name] of split.labels.names.entries()) {
      const picked = split.filter((r) => r.labels === label).shuffle(Number(values.seed));
      const n = Math.min(perClass, picked.length);
      const images = [];
      for (const i of range(n)) images.push(await readImage(picked.select(range(n)).row(i).image));
      rows.push({ label: name, images });
    }
    await writeAtomic(values.out, encodePng(makeGrid(rows, size)));
    console.log(`wrote ${values.out} (${rows.length} classes × ${perClass})`);
  });
}
