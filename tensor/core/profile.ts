/**
 * What an adapter can do, as data read once at start-up: every choice a backend makes (texture
 * operands, vector loads, workgroup width, f16 rounding) reads these fields instead of testing
 * the adapter's name at call sites.
 *
 * @module
 */

/** An adapter's capabilities, chosen once when the runtime starts. */
export interface AdapterProfile {
  /** A CPU implementation (Mesa lavapipe or llvmpipe, SwiftShader, WARP). */
  readonly software: boolean;
  /** f32 lanes per SIMD vector: software workgroups are this wide. */
  readonly simdLanes: number;
  /** The device was created with `shader-f16`. */
  readonly f16: boolean;
  /**
   * The shader conversion `f16(x)` rounds to nearest even and overflows to infinity, as IEEE
   * and PyTorch do (checked on the device at start); otherwise kernels round in f32 arithmetic.
   */
  readonly f16RoundsToNearest: boolean;
  /**
   * A one-layer texture reads back through a 2-D array view. wgpu's GL backend picks the GL
   * texture type from the layer count (one layer: a plain 2-D texture; square with a multiple
   * of six: a cube map), so there array textures need two layers and a non-square size.
   */
  readonly singleLayerTextures: boolean;
  /** The adapter offers the `subgroups` feature. */
  readonly subgroups: boolean;
  /** The device was created with `timestamp-query` (for the kernel profiler). */
  readonly timestamps: boolean;
  /** The largest storage buffer binding, in bytes. */
  readonly maxStorageBufferBindingSize: number;
  /** What the adapter said about itself, for messages. */
  readonly info: AdapterDescription;
}

/** The adapter's own words: `GPUAdapterInfo`'s fields, empty where it says nothing. */
export interface AdapterDescription {
  /** Vendor name or PCI id. */
  readonly vendor: string;
  /** Architecture family. */
  readonly architecture: string;
  /** Device name or id. */
  readonly device: string;
  /** Driver's description. */
  readonly description: string;
  /** The browser's or runtime's own flag for a CPU fallback adapter, when it gives one. */
  readonly isFallbackAdapter: boolean | null;
}

/** Mesa's PCI vendor id, which lavapipe and llvmpipe report. */
const MESA_VENDOR_ID = 0x10005;

/**
 * Reads an adapter's description out of its `GPUAdapterInfo`.
 *
 * @param info The adapter's info.
 * @param adapter The adapter, for `isFallbackAdapter` where the info lacks it.
 * @returns The fields as strings, and the fallback flag or null.
 * @example
 * ```ts
 * import { describeInfo } from "./profile.ts";
 * const empty = { vendor: "", architecture: "", device: "", description: "" };
 * const d = describeInfo(empty as GPUAdapterInfo);
 * console.log(d.isFallbackAdapter); // null
 * ```
 */
export function describeInfo(info: GPUAdapterInfo, adapter?: GPUAdapter): AdapterDescription {
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter;
  return {
    vendor: String(info.vendor ?? ""),
    architecture: String(info.architecture ?? ""),
    device: String(info.device ?? ""),
    description: String(info.description ?? ""),
    isFallbackAdapter: typeof fallback === "boolean" ? fallback : null,
  };
}

/**
 * Whether an adapter runs on the CPU. The adapter's own flag decides where it gives one
 * (`isFallbackAdapter`: Deno's lavapipe and llvmpipe and Chrome's SwiftShader set it); otherwise
 * its vendor id (Mesa's software drivers) and the driver's description.
 *
 * @param d The adapter's description.
 * @returns True for a software adapter.
 * @example
 * ```ts
 * import { isSoftware } from "./profile.ts";
 * console.log(isSoftware({
 *   vendor: "65541",
 *   architecture: "",
 *   device: "0",
 *   description: "llvmpipe (LLVM 15.0.6, 256 bits)",
 *   isFallbackAdapter: null,
 * })); // true
 * ```
 */
export function isSoftware(d: AdapterDescription): boolean {
  if (d.isFallbackAdapter !== null) return d.isFallbackAdapter;
  if (Number(d.vendor) === MESA_VENDOR_ID) return true;
  const text = `${d.vendor} ${d.architecture} ${d.device} ${d.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|softpipe|warp|software/.test(text);
}

/**
 * The f32 lanes of a software adapter's vectors, from a description such as
 * `llvmpipe (LLVM 15.0.6, 512 bits)`; 8 when it names no width.
 *
 * @param description The adapter's description.
 * @returns The lanes per vector.
 * @example
 * ```ts
 * import { simdLanesOf } from "./profile.ts";
 * console.log(simdLanesOf("llvmpipe (LLVM 15.0.6, 512 bits)")); // 16
 * ```
 */
export function simdLanesOf(description: string): number {
  const bits = Number(description.match(/(\d+) bits/)?.[1]);
  return bits >= 128 && bits <= 1024 && bits % 32 === 0 ? bits / 32 : 8;
}

/**
 * Describes a profile in one line: what the adapter says of itself (or that it says nothing),
 * software or hardware, and f16. The graphics API under WebGPU is not guessed: adapters do not
 * report it, and Mesa's GL and Vulkan drivers describe themselves alike.
 *
 * @param p The profile.
 * @returns For example `vendor 0x10005, llvmpipe (LLVM 15.0.6, 256 bits), software, shader-f16`.
 * @example
 * ```ts
 * import { describeProfile } from "./profile.ts";
 * const info = {
 *   vendor: "",
 *   architecture: "",
 *   device: "",
 *   description: "",
 *   isFallbackAdapter: null,
 * };
 * console.log(describeProfile({
 *   software: true, simdLanes: 8, f16: false, f16RoundsToNearest: false,
 *   singleLayerTextures: true, subgroups: false,
 *   timestamps: false, maxStorageBufferBindingSize: 1 << 27, info,
 * })); // "vendor not reported, the adapter describes itself with empty strings, software, no f16"
 * ```
 */
export function describeProfile(p: AdapterProfile): string {
  const { info } = p;
  const id = Number(info.vendor);
  const vendor = info.vendor === ""
    ? "vendor not reported"
    : `vendor ${Number.isFinite(id) ? `0x${id.toString(16)}` : info.vendor}`;
  const said = info.description || info.device || info.architecture;
  return [
    vendor,
    said || "the adapter describes itself with empty strings",
    info.architecture && info.architecture !== said ? info.architecture : null,
    p.software ? "software" : "hardware",
    p.f16 ? `shader-f16${p.f16RoundsToNearest ? "" : " (f16 rounding emulated)"}` : "no f16",
  ].filter((part) => part).join(", ");
}
