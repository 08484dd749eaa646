/**
 * `deno task predict --model DIR [--top-k N] [--json] IMAGE…`: classifies image files. With
 * `--json`, stdout is one JSON array with, per image, its label, score, the top k and the
 * logits.
 *
 * @module
 */

import { readBytes } from "../io/files.ts";
import { init } from "../tensor/runtime.ts";
import { classifyImage } from "../train/classify.ts";
import { loadModelFolder } from "../train/model_folder.ts";
import { MODEL_REVISION_FLAG, resolveHubArg } from "./_hub.ts";
import { defineCli, runCli } from "./_run.ts";

/** The task: flags and what it does. */
export const PREDICT_CLI = defineCli({
  name: "predict",
  usage: `usage: deno task predict --model DIR|ID [--revision REV] [--top-k 3] [--json] IMAGE…

Classifies JPEG or PNG files with a saved model.`,
  flags: {
    model: {
      type: "string",
      required: true,
      value: "DIR|ID",
      help: "the model folder, or a Hub model id",
    },
    revision: MODEL_REVISION_FLAG,
    "top-k": { type: "number", integer: true, min: 1, default: 3, value: "N" },
    json: { type: "boolean", help: "print one JSON array on stdout" },
  },
  positionals: { missing: "give at least one image file" },
  init,
  main: async ({ values, positionals }) => {
    const k = values["top-k"];
    // Hub ids become cached snapshot folders (a separate, network-only step).
    const modelDir = (await resolveHubArg(values.model, "model", values.revision))!;
    const { model, processor } = await loadModelFolder(modelDir, {
      log: (m) => console.warn(m),
    });
    const results = [];
    for (const path of positionals) {
      const r = await classifyImage(model, processor, await readBytes(path), {
        topK: k,
        name: path,
      });
      results.push({
        image: path,
        label: r.label,
        score: r.score,
        top_k: r.topK,
        logits: r.logits,
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
