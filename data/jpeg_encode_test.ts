import assert from "node:assert/strict";
import jpeg from "jpeg-js";
import { encodeJpeg } from "./jpeg_encode.ts";
import { decodeJpeg } from "./jpeg.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { Rng } from "../tensor/core/rng.ts";
import type { RgbImage } from "./image.ts";

/** jpeg-js 0.4.4's encoder, the reference: it takes RGBA and may return a Node Buffer. */
function referenceJpeg(image: RgbImage, quality: number): Uint8Array {
  const rgba = new Uint8Array(image.width * image.height * 4).fill(255);
  for (let i = 0; i < image.width * image.height; i++) {
    rgba.set(image.data.subarray(3 * i, 3 * i + 3), 4 * i);
  }
  const out = jpeg.encode({ width: image.width, height: image.height, data: rgba }, quality).data;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function noise(width: number, height: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3).map(() => Math.floor(rng.next() * 256));
  return { width, height, data };
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `byte ${i}: ${a[i]} against ${b[i]}`;
  return `lengths ${a.length} against ${b.length}`;
}

Deno.test("encodeJpeg() writes jpeg-js's bytes for leaves, noise, flat and 1x1 images", () => {
  const cases: [string, RgbImage][] = [
    ["leaf 160", renderBeanLeaf(0, 11, 160)],
    ["leaf 96", renderBeanLeaf(1, 12, 96)],
    ["leaf 45 (partial blocks)", renderBeanLeaf(2, 13, 45)],
    ["noise 37x21 (large coefficients, 0xff bytes)", noise(37, 21, 1)],
    ["noise 8x8", noise(8, 8, 2)],
    ["1x1", { width: 1, height: 1, data: Uint8Array.of(200, 10, 90) }],
    ["flat 16x9", { width: 16, height: 9, data: new Uint8Array(16 * 9 * 3).fill(77) }],
    ["black 24x24", { width: 24, height: 24, data: new Uint8Array(24 * 24 * 3) }],
    ["white 24x24", { width: 24, height: 24, data: new Uint8Array(24 * 24 * 3).fill(255) }],
  ];
  let checked = 0;
  for (const [name, image] of cases) {
    for (const quality of [1, 10, 49.5, 50, 75, 85, 90, 100]) {
      const ours = encodeJpeg(image, quality);
      const reference = referenceJpeg(image, quality);
      assert.ok(
        ours.length === reference.length && ours.every((b, i) => b === reference[i]),
        `${name} at quality ${quality}: ${firstDifference(ours, reference)}`,
      );
      checked++;
    }
  }
  assert.equal(checked, 72);
});

Deno.test("encodeJpeg() reads quality 0 as 50 and clamps the rest, as jpeg-js does", () => {
  const image = renderBeanLeaf(1, 3, 24);
  assert.deepEqual(encodeJpeg(image, 0), referenceJpeg(image, 50));
  assert.deepEqual(encodeJpeg(image, 250), referenceJpeg(image, 100));
  assert.deepEqual(encodeJpeg(image, -3), referenceJpeg(image, 1));
});

Deno.test("encodeJpeg()'s file decodes to the image within JPEG's loss", () => {
  const image = renderBeanLeaf(0, 5, 64);
  const decoded = decodeJpeg(encodeJpeg(image, 95), "leaf.jpg", 1 << 20);
  assert.equal(decoded.width, 64);
  assert.equal(decoded.height, 64);
  let sum = 0;
  for (let i = 0; i < image.data.length; i++) sum += Math.abs(decoded.data[i] - image.data[i]);
  const mean = sum / image.data.length;
  assert.ok(mean < 3, `mean absolute error ${mean.toFixed(2)}`);
});
