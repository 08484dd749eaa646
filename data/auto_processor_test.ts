import assert from "node:assert/strict";
import { AutoImageProcessor, IMAGE_PROCESSORS } from "./auto_processor.ts";
import { ImageProcessorRegistry } from "./image_processor.ts";
import { ProcessorError } from "./pixels.ts";
import { ViTImageProcessor } from "./processor.ts";
import { testTempDir } from "../io/_test_util.ts";

/** A ProcessorError whose one-line message is `message`. */
function processorError(message: string): (e: unknown) => boolean {
  return (e) => e instanceof ProcessorError && e.message === message;
}

Deno.test("AutoImageProcessor builds the class image_processor_type names, with its fields", () => {
  const p = AutoImageProcessor.fromConfig({
    image_processor_type: "ViTImageProcessor",
    size: { height: 40, width: 24 },
    resample: 3,
  });
  assert.ok(p instanceof ViTImageProcessor);
  assert.deepEqual(p.outputSize, { height: 40, width: 24 });
  assert.equal(p.resampleFilter, "bicubic");
});

Deno.test(
  "feature_extractor_type reads as its ImageProcessor, and no name means the default",
  () => {
    const old = AutoImageProcessor.fromConfig({ feature_extractor_type: "ViTFeatureExtractor" });
    assert.ok(old instanceof ViTImageProcessor);
    const unnamed = AutoImageProcessor.fromConfig({ size: 16 });
    assert.ok(unnamed instanceof ViTImageProcessor);
    assert.deepEqual(unnamed.outputSize, { height: 16, width: 16 });
    assert.deepEqual(IMAGE_PROCESSORS.processorTypes, [
      "ViTImageProcessor",
      "BitImageProcessor",
      "ConvNextImageProcessor",
    ]);
  },
);

Deno.test("an unknown processor class is a one-line error naming the file", () => {
  assert.throws(
    () => AutoImageProcessor.fromConfig({ image_processor_type: "CLIPImageProcessor" }, "m/p.json"),
    processorError(
      'm/p.json: image_processor_type "CLIPImageProcessor" is not one of ' +
        '"ViTImageProcessor", "BitImageProcessor", "ConvNextImageProcessor"',
    ),
  );
  assert.throws(
    () => AutoImageProcessor.fromConfig({ feature_extractor_type: 7 }, "m/p.json"),
    processorError(
      'm/p.json: feature_extractor_type 7 is not one of "ViTImageProcessor", ' +
        '"BitImageProcessor", "ConvNextImageProcessor"',
    ),
  );
  assert.throws(
    () => new ImageProcessorRegistry().fromConfig({}, "m/p.json"),
    processorError("m/p.json: no image processor is registered"),
  );
});

Deno.test(
  "AutoImageProcessor.fromPretrained() reads what savePretrained() wrote, and the bundled folder",
  async () => {
    const dir = await testTempDir();
    try {
      const saved = new ViTImageProcessor({ size: 48, image_mean: [0.1, 0.2, 0.3] });
      await saved.savePretrained(dir);
      const loaded = await AutoImageProcessor.fromPretrained(dir);
      assert.ok(loaded instanceof ViTImageProcessor);
      assert.deepEqual(loaded.config.image_mean, [0.1, 0.2, 0.3]);
      assert.deepEqual(loaded.outputSize, { height: 48, width: 48 });
      const bundled = await AutoImageProcessor.fromPretrained(
        new URL("../models/vit-tiny-contours", import.meta.url).pathname,
      );
      assert.ok(bundled instanceof ViTImageProcessor);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
