/**
 * PIL fidelity on real photographs: each JPEG and PNG variant is decoded and resized here and
 * compared with what PIL produced (tests/fixtures/gen_images.py). PNG decoding and every resize
 * from identical pixels must be bit-exact; JPEG decoding (jpeg-js, not libjpeg) must land within
 * 0.6 levels mean absolute difference and 3 levels at the 99th percentile, at 224 and 32 px.
 */
import assert from "node:assert/strict";
import { decodeImage, type RgbImage } from "./image.ts";
import { type Resample, resize } from "./resize.ts";

const DIR = new URL("../tests/fixtures/images/", import.meta.url);

interface Entry {
  file: string;
  pil_mode: string;
  decoded: string;
  resized: Record<string, string>;
}

async function load(name: string): Promise<RgbImage> {
  return decodeImage(await Deno.readFile(new URL(name, DIR)), { name });
}

function stats(a: RgbImage, b: RgbImage): { mean: number; p99: number; max: number } {
  assert.equal(a.width, b.width);
  assert.equal(a.height, b.height);
  const diffs = new Uint8Array(a.data.length);
  let total = 0;
  for (let i = 0; i < diffs.length; i++) {
    diffs[i] = Math.abs(a.data[i] - b.data[i]);
    total += diffs[i];
  }
  diffs.sort();
  return {
    mean: total / diffs.length,
    p99: diffs[Math.floor(diffs.length * 0.99)],
    max: diffs[diffs.length - 1],
  };
}

const manifest = JSON.parse(
  await Deno.readTextFile(new URL("manifest.json", DIR)),
) as Entry[];

Deno.test("decoding and resizing match PIL on every JPEG and PNG variant", async (t) => {
  for (const entry of manifest) {
    await t.step(entry.file, async () => {
      const decoded = await load(entry.file);
      const pilDecoded = await load(entry.decoded);
      const isJpeg = entry.file.endsWith(".jpg");
      const d = stats(decoded, pilDecoded);
      if (!isJpeg) assert.equal(d.max, 0, `PNG decode must be exact (max diff ${d.max})`);
      for (const [key, file] of Object.entries(entry.resized)) {
        const [filter, size] = key.split("_");
        const expected = await load(file);
        const mine = resize(decoded, Number(size), Number(size), filter as Resample);
        const s = stats(mine, expected);
        if (isJpeg) {
          console.log(`  ${key.padEnd(14)} mean ${s.mean.toFixed(3)} p99 ${s.p99} max ${s.max}`);
          assert.ok(s.mean <= 0.6, `${key}: mean |diff| ${s.mean.toFixed(3)} > 0.6`);
          assert.ok(s.p99 <= 3, `${key}: p99 |diff| ${s.p99} > 3`);
        } else {
          assert.equal(s.max, 0, `${key}: resize must be exact from exact pixels (max ${s.max})`);
        }
        // From PIL's own decoded pixels the resize is exact for JPEGs too.
        const fromPil = resize(pilDecoded, Number(size), Number(size), filter as Resample);
        assert.equal(stats(fromPil, expected).max, 0, `${key}: resize of PIL's pixels`);
      }
      console.log(
        `${entry.file.padEnd(34)} decode mean ${d.mean.toFixed(3)} p99 ${d.p99} max ${d.max}`,
      );
    });
  }
});
