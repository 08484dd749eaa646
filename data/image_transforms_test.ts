/**
 * Transformers' size arithmetic, against tables that tests/fixtures/gen_processors.py computed
 * with Transformers' own formulas (get_resize_output_image_size with default_to_square False,
 * center_crop's offsets and padding), and the crop's pixels.
 */
import assert from "node:assert/strict";
import {
  centerCrop,
  centerCropBox,
  outputSizeOf,
  resizePlan,
  shortestEdgeSize,
} from "./image_transforms.ts";
import { ProcessorError } from "./pixels.ts";

const DIR = new URL("../tests/fixtures/images/", import.meta.url);
const fixture = JSON.parse(await Deno.readTextFile(new URL("processors.json", DIR))) as {
  shortest_edge: [number, number, number, [number, number]][];
  center_crop: [number, number, number, number, [number, number, number, number]][];
};

Deno.test("shortestEdgeSize() rounds as Transformers' get_resize_output_image_size", () => {
  assert.ok(fixture.shortest_edge.length >= 50);
  for (const [h, w, size, expected] of fixture.shortest_edge) {
    assert.deepEqual(shortestEdgeSize(h, w, size), expected, `${h}×${w} to ${size}`);
  }
});

Deno.test("centerCropBox() takes Transformers' center_crop offsets, padding included", () => {
  assert.ok(fixture.center_crop.length >= 30);
  for (const [h, w, ch, cw, [top, left, topPad, leftPad]] of fixture.center_crop) {
    assert.deepEqual(
      centerCropBox(h, w, ch, cw),
      { top, left, topPad, leftPad },
      `${h}×${w} cropped to ${ch}×${cw}`,
    );
  }
});

Deno.test("centerCrop() copies the window and pads with zeros where the image is smaller", () => {
  // 3 wide, 2 high, pixel value = 10·row + column + 1 on every channel.
  const img = { width: 3, height: 2, data: new Uint8Array(18) };
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) img.data.fill(10 * y + x + 1, (y * 3 + x) * 3, (y * 3 + x + 1) * 3);
  }
  const red = (im: { data: Uint8Array }) => [...im.data].filter((_, i) => i % 3 === 0);
  assert.deepEqual(red(centerCrop(img, 2, 1)), [2, 12]);
  // 4 high from 2: one zero row above (ceil(2 / 2)), one below; 1 wide: the middle column.
  assert.deepEqual(red(centerCrop(img, 4, 1)), [0, 2, 12, 0]);
  // 3 high, 5 wide: pads of ceil(1/2) = 1 row above and 1 column left.
  assert.deepEqual(red(centerCrop(img, 3, 5)), [
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    2,
    3,
    0,
    0,
    11,
    12,
    13,
    0,
  ]); // deno-fmt-ignore
});

const COMMON = {
  resample: 3,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
};

Deno.test("resizePlan(): ViT warps, Bit resizes then crops, ConvNeXt uses crop_pct", () => {
  const vit = { ...COMMON, do_resize: true, size: { height: 30, width: 20 } };
  assert.deepEqual(resizePlan(vit, 100, 300), { resize: [30, 20], crop: null });
  const bit = {
    ...COMMON,
    image_processor_type: "BitImageProcessor",
    do_resize: true,
    size: { shortest_edge: 256 },
    do_center_crop: true,
    crop_size: { height: 224, width: 224 },
  };
  assert.deepEqual(resizePlan(bit, 480, 640), { resize: [256, 341], crop: [224, 224] });
  const convnext = {
    ...COMMON,
    image_processor_type: "ConvNextImageProcessor",
    do_resize: true,
    size: { shortest_edge: 224 },
    crop_pct: 0.875,
  };
  // int(224 / 0.875) = 256 on the short side, then the center 224².
  assert.deepEqual(resizePlan(convnext, 480, 640), { resize: [256, 341], crop: [224, 224] });
  assert.deepEqual(
    resizePlan({ ...convnext, size: { shortest_edge: 384 } }, 480, 640),
    { resize: [384, 384], crop: null },
  );
  assert.deepEqual(outputSizeOf(convnext), { height: 224, width: 224 });
  assert.throws(
    () => outputSizeOf({ ...bit, do_center_crop: false }, "p.json"),
    (e) =>
      e instanceof ProcessorError && /^p\.json: gives images of different sizes/.test(e.message),
  );
});
