/**
 * Linear-probe features: runs a model folder (or a random initialisation of the bundled
 * model's architecture, for `random`) over an ImageFolder's train and validation splits (and
 * test, when there is one) and writes the final-LayerNorm CLS feature of each image as raw f32,
 * with the labels as JSON, for `demo/linear_probe.py`. Used by `demo/linear_probe.sh`.
 *
 * usage: deno run --allow-read=. --allow-write=.cache demo/linear_probe.ts \
 *   MODEL_DIR|random DATA_DIR OUT_PREFIX
 *
 * @module
 */

import {
  init,
  loadImageFolder,
  makeViTConfig,
  noGrad,
  readImage,
  scopeAsync,
  Tensor,
  ViTForImageClassification,
  ViTImageProcessor,
} from "../mod.ts";
import { BUNDLED_MODEL_DIR, DEMO_CONFIG } from "../demo/config.ts";

const [modelDir, dataDir, out] = Deno.args;
await init();
// `random` is the bundled model's architecture (its size included) with random weights.
const bundled = JSON.parse(await Deno.readTextFile(`${BUNDLED_MODEL_DIR}/config.json`));
const architecture = Object.fromEntries(Object.keys(DEMO_CONFIG).map((k) => [k, bundled[k]]));
const model = modelDir === "random"
  ? new ViTForImageClassification(makeViTConfig({ ...architecture, num_labels: 3 }), 1)
  : await ViTForImageClassification.fromPretrained(modelDir, { log: () => {} });
const size = model.config.image_size;
const processor = new ViTImageProcessor({ size });
const ds = await loadImageFolder(dataDir);
for (const split of ["train", "validation", "test"]) {
  const rows = ds[split];
  if (!rows) continue; // the test split is optional
  const features: number[] = [];
  const labels: number[] = [];
  for (let start = 0; start < rows.length; start += 32) {
    const n = Math.min(32, rows.length - start);
    const pixels = new Float32Array(n * 3 * size * size);
    for (let i = 0; i < n; i++) {
      const row = rows.row(start + i);
      pixels.set(processor.processToArray(await readImage(row.image)), i * 3 * size * size);
      labels.push(row.labels);
    }
    const hidden = await scopeAsync(() =>
      noGrad(() =>
        model.vit.forward(Tensor.from(pixels, [n, 3, size, size])).lastHiddenState.toArray()
      )
    );
    const width = model.config.hidden_size;
    const tokens = hidden.length / (n * width);
    for (let i = 0; i < n; i++) {
      const cls = i * tokens * width; // the CLS token is each sequence's first row
      features.push(...hidden.subarray(cls, cls + width));
    }
  }
  await Deno.writeFile(`${out}.${split}.f32`, new Uint8Array(new Float32Array(features).buffer));
  await Deno.writeTextFile(`${out}.${split}.labels.json`, JSON.stringify(labels));
}
