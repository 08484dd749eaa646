/**
 * Scratch textures for matmul operands on CPU adapters. Mesa's lavapipe fetches a texel for
 * each of its SIMD lanes with one branch-free gather, where a storage-buffer load runs a loop
 * over the lanes with a bounds check per lane; so the CPU matmul first packs each operand into
 * an rgba32float texture array and then reads only textures (see `kernels/matmul.ts`).
 *
 * A texture is written by one command and read by those after it in the same command stream,
 * in order, so a few textures per size serve every matmul; each remembers which operand it
 * holds, so that an operand read by several matmuls is packed once.
 *
 * llvmpipe compiles a shader again for each combination of its textures' "static state", which
 * includes whether each dimension is a power of two and whether an array has one layer, and a
 * big-tile matmul takes seconds to compile for each new combination. So textures are allocated
 * with no width or height a power of two, one padding row or texel more where needed, and every
 * operand meets one of two shader variants:
 * single-layer (unbatched) or array. Arrays have at least two layers. Single-layer textures
 * are kept because kernels reading them ran faster, except where the adapter cannot read a
 * one-layer texture through an array view (wgpu's GL backend: `singleLayerTextures` in the
 * adapter profile); there every texture has two layers or more and is never square.
 *
 * @module
 */

/** Texture dimensions: texels across (four floats each), rows, and array layers. */
export interface TextureSize {
  /** Texels per row. */
  width: number;
  /** Rows per layer. */
  height: number;
  /** Array layers. */
  layers: number;
}

/** The smallest size of at least `n` that is not a power of two (3 for 1 and 2). */
function notPowerOfTwo(n: number): number {
  if (n <= 2) return 3;
  return (n & (n - 1)) === 0 ? n + 1 : n;
}

/**
 * The size a texture for `size` is allocated with: no width or height a power of two, and one
 * layer or at least two (see the module's notes).
 *
 * @param size The size needed.
 * @param singleLayer Whether the adapter reads one-layer textures through array views; when
 *   not, every texture gets two layers or more and a height other than its width.
 * @returns The size allocated, at least `size` in every dimension.
 * @example
 * ```ts
 * import { allocatedSize } from "./texture_cache.ts";
 * const size = allocatedSize({ width: 4, height: 8, layers: 1 });
 * console.log(size); // { width: 5, height: 9, layers: 1 }
 * ```
 */
export function allocatedSize(size: TextureSize, singleLayer = true): TextureSize {
  const width = notPowerOfTwo(size.width);
  let height = notPowerOfTwo(size.height);
  if (!singleLayer && height === width) height = notPowerOfTwo(height + 1);
  const layers = size.layers === 1 && singleLayer ? 1 : Math.max(2, size.layers);
  return { width, height, layers };
}

/** How many textures of one size the cache keeps: two operands of one matmul, and one more. */
export const TEXTURES_PER_SIZE = 3;

/**
 * From this many bytes on, a size keeps only two textures (the two operands of one matmul):
 * the third of a large size (an MLP activation, attention scores) costs tens of megabytes,
 * where packing the operand again costs a copy next to a matmul many times its time.
 */
export const LARGE_TEXTURE_BYTES = 8 * 2 ** 20;

/**
 * The bytes the engine's cache may hold before it destroys the least recently used textures of
 * other sizes to make room: a ViT-B step at batch 16 packs operands of a dozen sizes of tens
 * of megabytes each, which kept together would cost a quarter gigabyte beside the buffers.
 */
export const TEXTURE_BUDGET_BYTES = 96 * 2 ** 20;

/**
 * The engine's growth allowance: below it a size may hold more than {@link texturesPerSize}
 * textures, so a small model's step finds the operands its forward packed (a Linear's input)
 * again in its weight-gradient products instead of packing them twice; a large model's
 * textures pass it at once and stay at the per-size count.
 */
export const TEXTURE_GROWTH_BYTES = 64 * 2 ** 20;

/**
 * How many textures of a size the cache keeps: {@link TEXTURES_PER_SIZE}, or two from
 * {@link LARGE_TEXTURE_BYTES} on.
 *
 * @param size The size allocated ({@link allocatedSize}).
 * @returns The number of textures kept for that size.
 * @example
 * ```ts
 * import { texturesPerSize } from "./texture_cache.ts";
 * console.log(texturesPerSize({ width: 17, height: 9, layers: 1 })); // 3
 * console.log(texturesPerSize({ width: 769, height: 3152, layers: 1 })); // 2
 * ```
 */
export function texturesPerSize(size: TextureSize): number {
  return size.width * size.height * size.layers * 16 >= LARGE_TEXTURE_BYTES ? 2 : TEXTURES_PER_SIZE;
}

/** What a texture holds: an operand packed from bytes `start` to `end` of `buffer`. */
export interface TextureContent {
  /** The buffer packed from. */
  buffer: GPUBuffer;
  /** First byte of the region read. */
  start: number;
  /** One past the last byte of the region read. */
  end: number;
  /** Everything else that decides the texels (layout, strides, rounding). */
  key: string;
}

/** A cached texture and its 2-D array view. */
export interface CachedTexture {
  /** The texture, for copies into it. */
  texture: GPUTexture;
  /** Its 2-D array view, for bindings. */
  view: GPUTextureView;
  /** What it holds, until the region it was packed from is written; null when unknown. */
  content: TextureContent | null;
  /** When it was last handed out, for least-recently-used replacement. */
  lastUse: number;
}

/**
 * Persistent rgba32float 2-D texture arrays, up to {@link texturesPerSize} per size, created
 * on first use. Each remembers what it holds, so that an operand packed once serves every
 * matmul that reads it until its source region is written ({@link TextureCache.invalidate}):
 * a layer's input feeds three projections, and a Linear's output gradient is read by both its
 * input- and weight-gradient products.
 *
 * @example
 * ```ts
 * import { gpu } from "../device.ts";
 * import { TextureCache } from "./texture_cache.ts";
 * const cache = new TextureCache(gpu().device);
 * const buffer = gpu().device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE });
 * const content = { buffer, start: 0, end: 1024, key: "rows" };
 * const size = { width: 16, height: 8, layers: 1 };
 * const packed = cache.take(size, content);
 * console.log(cache.find(size, content) === packed); // true
 * cache.invalidate(buffer, 512, 516);
 * console.log(cache.find(size, content)); // null
 * // Allocated as 17 × 9 texels.
 * console.log(cache.bytes); // 2448
 * cache.trim();
 * ```
 */
export class TextureCache {
  readonly #device: GPUDevice;
  readonly #textures = new Map<string, CachedTexture[]>();
  #clock = 0;
  #filled = 0;
  /** Bytes held by the cached textures. */
  bytes = 0;
  /** The most bytes held at once since the last {@link TextureCache.resetPeak}. */
  peakBytes = 0;
  /** Textures destroyed to stay within the budget. */
  evicted = 0;
  readonly #singleLayer: boolean;
  readonly #budget: number;
  readonly #growth: number;
  readonly #bytes = new WeakMap<GPUTexture, number>();
  readonly #beforeDestroy: () => void;

  /**
   * Creates an empty cache on a device.
   *
   * @param device The device to create textures on.
   * @param options `singleLayer`: the adapter reads one-layer textures through array views
   *   (see {@link allocatedSize}). `budgetBytes`: above it, creating a texture first destroys
   *   the least recently used textures (never the operand passed as `except`); unlimited by
   *   default. `growBytes`: a size may hold more than {@link texturesPerSize} textures while all
   *   textures together stay within it (0 by default). `beforeDestroy`: called before such a texture is destroyed, to submit the
   *   recorded commands that read it (the engine's flush).
   */
  constructor(
    device: GPUDevice,
    options: {
      singleLayer?: boolean;
      budgetBytes?: number;
      growBytes?: number;
      beforeDestroy?: () => void;
    } = {},
  ) {
    this.#device = device;
    this.#singleLayer = options.singleLayer ?? true;
    this.#budget = options.budgetBytes ?? Infinity;
    this.#growth = options.growBytes ?? 0;
    this.#beforeDestroy = options.beforeDestroy ?? (() => {});
  }

  /** Starts a new peak measurement from the bytes held now. */
  resetPeak(): void {
    this.peakBytes = this.bytes;
  }

  /**
   * Destroys least recently used textures, never `except`, until `bytes` more fit the budget
   * or nothing else is left to destroy.
   */
  #makeRoom(bytes: number, except?: CachedTexture): void {
    let flushed = false;
    while (this.bytes + bytes > this.#budget) {
      let victim: { list: CachedTexture[]; entry: CachedTexture } | null = null;
      for (const list of this.#textures.values()) {
        for (const entry of list) {
          if (entry !== except && (!victim || entry.lastUse < victim.entry.lastUse)) {
            victim = { list, entry };
          }
        }
      }
      if (!victim) return;
      // Commands recorded but not submitted may still read it: submit them first.
      if (!flushed) this.#beforeDestroy();
      flushed = true;
      victim.list.splice(victim.list.indexOf(victim.entry), 1);
      if (victim.entry.content) this.#filled--;
      victim.entry.texture.destroy();
      this.bytes -= this.#bytes.get(victim.entry.texture) ?? 0;
      this.evicted++;
    }
  }

  /** Whether the device can create a texture for this size (padded as {@link allocatedSize}). */
  fits(needed: TextureSize): boolean {
    const limits = this.#device.limits;
    const size = allocatedSize(needed, this.#singleLayer);
    return size.width >= 1 && size.height >= 1 && size.layers >= 1 &&
      size.width <= limits.maxTextureDimension2D && size.height <= limits.maxTextureDimension2D &&
      size.layers <= limits.maxTextureArrayLayers;
  }

  #list(needed: TextureSize): CachedTexture[] {
    const size = allocatedSize(needed, this.#singleLayer);
    const key = `${size.width}x${size.height}x${size.layers}`;
    let list = this.#textures.get(key);
    if (!list) this.#textures.set(key, list = []);
    return list;
  }

  /**
   * The texture of `needed`'s size that holds `content` (same buffer, region and key), if any.
   *
   * @param needed The dimensions needed.
   * @param content What it must hold.
   * @returns The texture, or null.
   */
  find(needed: TextureSize, content: TextureContent): CachedTexture | null {
    for (const t of this.#list(needed)) {
      const c = t.content;
      if (
        c && c.buffer === content.buffer && c.start === content.start && c.end === content.end &&
        c.key === content.key
      ) {
        t.lastUse = ++this.#clock;
        return t;
      }
    }
    return null;
  }

  /**
   * A texture for `needed` to pack `content` into, recorded as holding it: one that holds
   * nothing, else a new one while the size has fewer than {@link texturesPerSize} (or while
   * the growth allowance holds it), else the least recently used; never `except` (the other operand of the same matmul).
   *
   * @param needed The dimensions needed; the texture may be larger ({@link allocatedSize}).
   * @param content What the caller is about to pack into it.
   * @param except A texture that must not be reused.
   * @returns The texture and a view usable both as a sampled and as a storage texture.
   */
  take(needed: TextureSize, content: TextureContent, except?: CachedTexture): CachedTexture {
    const list = this.#list(needed);
    // One that holds nothing, else a new one while there is room, else the least recently used.
    let entry = list.find((t) => !t.content && t !== except);
    const allocated = allocatedSize(needed, this.#singleLayer);
    const bytes = allocated.width * allocated.height * allocated.layers * 16;
    if (
      !entry &&
      (list.length < texturesPerSize(allocated) || this.bytes + bytes <= this.#growth)
    ) {
      this.#makeRoom(bytes, except);
      entry = this.#create(needed);
      list.push(entry);
    }
    if (!entry) {
      for (const t of list) {
        if (t !== except && (!entry || t.lastUse < entry.lastUse)) entry = t;
      }
    }
    if (!entry!.content) this.#filled++;
    entry!.content = content;
    entry!.lastUse = ++this.#clock;
    return entry!;
  }

  #create(needed: TextureSize): CachedTexture {
    const size = allocatedSize(needed, this.#singleLayer);
    if (!this.fits(needed)) {
      throw new Error(
        `texture ${size.width}×${size.height}×${size.layers} exceeds this adapter's limits`,
      );
    }
    const texture = this.#device.createTexture({
      size: [size.width, size.height, size.layers],
      format: "rgba32float",
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING |
        GPUTextureUsage.COPY_DST,
    });
    const bytes = size.width * size.height * size.layers * 16;
    this.#bytes.set(texture, bytes);
    this.bytes += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.bytes);
    return {
      texture,
      view: texture.createView({ dimension: "2d-array" }),
      content: null,
      lastUse: 0,
    };
  }

  /**
   * Forgets the content of every texture packed from bytes `start` to `end` of `buffer`,
   * which are about to be written. The engine calls it for every buffer write it records.
   *
   * @param buffer The buffer written.
   * @param start First byte written.
   * @param end One past the last byte written.
   */
  invalidate(buffer: GPUBuffer, start: number, end: number): void {
    if (this.#filled === 0) return;
    for (const list of this.#textures.values()) {
      for (const t of list) {
        const c = t.content;
        if (c && c.buffer === buffer && c.start < end && start < c.end) {
          t.content = null;
          this.#filled--;
        }
      }
    }
  }

  /** Destroys every cached texture; work already submitted still completes with them. */
  trim(): void {
    for (const list of this.#textures.values()) for (const { texture } of list) texture.destroy();
    this.#textures.clear();
    this.#filled = 0;
    this.bytes = 0;
  }
}
