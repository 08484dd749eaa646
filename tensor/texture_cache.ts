/**
 * Scratch textures for matmul operands on CPU adapters. Mesa's lavapipe fetches a texel for
 * each of its SIMD lanes with one branch-free gather, where a storage-buffer load runs a loop
 * over the lanes with a bounds check per lane; so the CPU matmul first packs each operand into
 * an rgba32float texture array and then reads only textures (see `kernels/matmul.ts`).
 *
 * A texture is scratch: it is written by one dispatch and read by the next in the same command
 * stream, so one texture per size and slot serves every matmul, in order.
 *
 * llvmpipe compiles a shader again for each combination of its textures' "static state", which
 * includes whether each dimension is a power of two and whether an array has one layer: a
 * 32×32-tile matmul took about 9 s to compile for each new combination (10 s per matmul call of
 * a test that met two). So textures are allocated with no width or height a power of two, one
 * padding row or texel more where needed, and every operand meets one of two shader variants:
 * single-layer (unbatched) or array. Arrays have at least two layers. Single-layer textures
 * are kept because a kernel reading them ran 8 % faster (41.6 against 38.3 GFLOP/s, M = 3152,
 * K = 192, N = 768, interleaved in one process).
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
 * @returns The size allocated, at least `size` in every dimension.
 */
export function allocatedSize(size: TextureSize): TextureSize {
  return {
    width: notPowerOfTwo(size.width),
    height: notPowerOfTwo(size.height),
    layers: size.layers === 1 ? 1 : Math.max(2, size.layers),
  };
}

/** A cached texture and its 2-D array view. */
export interface CachedTexture {
  /** The texture, for copies into it. */
  texture: GPUTexture;
  /** Its 2-D array view, for bindings. */
  view: GPUTextureView;
}

/**
 * Persistent rgba32float 2-D texture arrays, one per size and slot, created on first use.
 *
 * @example
 * ```ts
 * import { gpu } from "./device.ts";
 * import { TextureCache } from "./texture_cache.ts";
 * const cache = new TextureCache(gpu().device);
 * const { view } = cache.get({ width: 16, height: 8, layers: 1 }, 0);
 * // Allocated as 17 × 9 texels.
 * console.log(view === cache.get({ width: 16, height: 8, layers: 1 }, 0).view, cache.bytes); // true 2448
 * cache.trim();
 * ```
 */
export class TextureCache {
  readonly #device: GPUDevice;
  readonly #textures = new Map<string, CachedTexture>();
  /** Bytes held by the cached textures. */
  bytes = 0;

  /**
   * Creates an empty cache on a device.
   *
   * @param device The device to create textures on.
   */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** Whether the device can create a texture for this size (padded as {@link allocatedSize}). */
  fits(needed: TextureSize): boolean {
    const limits = this.#device.limits;
    const size = allocatedSize(needed);
    return size.width >= 1 && size.height >= 1 && size.layers >= 1 &&
      size.width <= limits.maxTextureDimension2D && size.height <= limits.maxTextureDimension2D &&
      size.layers <= limits.maxTextureArrayLayers;
  }

  /**
   * The texture for `needed` in `slot` (distinct slots are distinct textures of the same
   * size, for operands used together).
   *
   * @param needed The dimensions needed; the texture may be larger ({@link allocatedSize}).
   * @param slot Which texture of that size.
   * @returns The texture and a view usable both as a sampled and as a storage texture.
   */
  get(needed: TextureSize, slot: number): CachedTexture {
    const size = allocatedSize(needed);
    const key = `${size.width}x${size.height}x${size.layers}:${slot}`;
    let entry = this.#textures.get(key);
    if (!entry) {
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
      entry = { texture, view: texture.createView({ dimension: "2d-array" }) };
      this.#textures.set(key, entry);
      this.bytes += size.width * size.height * size.layers * 16;
    }
    return entry;
  }

  /** Destroys every cached texture; work already submitted still completes with them. */
  trim(): void {
    for (const { texture } of this.#textures.values()) texture.destroy();
    this.#textures.clear();
    this.bytes = 0;
  }
}
