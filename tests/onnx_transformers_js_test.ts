// deno-lint-ignore-file no-import-prefix -- dev-only: `deno task` installs deno.json's imports
/**
 * Exported folders load in transformers.js 4 (npm:@huggingface/transformers, under Deno with
 * its onnxruntime-node and sharp): `pipeline("image-classification", folder)` runs from local
 * files only, its processor's pixels (resized with sharp, not PIL, so they are held fixed) give
 * Tessera's logits through the exported graph, and the pipeline's top label is Tessera's.
 * Tolerance on logits: |diff| <= 2e-5 + 1e-5·|logit|.
 */
import assert from "node:assert/strict";
import {
  AutoModelForImageClassification as TjModel,
  AutoProcessor,
  env,
  pipeline,
  RawImage,
} from "npm:@huggingface/transformers@4";
import "../io/deno_fs.ts";
import { AutoModelForImageClassification } from "../models/auto.ts";
import { makeDeiTConfig } from "../models/deit/config.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { DeiTForImageClassificationWithTeacher } from "../models/deit/modeling.ts";
import type { PreTrainedImageClassifier } from "../nn/image_classifier.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { exportOnnx } from "../onnx/export.ts";
import { randomizeParameters, tesseraLogits } from "../onnx/_test_util.ts";
import { Rng } from "../nn/init.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { init } from "../tensor/runtime.ts";

await init();

const ROOT = ".cache/test/onnx-transformers-js";
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = `${ROOT}/`;

const LABELS = { "0": "cat", "1": "dog", "2": "bird", "3": "fish" };
const TINY = {
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 48,
  image_size: 32,
  patch_size: 8,
  id2label: LABELS,
};

/** A seeded RGB image of another size than the model's, so the processor resizes. */
function randomImage(width: number, height: number, seed: number): RawImage {
  const rng = new Rng(seed);
  const data = new Uint8ClampedArray(width * height * 3);
  // Smooth gradients plus noise: resizing then matters, as on photographs.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const smooth = 128 + 100 * Math.sin((x * (c + 1)) / 9 + y / 7);
        data[(y * width + x) * 3 + c] = smooth + 40 * (rng.next() - 0.5);
      }
    }
  }
  return new RawImage(data, width, height, 3);
}

/** Writes the export under ROOT/name. */
async function writeExport(model: PreTrainedImageClassifier, name: string): Promise<void> {
  const { files } = await exportOnnx(model);
  for (const [path, bytes] of Object.entries(files)) {
    const file = `${ROOT}/${name}/${path}`;
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(file, bytes);
  }
}

/** Runs transformers.js on three images and checks logits and the pipeline's labels. */
async function checkFolder(model: PreTrainedImageClassifier, name: string): Promise<void> {
  await writeExport(model, name);
  const classify = await pipeline("image-classification", name);
  const processor = await AutoProcessor.from_pretrained(name);
  const tj = await TjModel.from_pretrained(name);
  const names = Object.values(model.config.id2label);
  for (const [i, [w, h]] of [[50, 70], [97, 61], [128, 128]].entries()) {
    const image = randomImage(w, h, 10 + i);
    const { pixel_values } = await processor(image);
    const pixels = pixel_values.data as Float32Array;
    const shape = pixel_values.dims as number[];
    const expected = await tesseraLogits(model, pixels, shape);
    const { logits } = await tj({ pixel_values });
    assertClose(
      logits.data as Float32Array,
      expected,
      { atol: 2e-5, rtol: 1e-5 },
      `${name} ${w}×${h}`,
    );
    const top = [...expected].indexOf(Math.max(...expected));
    const [result] = await classify(image, { top_k: 1 }) as { label: string; score: number }[];
    assert.equal(result.label, names[top], `${name} ${w}×${h}: pipeline's top label`);
  }
  await classify.dispose();
  await tj.dispose();
  model.dispose();
}

Deno.test("transformers.js runs exported ViT and DeiT with teacher as Tessera does", async () => {
  await Deno.remove(ROOT, { recursive: true }).catch(() => {});
  const vit = new ViTForImageClassification(makeViTConfig(TINY));
  randomizeParameters(vit, 21);
  await checkFolder(vit, "vit-tiny");
  const deit = new DeiTForImageClassificationWithTeacher(makeDeiTConfig(TINY));
  randomizeParameters(deit, 22);
  await checkFolder(deit, "deit-tiny");
});

Deno.test("transformers.js runs the exported bundled model as Tessera does", async () => {
  const dir = new URL("../models/vit-tiny-contours", import.meta.url).pathname;
  await checkFolder(await AutoModelForImageClassification.fromPretrained(dir), "vit-tiny-contours");
});
