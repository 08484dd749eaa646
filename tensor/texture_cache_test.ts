import assert from "node:assert/strict";
import { gpu } from "./device.ts";
import { allocatedSize, TextureCache } from "./texture_cache.ts";

Deno.test("textures are allocated with no width or height a power of two, and 1 or ≥ 2 layers", () => {
  assert.deepEqual(allocatedSize({ width: 4, height: 8, layers: 1 }), {
    width: 5,
    height: 9,
    layers: 1,
  });
  assert.deepEqual(allocatedSize({ width: 1, height: 2, layers: 3 }), {
    width: 3,
    height: 3,
    layers: 3,
  });
  assert.deepEqual(allocatedSize({ width: 48, height: 3152, layers: 48 }), {
    width: 48,
    height: 3152,
    layers: 48,
  });
  assert.deepEqual(allocatedSize({ width: 6, height: 35, layers: 2 }).layers, 2);
});

Deno.test("the texture cache hands out one texture per size and slot and counts its bytes", () => {
  const cache = new TextureCache(gpu().device);
  const size = { width: 6, height: 35, layers: 1 };
  const a = cache.get(size, 0);
  assert.equal(cache.get(size, 0), a, "the same size and slot is the same texture");
  assert.notEqual(cache.get(size, 1).texture, a.texture, "another slot is another texture");
  // 8 rows (a power of two) are allocated as 9, so this is the texture of 6 × 9.
  assert.equal(
    cache.get({ width: 6, height: 9, layers: 1 }, 0),
    cache.get({ ...size, height: 8 }, 0),
  );
  assert.equal(cache.bytes, 2 * 6 * 35 * 16 + 6 * 9 * 16);
  const limit = gpu().device.limits.maxTextureDimension2D;
  assert.equal(cache.fits({ width: limit, height: 1, layers: 1 }), (limit & (limit - 1)) !== 0);
  assert.equal(cache.fits({ width: limit + 1, height: 1, layers: 1 }), false);
  assert.throws(() => cache.get({ width: limit + 1, height: 1, layers: 1 }, 0), /exceeds/);
  cache.trim();
  assert.equal(cache.bytes, 0);
  assert.notEqual(cache.get(size, 0).texture, a.texture, "trim drops the textures");
  cache.trim();
});
