/**
 * `deno task predict --model DIR [--top-k N] [--json] IMAGE…`: classifies image files. With
 * `--json`, stdout is one JSON array with, per image, its label, score, the top k and the
 * logits.
 *
 * @module
 */

import { decodeImage } from "../data/image.ts";
import { readBytes } from "../io/files.ts";
import { init } from "../tensor/runtime.ts";
import { noGrad, scopeAsync } from "../tensor/tensor.ts";
import { classNames, loadModelFolder } from "./_model_folder.ts";
import { resolveHubArg } from "./_hub.ts";
import { defineCli, runCli } from "./_run.ts";

/** Softmax of one row of logits. */
function softmaxRow(logits: Float32Array): number[] {
  const m = Math.max(...logits);
  const e = [...logits].map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The task: flags and what it does. */
export const PREDICT_CLI = defineCli({
  name: "predict",
  usage: `usage: deno task predict --model DIR [--top-k 3] [--json] IMAGE…

Classifies JPEG or PNG files with a saved model.`,
  flags: {
    model: { type: "string", required: true, value: "DIR", help: "the model folder" },
    "top-k": { type: "number", integer: true, min: 1, default: 3, value: "N" },
    json: { type: "boolean", help: "print one JSON array on stdout" },
  },
  positionals: { missing: "give at least one image file" },
  init,
  main: async ({ values, positionals }) => {
    const k = values["top-k"];
    // Hub ids become cached snapshot folders (a separate, network-only step).
    const modelDir = (await resolveHubArg(values.model, "model"))!;
    const { model, processor } = await loadModelFolder(modelDir, {
      log: (m) => console.warn(m),
    });
    model.eval();
    const names = classNames(model);
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
  },
});

if (import.meta.main) await runCli(PREDICT_CLI);
