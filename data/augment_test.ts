import assert from "node:assert/strict";
import { augment, crop, flipHorizontal, randomResizedCropBox, sampleSeed } from "./augment.ts";
import type { RgbImage } from "./image.ts";
import { Rng } from "../tensor/rng.ts";

/** A w × h image whose pixel (x, y) is (x, y, x + y). */
function ramp(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set([x, y, x + y], (y * w + x) * 3);
  }
  return { width: w, height: h, data };
}

const pixel = (
  img: RgbImage,
  x: number,
  y: number,
) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

Deno.test("crop() copies the rectangle and flipHorizontal() mirrors columns", () => {
  const img = ramp(5, 4);
  const c = crop(img, 1, 2, 3, 2);
  assert.deepEqual([c.width, c.height], [3, 2]);
  assert.deepEqual(pixel(c, 0, 0), [1, 2, 3]);
  assert.deepEqual(pixel(c, 2, 1), [3, 3, 6]);
  const f = flipHorizontal(img);
  assert.deepEqual(pixel(f, 0, 3), [4, 3, 7]);
  assert.deepEqual(pixel(f, 4, 0), [0, 0, 0]);
  assert.deepEqual(flipHorizontal(f).data, img.data);
});

Deno.test(
  "randomResizedCropBox() stays inside the image with torchvision's area and aspect ranges",
  () => {
    const rng = new Rng(3);
    const areas: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const { left, top, w, h } = randomResizedCropBox(224, 160, rng);
      assert.ok(left >= 0 && top >= 0 && left + w <= 224 && top + h <= 160, `box ${i} inside`);
      // Rounding w and h to integers moves area and aspect by at most about 1/side.
      const area = (w * h) / (224 * 160);
      assert.ok(area >= 0.08 * (1 - 2 / Math.min(w, h)) - 1e-9 && area <= 1, `area ${area}`);
      const aspect = w / h;
      const slack = 1 + 1 / Math.min(w, h);
      assert.ok(aspect >= (3 / 4) / slack && aspect <= (4 / 3) * slack, `aspect ${aspect}`);
      areas.push(area);
    }
    // Area uniform on [0.08, 1] among accepted draws (large ones get rejected more): mean below
    // 0.54 and well above 0.08.
    const mean = areas.reduce((a, b) => a + b) / areas.length;
    assert.ok(mean > 0.3 && mean < 0.54, `mean area ${mean}`);
  },
);

Deno.test(
  "randomResizedCropBox() falls back to torchvision's centre crop when ten draws miss",
  () => {
    // 100 × 10 at aspect at most 4/3 can never hold 90 % of the area.
    assert.deepEqual(randomResizedCropBox(100, 10, new Rng(1), [0.9, 1]), {
      left: 43,
      top: 0,
      w: 13,
      h: 10,
    });
    assert.deepEqual(randomResizedCropBox(10, 100, new Rng(1), [0.9, 1]), {
      left: 0,
      top: 43,
      w: 10,
      h: 13,
    });
  },
);

Deno.test(
  "augment() is a function of its seed, flips with the asked probability, and can do nothing",
  () => {
    const img = ramp(40, 30);
    const options = { flipProbability: 0.5 };
    assert.deepEqual(augment(img, 11, options), augment(img, 11, options));
    assert.deepEqual(augment(img, 11, { randomResizedCrop: false, flipProbability: 0 }), img);
    assert.deepEqual(
      augment(img, 11, { randomResizedCrop: false, flipProbability: 1 }).data,
      flipHorizontal(img).data,
    );
    let flips = 0;
    for (let s = 0; s < 400; s++) {
      const out = augment(img, sampleSeed(5, 0, s), {
        randomResizedCrop: false,
        flipProbability: 0.3,
      });
      if (out.data[0] === 39) flips++;
    }
    // Binomial(400, 0.3): 120 ± 9.2 per standard deviation.
    assert.ok(Math.abs(flips - 120) < 46, `${flips} flips of 400`);
  },
);

Deno.test("sampleSeed() differs across epochs and samples of a run", () => {
  const seeds = new Set<number>();
  for (let epoch = 0; epoch < 5; epoch++) {
    for (let i = 0; i < 200; i++) seeds.add(sampleSeed(42, epoch, i));
  }
  assert.equal(seeds.size, 1000);
});

// With seed ^ epoch first, run 1's epoch 3 replayed run 2's epoch 0 (1 ^ 3 = 2 ^ 0).
Deno.test("sampleSeed() differs across runs", () => {
  const seeds = new Set<number>();
  for (const run of [1, 2]) {
    for (let epoch = 0; epoch < 5; epoch++) {
      for (let i = 0; i < 100; i++) seeds.add(sampleSeed(run, epoch, i));
    }
  }
  assert.equal(seeds.size, 1000);
});
