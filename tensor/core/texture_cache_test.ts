import assert from "node:assert/strict";
import { gpu } from "../device.ts";
import {
  allocatedSize,
  LARGE_TEXTURE_BYTES,
  TextureCache,
  TEXTURES_PER_SIZE,
  texturesPerSize,
} from "./texture_cache.ts";
import { init } from "../runtime.ts";
import { engine } from "../engine.ts";
import { matmul } from "../ops.ts";
import { Tensor } from "../tensor.ts";
import { assertClose, rng, uniform } from "../_test_util.ts";

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
  "the texture cache keeps more than three textures of a size while they fit its growth allowance",
  () => {
    const device = gpu().device;
    const size = { width: 6, height: 35, layers: 1 };
    const bytes = 6 * 35 * 16;
    // Room for five textures of this size, then the least recently used is replaced.
    const cache = new TextureCache(device, { growBytes: 5 * bytes + bytes / 2 });
    const buffer = device.createBuffer({ size: 8192, usage: GPUBufferUsage.STORAGE });
    const content = (start: number) => ({ buffer, start, end: start + 1024, key: "k" });
    const taken = [0, 1, 2, 3, 4].map((i) => cache.take(size, content(1024 * i)));
    assert.equal(new Set(taken.map((t) => t.texture)).size, 5);
    assert.equal(cache.bytes, 5 * bytes);
    for (const [i, t] of taken.entries()) assert.equal(cache.find(size, content(1024 * i)), t);
    assert.equal(cache.take(size, content(5 * 1024)), taken[0], "past the allowance: LRU replaced");
    assert.equal(cache.find(size, content(0)), null);
    assert.equal(cache.bytes, 5 * bytes);
    // Below three per size, the allowance does not apply.
    const small = new TextureCache(device, { growBytes: bytes });
    const three = [0, 1, 2, 3].map((i) => small.take(size, content(1024 * i)));
    assert.equal(new Set(three.map((t) => t.texture)).size, TEXTURES_PER_SIZE);
    cache.trim();
    small.trim();
    buffer.destroy();
  },
);

Deno.test("the texture cache keeps only two textures of a large size, never the other operand", () => {
  const device = gpu().device;
  const cache = new TextureCache(device);
  const buffer = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
  // 769 texels × 3152 rows × 16 bytes: an MLP activation of ViT-B at batch 16.
  const size = { width: 769, height: 3152, layers: 1 };
  assert.ok(allocatedSize(size).width * 3152 * 16 >= LARGE_TEXTURE_BYTES);
  assert.equal(texturesPerSize(allocatedSize(size)), 2);
  assert.equal(texturesPerSize(allocatedSize({ width: 6, height: 35, layers: 1 })), 3);
  const content = (start: number) => ({ buffer, start, end: start + 1024, key: "k" });
  const a = cache.take(size, content(0));
  const b = cache.take(size, content(1024), a);
  assert.notEqual(a.texture, b.texture);
  assert.equal(cache.bytes, 2 * 769 * 3152 * 16);
  // A third operand replaces the least recently used one unless it is the matmul's other one.
  assert.equal(cache.take(size, content(2048), a), b);
  assert.equal(cache.take(size, content(3072)), a);
  assert.equal(cache.bytes, 2 * 769 * 3152 * 16, "no third texture");
  cache.trim();
  buffer.destroy();
});

Deno.test(
  "over its budget the texture cache destroys the least recently used textures, after a flush",
  () => {
    const device = gpu().device;
    let flushes = 0;
    const size = (height: number) => ({ width: 5, height, layers: 1 });
    const bytes = (height: number) => 5 * height * 16;
    const cache = new TextureCache(device, {
      budgetBytes: bytes(9) + bytes(11) + bytes(13),
      beforeDestroy: () => flushes++,
    });
    const buffer = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
    const content = (start: number) => ({ buffer, start, end: start + 16, key: "k" });
    const a = cache.take(size(9), content(0));
    cache.take(size(11), content(16));
    const c = cache.take(size(13), content(32));
    assert.equal(cache.find(size(9), content(0)), a, "a used again: b is now the oldest");
    assert.equal(cache.bytes, bytes(9) + bytes(11) + bytes(13));
    assert.equal(flushes, 0, "within the budget");
    // A fourth size: the least recently used (b) goes, after one flush.
    const d = cache.take(size(7), content(48), c);
    assert.equal(flushes, 1);
    assert.equal(cache.evicted, 1);
    assert.equal(cache.find(size(11), content(16)), null, "b destroyed");
    assert.equal(cache.find(size(9), content(0)), a);
    assert.equal(cache.bytes, bytes(9) + bytes(13) + bytes(7));
    // A big one needs all the room; `except` (the matmul's other operand) stays.
    cache.take(size(30), content(64), d);
    assert.equal(cache.find(size(7), content(48)), d, "the other operand is kept");
    assert.equal(cache.find(size(9), content(0)), null);
    assert.equal(cache.find(size(13), content(32)), null);
    assert.equal(cache.bytes, bytes(7) + bytes(30), "over budget only by what it must keep");
    assert.equal(cache.peakBytes, bytes(7) + bytes(30));
    cache.resetPeak();
    assert.equal(cache.peakBytes, cache.bytes);
    cache.trim();
    buffer.destroy();
  },
);

Deno.test("matmuls in one command stream give the same bits while a small texture budget evicts", async () => {
  const random = rng(5);
  const dims = [64, 96, 80, 112, 48, 128, 72];
  const mats = dims.slice(1).map((n, i) => uniform(random, dims[i] * n));
  const x = uniform(random, 40 * dims[0]);
  // x · W1 · W2 · … recorded without a sync between the products.
  const chain = async () => {
    let t = Tensor.from(x, [40, dims[0]]);
    for (const [i, w] of mats.entries()) t = matmul(t, Tensor.from(w, [dims[i], dims[i + 1]]));
    return await t.toArray();
  };
  const plain = await chain();
  const e = engine() as unknown as { textures: TextureCache };
  const saved = e.textures;
  // Room for about two operands: every new size destroys older textures, with work pending.
  const small = new TextureCache(gpu().device, {
    singleLayer: gpu().profile.singleLayerTextures,
    budgetBytes: 96 * 1024,
    beforeDestroy: () => engine().flush(),
  });
  e.textures = small;
  let evicting: Float32Array;
  try {
    evicting = await chain();
  } finally {
    small.trim();
    e.textures = saved;
  }
  assert.deepEqual(evicting, plain, "the same products, bit for bit");
  // And right: against f64 on the host, within the matmul's precision on this adapter.
  let ref = Float64Array.from(x);
  for (const [i, w] of mats.entries()) {
    const [k, n] = [dims[i], dims[i + 1]];
    const next = new Float64Array(40 * n);
    for (let r = 0; r < 40; r++) {
      for (let c = 0; c < n; c++) {
        let acc = 0;
        for (let j = 0; j < k; j++) acc += ref[r * k + j] * w[j * n + c];
        next[r * n + c] = acc;
      }
    }
    ref = next;
  }
  assertClose(evicting, ref, { atol: 1e-2, rtol: 1e-2 }, "chained product");
  if (small.peakBytes > 0) {
    // The texture path ran (a CPU adapter): it had to evict to stay near its budget.
    assert.ok(small.evicted > 0, "textures were evicted");
  }
});
