/**
 * AutoImageProcessor against Transformers' BitImageProcessor (DINOv2's), ConvNextImageProcessor
 * and ViTImageProcessor on real photographs (tests/fixtures/gen_processors.py, which copies
 * Transformers' arithmetic over PIL): the image after the PIL-exact bicubic or bilinear resize
 * and the center crop must equal PIL's pixel for pixel, and the pixel values must equal
 * Transformers' f32 rescale and normalisation exactly.
 */
import assert from "node:assert/strict";
import { AutoImageProcessor } from "./auto_processor.ts";
import { BitImageProcessor, DINOV2_PROCESSOR } from "./bit_processor.ts";
import { ConvNextImageProcessor } from "./convnext_processor.ts";
import { decodeImage, type RgbImage } from "./image.ts";
import { transformImage } from "./image_transforms.ts";
import { ProcessorError } from "./pixels.ts";
import { ViTImageProcessor } from "./processor.ts";
import { parseSafetensors } from "../nn/safetensors.ts";
import { testTempDir } from "../io/_test_util.ts";
import "../io/deno_fs.ts";
import { init } from "../tensor/runtime.ts";

await init();

const DIR = new URL("../tests/fixtures/images/", import.meta.url);

interface Case {
  name: string;
  source: string;
  config: Record<string, unknown>;
  resized: [number, number] | null;
  crop_top_left: [number, number] | null;
  expected: string;
  pixel_values: boolean;
}

async function load(name: string): Promise<RgbImage> {
  return decodeImage(await Deno.readFile(new URL(name, DIR)), { name });
}

const { cases } = JSON.parse(await Deno.readTextFile(new URL("processors.json", DIR))) as {
  cases: Case[];
};

Deno.test("AutoImageProcessor matches Transformers' Bit, ConvNeXt, ViT on photos", async (t) => {
  assert.equal(cases.length, 9);
  const file = new URL("processors.safetensors", DIR);
  const { tensors } = parseSafetensors(await Deno.readFile(file), file.pathname);
  for (const c of cases) {
    await t.step(c.name, async () => {
      const processor = AutoImageProcessor.fromConfig(c.config, c.name);
      assert.equal(processor.constructor.name, c.config.image_processor_type);
      const source = await load(c.source);
      const expected = await load(c.expected);
      const got = transformImage(source, processor.config);
      assert.deepEqual([got.width, got.height], [expected.width, expected.height]);
      assert.deepEqual(processor.outputSize, { height: expected.height, width: expected.width });
      let worst = 0;
      for (let i = 0; i < got.data.length; i++) {
        worst = Math.max(worst, Math.abs(got.data[i] - expected.data[i]));
      }
      assert.equal(worst, 0, `${c.name}: resize and crop equal PIL's (max |diff| ${worst})`);
      if (c.pixel_values) {
        const values = processor.processToArray(source, c.name);
        const want = tensors.get(c.name)!;
        assert.deepEqual(want.shape, [3, expected.height, expected.width]);
        assert.deepEqual([...values], [...want.data], "pixel values bit-exact");
      }
    });
  }
});

Deno.test("AutoImageProcessor reads every field of Bit's and ConvNeXt's files", () => {
  const bit = AutoImageProcessor.fromConfig({
    feature_extractor_type: "BitFeatureExtractor",
    size: 100,
    crop_size: 80,
    image_mean: 0.5,
    image_std: [0.2, 0.3, 0.4],
    do_normalize: false,
    do_convert_rgb: true,
    crop_pct: null,
  });
  assert.ok(bit instanceof BitImageProcessor);
  assert.deepEqual(bit.config.size, { shortest_edge: 100 });
  assert.deepEqual(bit.config.crop_size, { height: 80, width: 80 });
  assert.deepEqual(bit.config.image_mean, [0.5, 0.5, 0.5]);
  assert.equal(bit.resampleFilter, "bicubic");
  const convnext = AutoImageProcessor.fromConfig({
    image_processor_type: "ConvNextImageProcessor",
  });
  assert.ok(convnext instanceof ConvNextImageProcessor);
  // HF's defaults: shortest edge 384 (a square warp), bilinear, crop_pct 224/256.
  assert.deepEqual(convnext.outputSize, { height: 384, width: 384 });
  assert.equal(convnext.resampleFilter, "bilinear");
  assert.equal(convnext.config.crop_pct, 0.875);
});

Deno.test("a processor file with a wrong field fails in one line naming file and field", () => {
  const bad = (fields: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => AutoImageProcessor.fromConfig(fields, "m/preprocessor_config.json"),
      (e) =>
        e instanceof ProcessorError && e.message.startsWith("m/preprocessor_config.json: ") &&
        !e.message.includes("\n") && pattern.test(e.message),
    );
  bad(
    { image_processor_type: "BitImageProcessor", size: { longest_edge: 3 } },
    /^.*: size must be/,
  );
  bad(
    { image_processor_type: "BitImageProcessor", crop_size: { height: 0, width: 2 } },
    /crop_size must be/,
  );
  bad(
    { image_processor_type: "BitImageProcessor", crop_size: { shortest_edge: 2 } },
    /crop_size must be \{"height", "width"\}/,
  );
  bad({ image_processor_type: "BitImageProcessor", resample: 5 }, /resample 5 is not supported/);
  bad({ image_processor_type: "BitImageProcessor", do_center_crop: false }, /different sizes/);
  bad(
    { image_processor_type: "BitImageProcessor", do_convert_rgb: "yes" },
    /do_convert_rgb must be/,
  );
  bad(
    { image_processor_type: "ConvNextImageProcessor", size: { height: 3, width: 3 } },
    /shortest_edge/,
  );
  bad(
    { image_processor_type: "ConvNextImageProcessor", crop_pct: 0 },
    /crop_pct must be a positive/,
  );
});

Deno.test("BitImageProcessor round-trips its preprocessor_config.json, class named", async () => {
  const dir = await testTempDir();
  try {
    await new BitImageProcessor(DINOV2_PROCESSOR).savePretrained(dir);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/preprocessor_config.json`));
    assert.equal(saved.image_processor_type, "BitImageProcessor");
    assert.deepEqual(saved.size, { shortest_edge: 256 });
    const again = await AutoImageProcessor.fromPretrained(dir);
    assert.ok(again instanceof BitImageProcessor);
    assert.deepEqual(again.config, new BitImageProcessor(DINOV2_PROCESSOR).config);
    const { pixelValues } = await again.preprocess(await load("source_coffee.png"));
    assert.deepEqual(pixelValues.shape, [1, 3, 224, 224]);
    pixelValues.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a model folder without preprocessor_config.json gets its family's processor", () => {
  const dino = AutoImageProcessor.defaultFor({ model_type: "dinov2", image_size: 518 });
  assert.ok(dino instanceof BitImageProcessor);
  assert.deepEqual(dino.outputSize, { height: 224, width: 224 });
  const vit = AutoImageProcessor.defaultFor({ model_type: "vit", image_size: 96 });
  assert.ok(vit instanceof ViTImageProcessor);
  assert.deepEqual(vit.outputSize, { height: 96, width: 96 });
});
