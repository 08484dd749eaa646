/**
 * `deno task predict --model DIR [--top-k N] [--json] IMAGE…`: classifies image files. With
 * `--json`, stdout is one JSON array with, per image, its label, score, the top k and the
 * logits.
 *
 * @module
 */

import "../io/wide_simd.ts"; // before the device is acquired: Mesa reads the width once
import { parseArgs } from "node:util";
import { decodeImage } from "../data/image.ts";
import { readBytes } from "../io/files.ts";
import { noGrad, scopeAsync } from "../tensor/tensor.ts";
import { loadModelDir } from "./evaluate.ts";
import { runCli, UsageError } from "./_run.ts";

const USAGE = `usage: deno task predict --model DIR [--top-k 3] [--json] IMAGE…

Classifies JPEG or PNG files with a saved model.`;

/** Softmax of one row of logits. */
function softmaxRow(logits: Float32Array): number[] {
  const m = Math.max(...logits);
  const e = [...logits].map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

if (import.meta.main) {
  await runCli("predict", async () => {
    const { values, positionals } = parseArgs({
      args: Deno.args.filter((a) => a !== "--debug"),
      allowPositionals: true,
      options: {
        model: { type: "string" },
        "top-k": { type: "string", default: "3" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (!values.model) throw new UsageError("--model DIR is required");
    if (positionals.length === 0) throw new UsageError("give at least one image file");
    const k = Number(values["top-k"]);
    if (!Number.isInteger(k) || k < 1) throw new UsageError("--top-k must be ≥ 1");
    const { model, processor } = await loadModelDir(values.model);
    model.eval();
    const names = Object.keys(model.config.id2label).sort((a, b) => Number(a) - Number(b))
      .map((i) => model.config.id2label[i]);
    const results = [];
    for (const path of positionals) {
      const image = decodeImage(await readBytes(path), { name: path });
      const logits = await scopeAsync(async () => {
        const { pixelValues } = await processor.preprocess(image);
        return await noGrad(() => model.forward(pixelValues).logits).toArray();
      });
      const probs = softmaxRow(logits);
      const order = probs.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]);
      const top = order.slice(0, Math.min(k, names.length)).map(([p, i]) => ({
        label: names[i],
        score: p,
      }));
      results.push({
        image: path,
        label: top[0].label,
        score: top[0].score,
        top_k: top,
        logits: [...logits],
      });
    }
    if (values.json) console.log(JSON.stringify(results));
    else {
      for (const r of results) {
        console.log(
          `${r.image}: ${r.label} (${(r.score * 100).toFixed(1)}%)  ` +
            r.top_k.slice(1).map((t) => `${t.label} ${(t.score * 100).toFixed(1)}%`).join("  "),
        );
      }
    }
  });
}
