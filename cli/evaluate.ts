/**
 * `deno task evaluate --model DIR --data DIR [--split validation|test] [--json]`: evaluates a
 * saved model on a dataset split. With `--json`, stdout is exactly one JSON object whose keys
 * carry the split as prefix (`test_accuracy`, `test_loss`, …), as Transformers does.
 *
 * @module
 */

import { loadDataset } from "../data/parquet.ts";
import { init } from "../tensor/runtime.ts";
import { ArgumentError } from "../train/args.ts";
import { evaluateModel } from "../train/evaluate_model.ts";
import { loadModelFolder } from "../train/model_folder.ts";
import { DATA_REVISION_FLAG, MODEL_REVISION_FLAG, resolveHubArg } from "./_hub.ts";
import { defineCli, runCli, UsageError } from "./_run.ts";

/** The task: flags and what it does. */
export const EVALUATE_CLI = defineCli({
  name: "evaluate",
  usage: `usage: deno task evaluate --model DIR|ID --data DIR|ID [--split validation] [--json]
                          [--batch-size 8] [--revision REV] [--data-revision REV]

Evaluates a saved model (config.json, model.safetensors, preprocessor_config.json) on a split of
an ImageFolder or a Hub parquet download: loss, accuracy, per-class precision/recall/F1.`,
  flags: {
    model: {
      type: "string",
      required: true,
      value: "DIR|ID",
      help: "the model folder, or a Hub model id",
    },
    data: {
      type: "string",
      required: true,
      value: "DIR|ID",
      help: "an ImageFolder, a Hub parquet download, or a Hub dataset id",
    },
    revision: MODEL_REVISION_FLAG,
    "data-revision": DATA_REVISION_FLAG,
    split: { type: "string", default: "validation", value: "NAME", help: "the split to score" },
    json: { type: "boolean", help: "print one JSON object on stdout" },
    "batch-size": { type: "number", integer: true, min: 1, default: 8, value: "N" },
  },
  init,
  main: async ({ values }) => {
    // Hub ids become cached snapshot folders (a separate, network-only step).
    const modelDir = (await resolveHubArg(values.model, "model", values.revision))!;
    const { model, processor } = await loadModelFolder(modelDir, {
      log: (m) => console.warn(m),
    });
    const dataDir = (await resolveHubArg(values.data, "dataset", values["data-revision"]))!;
    const ds = await loadDataset(dataDir, { log: (m) => console.warn(m) });
    const split = ds[values.split];
    if (!split) {
      throw new UsageError(
        `${values.data} has no split '${values.split}' (splits: ${Object.keys(ds).join(", ")})`,
      );
    }
    let out: Record<string, unknown>;
    try {
      out = await evaluateModel(model, processor, split, {
        split: values.split,
        where: values.data,
        batchSize: values["batch-size"],
        log: values.json ? () => {} : (l) => console.warn(l),
      });
    } catch (error) {
      // A class the model does not know: the user's choice of --data, as a usage error.
      if (error instanceof ArgumentError) throw new UsageError(error.message);
      throw error;
    }
    if (values.json) console.log(JSON.stringify(out));
    else {
      console.log(`***** ${values.split} metrics *****`);
      for (const [k, v] of Object.entries(out)) {
        console.log(`  ${k.padEnd(34)} = ${JSON.stringify(v)}`);
      }
    }
  },
});

if (import.meta.main) await runCli(EVALUATE_CLI);
