import assert from "node:assert/strict";
import { ClassLabel, Dataset, type ImageExample } from "./dataset.ts";
import { encodeJpeg } from "./jpeg.ts";
import { DataLoader } from "./loader.ts";
import { ViTImageProcessor } from "./processor.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { init } from "../tensor/runtime.ts";

await init();

/** Six in-memory JPEG rows; `break()` makes every image undecodable from then on. */
function dataset(): { ds: Dataset<ImageExample>; breakImages: () => void } {
  const rows: ImageExample[] = Array.from({ length: 6 }, (_, i) => ({
    image: { path: `leaf-${i}.jpg`, bytes: encodeJpeg(renderBeanLeaf(i % 3, i, 40)) },
    labels: i % 3,
  }));
  const ds = new Dataset(rows, new ClassLabel(["a", "b", "c"]));
  const breakImages = () => {
    for (const r of rows) r.image = { path: r.image.path, bytes: new Uint8Array([1, 2, 3]) };
  };
  return { ds, breakImages };
}

async function epoch(loader: DataLoader, e: number): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  const per = 3 * 16 * 16;
  for await (const batch of loader.batches(e)) {
    const values = await batch.pixelValues.toArray();
    batch.indices.forEach((index, j) => out.set(index, [...values.slice(j * per, (j + 1) * per)]));
    batch.pixelValues.dispose();
  }
  return out;
}

Deno.test("DataLoader with cacheBytes reuses prepared samples in later epochs", async () => {
  const { ds, breakImages } = dataset();
  const config = new ViTImageProcessor({ size: 16 }).config;
  const loader = new DataLoader(ds, config, {
    batchSize: 4,
    shuffle: true,
    numWorkers: 0,
    cacheBytes: 2 ** 20,
  });
  const first = await epoch(loader, 0);
  assert.equal(first.size, 6);
  // Decoding again would now fail: the second epoch must come from the cache, unchanged.
  breakImages();
  const second = await epoch(loader, 1);
  assert.deepEqual(second, first);
});

Deno.test("DataLoader decodes anew without cacheBytes, and with augmentation", async () => {
  const config = new ViTImageProcessor({ size: 16 }).config;
  for (const options of [{}, { cacheBytes: 2 ** 20, augment: {} }]) {
    const { ds, breakImages } = dataset();
    const skipped: string[] = [];
    const loader = new DataLoader(ds, config, {
      batchSize: 4,
      numWorkers: 0,
      log: (m) => skipped.push(m),
      ...options,
    });
    assert.equal((await epoch(loader, 0)).size, 6);
    breakImages();
    assert.equal((await epoch(loader, 1)).size, 0);
    assert.equal(skipped.length, 2, "both batches' images were decoded again and skipped");
  }
});

Deno.test("DataLoader keeps no more than cacheBytes of samples", async () => {
  const { ds, breakImages } = dataset();
  const config = new ViTImageProcessor({ size: 16 }).config;
  // Room for two samples of 3×16×16 floats.
  const loader = new DataLoader(ds, config, {
    batchSize: 6,
    numWorkers: 0,
    cacheBytes: 2 * 3 * 16 * 16 * 4,
    log: () => {},
  });
  await epoch(loader, 0);
  breakImages();
  assert.equal((await epoch(loader, 1)).size, 2);
});
