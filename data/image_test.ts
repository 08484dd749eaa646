import assert from "node:assert/strict";
import { decodeImage, ImageDecodeError, MAX_IMAGE_PIXELS } from "./image.ts";
import { encodeJpeg } from "./jpeg.ts";
import { encodePng } from "./png.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { ViTImageProcessor } from "./processor.ts";
import { testTempDir } from "../io/_test_util.ts";
import { init } from "../tensor/runtime.ts";

await init();

function pngClaiming(width: number, height: number): Uint8Array {
  const png = encodePng({ width: 1, height: 1, data: new Uint8Array(3) });
  const view = new DataView(png.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return png;
}

function jpegClaiming(width: number, height: number): Uint8Array {
  const jpg = encodeJpeg({ width: 8, height: 8, data: new Uint8Array(192) });
  for (let i = 2; i < jpg.length - 9; i++) {
    if (jpg[i] === 0xff && jpg[i + 1] === 0xc0) {
      jpg[i + 5] = height >> 8;
      jpg[i + 6] = height & 255;
      jpg[i + 7] = width >> 8;
      jpg[i + 8] = width & 255;
      return jpg;
    }
  }
  throw new Error("no SOF0");
}

Deno.test(
  "decodeImage() refuses decompression bombs before decoding, with a configurable limit",
  () => {
    for (const bytes of [pngClaiming(20000, 20000), jpegClaiming(60000, 60000)]) {
      assert.throws(
        () => decodeImage(bytes, { name: "bomb" }),
        (e: unknown) =>
          e instanceof ImageDecodeError && /exceeds the limit of 89478485/.test(e.message) &&
          e.message.startsWith("bomb: "),
      );
    }
    const small = encodePng(renderBeanLeaf(0, 1, 20));
    assert.throws(() => decodeImage(small, { maxPixels: 100 }), /exceeds the limit of 100/);
    assert.equal(decodeImage(small).width, 20);
    assert.equal(MAX_IMAGE_PIXELS, 89_478_485);
  },
);

Deno.test("decodeImage() names the problem of empty, truncated, corrupt and foreign files", () => {
  const jpg = encodeJpeg(renderBeanLeaf(1, 2, 40));
  const png = encodePng(renderBeanLeaf(1, 2, 40));
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(), /x: empty file/],
    [new TextEncoder().encode("GIF89a..."), /not a JPEG or PNG/],
    [jpg.subarray(0, jpg.length - 200), /truncated JPEG/],
    [jpg.subarray(0, 30), /truncated JPEG/],
    [png.subarray(0, png.length - 40), /truncated PNG|corrupt PNG/],
    [png.subarray(0, 20), /truncated PNG/],
    [png.map((b, i) => (i > 40 && i < 60 ? b ^ 0x55 : b)), /corrupt PNG|truncated PNG/],
  ];
  for (const [bytes, pattern] of cases) {
    assert.throws(() => decodeImage(bytes, { name: "x" }), (e: unknown) => {
      assert.ok(e instanceof ImageDecodeError, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test(
  "ViTImageProcessor reads and writes preprocessor_config.json with HF's fields",
  async () => {
    const dir = await testTempDir();
    await Deno.writeTextFile(
      `${dir}/preprocessor_config.json`,
      JSON.stringify({
        do_normalize: true,
        do_resize: true,
        feature_extractor_type: "ViTFeatureExtractor",
        image_mean: [0.5, 0.5, 0.5],
        image_std: [0.5, 0.5, 0.5],
        resample: 2,
        size: 224,
      }),
    );
    const p = await ViTImageProcessor.fromPretrained(dir);
    assert.deepEqual(p.config.size, { height: 224, width: 224 });
    assert.equal(p.resampleFilter, "bilinear");
    await p.savePretrained(`${dir}/out`);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/out/preprocessor_config.json`));
    assert.deepEqual(saved.size, { height: 224, width: 224 });
    assert.equal(saved.image_processor_type, "ViTImageProcessor");
    assert.equal(saved.feature_extractor_type, "ViTFeatureExtractor", "unknown fields are kept");
    await Deno.writeTextFile(`${dir}/preprocessor_config.json`, '{"resample": 7}');
    await assert.rejects(
      () => ViTImageProcessor.fromPretrained(dir),
      /preprocessor_config\.json: resample 7 is not supported/,
    );
    await Deno.writeTextFile(`${dir}/preprocessor_config.json`, "{not json");
    await assert.rejects(
      () => ViTImageProcessor.fromPretrained(dir),
      /preprocessor_config\.json: invalid JSON/,
    );
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "preprocess() matches the blog's arithmetic and refuses a wrong size when resizing is off",
  async () => {
    const p = new ViTImageProcessor({ size: 2 });
    const img = {
      width: 2,
      height: 2,
      data: new Uint8Array([0, 255, 51, 0, 255, 51, 0, 255, 51, 0, 255, 51]),
    };
    const { pixelValues } = await p.preprocess([img]);
    const v = await pixelValues.toArray();
    assert.deepEqual(pixelValues.shape, [1, 3, 2, 2]);
    assert.deepEqual([...v.subarray(0, 4)], [-1, -1, -1, -1]);
    assert.deepEqual([...v.subarray(4, 8)], [1, 1, 1, 1]);
    assert.ok(Math.abs(v[8] - -0.6) < 1e-6);
    const strict = new ViTImageProcessor({ size: 4, do_resize: false });
    assert.throws(
      () => strict.processToArray(img, "leaf.jpg"),
      /leaf\.jpg: image is 2×2 but resizing is off/,
    );
  },
);
