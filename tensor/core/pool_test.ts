import assert from "node:assert/strict";
import { gpu } from "../device.ts";
import { bucketSize, BufferPool, FINE_BUCKETS_FROM } from "./pool.ts";
import { init } from "../runtime.ts";

await init();

Deno.test("bucketSize() rounds large requests up by at most a sixteenth", () => {
  let previous = 0;
  for (let bytes = FINE_BUCKETS_FROM - 4096; bytes < 2 ** 28; bytes = Math.ceil(bytes * 1.013)) {
    const bucket = bucketSize(bytes);
    assert.ok(bucket >= bytes, `${bytes} → ${bucket}`);
    if (bytes >= FINE_BUCKETS_FROM) assert.ok(bucket - bytes <= bytes / 16, `${bytes} → ${bucket}`);
    assert.ok(bucket >= previous, "buckets grow with the request");
    previous = bucket;
  }
  // ViT-B's weights land on a class exactly (they took a third more before); its activations
  // at batch 16 within 3 %.
  assert.equal(bucketSize(768 * 768 * 4), 768 * 768 * 4);
  assert.equal(bucketSize(768 * 3072 * 4), 768 * 3072 * 4);
  const tokens = 16 * 197 * 768 * 4;
  assert.ok(bucketSize(tokens) <= tokens * 1.03);
  assert.ok(bucketSize(tokens * 4) <= tokens * 4 * 1.03);
  // Below the fine classes nothing changes: powers of two and three quarters of them.
  assert.equal(bucketSize(3000), 3072);
  assert.equal(bucketSize(FINE_BUCKETS_FROM - 1), FINE_BUCKETS_FROM);
  assert.equal(bucketSize(FINE_BUCKETS_FROM + 1), FINE_BUCKETS_FROM + FINE_BUCKETS_FROM / 16);
});

Deno.test("a pool reuses a freed large buffer for a request of the same class", () => {
  const pool = new BufferPool(gpu().device, GPUBufferUsage.STORAGE);
  const a = pool.acquire(9_682_944);
  assert.equal(pool.stats.bytesInUse, bucketSize(9_682_944));
  pool.release(a);
  const b = pool.acquire(9_682_944 - 1000);
  assert.equal(b, a, "same class, same buffer");
  const c = pool.acquire(2 * 9_682_944);
  assert.notEqual(c, a);
  assert.equal(pool.stats.created, 2);
  assert.equal(pool.stats.peakBytesInUse, bucketSize(9_682_944) + bucketSize(2 * 9_682_944));
  pool.release(b);
  pool.release(c);
  pool.trim();
  assert.equal(pool.stats.bytes, 0);
});
