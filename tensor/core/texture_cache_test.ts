import assert from "node:assert/strict";
import { gpu } from "../device.ts";
import { allocatedSize, TextureCache, TEXTURES_PER_SIZE } from "./texture_cache.ts";
import { init } from "../runtime.ts";

await init();

Deno.test(
  "textures are allocated with no width or height a power of two, and 1 or ≥ 2 layers",
  () => {
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
    // Where one-layer textures cannot be read as arrays (wgpu's GL backend): two layers or more,
    // and never square (a square array of six layers would be a cube map there).
    assert.deepEqual(allocatedSize({ width: 4, height: 8, layers: 1 }, false), {
      width: 5,
      height: 9,
      layers: 2,
    });
    assert.deepEqual(allocatedSize({ width: 7, height: 7, layers: 6 }, false), {
      width: 7,
      height: 9,
      layers: 6,
    });
    assert.deepEqual(allocatedSize({ width: 6, height: 35, layers: 2 }).layers, 2);
  },
);

Deno.test(
  "the texture cache keeps a few textures per size, finds what they hold, and forgets writes",
  () => {
    const device = gpu().device;
    const cache = new TextureCache(device);
    const buffer = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
    const other = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
    const size = { width: 6, height: 35, layers: 1 };
    const content = (start: number, key = "k") => ({ buffer, start, end: start + 1024, key });
    const taken = [0, 1024, 2048].map((start) => cache.take(size, content(start)));
    assert.equal(new Set(taken.map((t) => t.texture)).size, TEXTURES_PER_SIZE);
    assert.equal(cache.find(size, content(1024)), taken[1]);
    assert.equal(cache.find(size, content(1024, "other layout")), null);
    assert.equal(cache.find({ ...size, height: 36 }, content(1024)), null, "another size");
    // Full: the least recently used (taken[0]) is replaced, unless it is the other operand.
    assert.equal(cache.take(size, content(3072), taken[0]), taken[2]);
    assert.equal(cache.find(size, content(2048)), null, "replaced");
    assert.equal(cache.take(size, content(2048)), taken[0]);
    // Writes drop what was packed from the region they touch, and only that.
    cache.invalidate(other, 0, 4096);
    cache.invalidate(buffer, 2048 + 1024, 3072);
    assert.equal(cache.find(size, content(1024)), taken[1], "outside the written range");
    cache.invalidate(buffer, 2047, 2048 + 1);
    assert.equal(cache.find(size, content(1024)), null, "its last byte was written");
    assert.equal(cache.find(size, content(2048)), null, "its first byte was written");
    // An emptied texture is taken before the least recently used one (taken[2]).
    assert.equal(cache.take(size, content(4096), taken[0]), taken[1]);
    assert.equal(cache.bytes, TEXTURES_PER_SIZE * 6 * 35 * 16);
    // 8 rows (a power of two) are allocated as 9: one size.
    const nine = cache.take({ width: 6, height: 9, layers: 1 }, content(0));
    assert.equal(cache.find({ width: 6, height: 8, layers: 1 }, content(0)), nine);
    const limit = device.limits.maxTextureDimension2D;
    assert.equal(cache.fits({ width: limit, height: 1, layers: 1 }), (limit & (limit - 1)) !== 0);
    assert.equal(cache.fits({ width: limit + 1, height: 1, layers: 1 }), false);
    assert.throws(
      () => cache.take({ width: limit + 1, height: 1, layers: 1 }, content(0)),
      /exceeds/,
    );
    cache.trim();
    assert.equal(cache.bytes, 0);
    assert.equal(
      cache.find({ width: 6, height: 9, layers: 1 }, content(0)),
      null,
      "trim drops all",
    );
    buffer.destroy();
    other.destroy();
  },
);

Deno.test(
  "the texture cache keeps more than three textures of a size while they fit its byte budget",
  () => {
    const device = gpu().device;
    const size = { width: 6, height: 35, layers: 1 };
    const bytes = 6 * 35 * 16;
    // Room for five textures of this size, then the least recently used is replaced.
    const cache = new TextureCache(device, { budgetBytes: 5 * bytes + bytes / 2 });
    const buffer = device.createBuffer({ size: 8192, usage: GPUBufferUsage.STORAGE });
    const content = (start: number) => ({ buffer, start, end: start + 1024, key: "k" });
    const taken = [0, 1, 2, 3, 4].map((i) => cache.take(size, content(1024 * i)));
    assert.equal(new Set(taken.map((t) => t.texture)).size, 5);
    assert.equal(cache.bytes, 5 * bytes);
    for (const [i, t] of taken.entries()) assert.equal(cache.find(size, content(1024 * i)), t);
    assert.equal(cache.take(size, content(5 * 1024)), taken[0], "over budget: LRU replaced");
    assert.equal(cache.find(size, content(0)), null);
    assert.equal(cache.bytes, 5 * bytes);
    // Below three per size, the budget does not apply.
    const small = new TextureCache(device, { budgetBytes: bytes });
    const three = [0, 1, 2, 3].map((i) => small.take(size, content(1024 * i)));
    assert.equal(new Set(three.map((t) => t.texture)).size, TEXTURES_PER_SIZE);
    cache.trim();
    small.trim();
    buffer.destroy();
  },
);
