// deno-lint-ignore-file no-import-prefix -- dev-only: `deno task` installs deno.json's imports
/**
 * Top-1 agreement between transformers.js running Tessera's ONNX export and
 * `deno task predict`, over a split of an ImageFolder (the generated beans dataset's test split
 * by default), and the differing images. Each side preprocesses as it does in use:
 * transformers.js decodes and resizes with sharp, predict with Tessera's PIL-exact resize. It
 * also runs Tessera's model on the pixels transformers.js made (its preprocessing held fixed)
 * and reports the worst logit difference and the top-1 agreement there.
 *
 * usage: deno run --lock=deno.dev.lock --allow-read --allow-write=.cache --allow-run=deno
 *   --allow-env --allow-ffi --allow-sys=hostname,cpus,networkInterfaces bench/onnx_agreement.ts
 *   --model DIR
 *   [--data .cache/beans-synthetic] [--split test]
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  AutoModelForImageClassification as TjModel,
  AutoProcessor,
  env,
  pipeline,
  RawImage,
} from "npm:@huggingface/transformers@4";
import "../io/deno_fs.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { AutoModelForImageClassification } from "../models/auto.ts";
import { exportOnnx } from "../onnx/export.ts";
import { tesseraLogits, worstDifference } from "../onnx/_test_util.ts";
import { init } from "../tensor/runtime.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string" },
    data: { type: "string", default: ".cache/beans-synthetic" },
    split: { type: "string", default: "test" },
  },
});
if (!values.model) throw new Error("give --model DIR (a fine-tuned model folder)");
const modelDir = values.model.replace(/\/+$/, "");

await init();
const model = await AutoModelForImageClassification.fromPretrained(modelDir);
const processor = await ViTImageProcessor.fromPretrained(modelDir);
const { files, ops, opset } = await exportOnnx(model, { processor: processor.config });
const root = ".cache/onnx-agreement";
const name = modelDir.split("/").pop()!;
for (const [path, bytes] of Object.entries(files)) {
  const file = `${root}/${name}/${path}`;
  await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(file, bytes);
}

const images: string[] = [];
for await (const cls of Deno.readDir(`${values.data}/${values.split}`)) {
  if (!cls.isDirectory) continue;
  for await (const f of Deno.readDir(`${values.data}/${values.split}/${cls.name}`)) {
    if (/\.(jpe?g|png)$/i.test(f.name)) {
      images.push(`${values.data}/${values.split}/${cls.name}/${f.name}`);
    }
  }
}
images.sort();

// deno task predict, as a user runs it.
const predict = await new Deno.Command("deno", {
  args: ["task", "predict", "--model", modelDir, "--json", "--top-k", "1", ...images],
  stdout: "piped",
  stderr: "inherit",
}).output();
if (!predict.success) throw new Error("deno task predict failed");
const tessera = JSON.parse(new TextDecoder().decode(predict.stdout)) as {
  image: string;
  label: string;
  score: number;
}[];

env.allowRemoteModels = false;
env.localModelPath = `${root}/`;
const classify = await pipeline("image-classification", name);
const tjProcessor = await AutoProcessor.from_pretrained(name);
const tjModel = await TjModel.from_pretrained(name);

const differing: string[] = [];
let heldFixedAgree = 0;
let worstAbs = 0;
let worstRel = 0;
for (const [i, image] of images.entries()) {
  // Decoded by sharp, as the pipeline does with a path.
  const raw = await RawImage.read(image);
  const [top] = await classify(raw, { top_k: 1 }) as { label: string; score: number }[];
  if (top.label !== tessera[i].label) {
    differing.push(
      `${image}: transformers.js ${top.label} (${(top.score * 100).toFixed(1)}%), predict ` +
        `${tessera[i].label} (${(tessera[i].score * 100).toFixed(1)}%)`,
    );
  }
  // Tessera on transformers.js' own pixels.
  const { pixel_values } = await tjProcessor(raw);
  const { logits } = await tjModel({ pixel_values });
  const ours = await tesseraLogits(model, pixel_values.data, pixel_values.dims);
  const theirs = logits.data as Float32Array;
  const worst = worstDifference(theirs, ours);
  worstAbs = Math.max(worstAbs, worst.abs);
  worstRel = Math.max(worstRel, worst.rel);
  const argmax = (a: ArrayLike<number>) => [...Array.from(a)].indexOf(Math.max(...Array.from(a)));
  if (argmax(ours) === argmax(theirs)) heldFixedAgree++;
}

const onnxBytes = files["onnx/model.onnx"].length;
const safetensorsBytes = (await Deno.stat(`${modelDir}/model.safetensors`)).size;
console.log(`model ${modelDir}, ${images.length} images of ${values.data}/${values.split}`);
console.log(
  `top-1 agreement, transformers.js (sharp) vs deno task predict (PIL-exact): ` +
    `${images.length - differing.length}/${images.length}`,
);
for (const d of differing) console.log(`  differs: ${d}`);
console.log(
  `on transformers.js' pixels: top-1 agreement ${heldFixedAgree}/${images.length}, worst logit ` +
    `|diff| ${worstAbs.toExponential(2)} (relative ${worstRel.toExponential(2)})`,
);
console.log(`exported ${root}/${name}: ${Object.keys(files).join(", ")}`);
console.log(`model.onnx ${onnxBytes} bytes, model.safetensors ${safetensorsBytes} bytes`);
console.log(`opset ${opset}: ${Object.entries(ops).map(([k, v]) => `${k} ×${v}`).join(", ")}`);
await classify.dispose();
await tjModel.dispose();
