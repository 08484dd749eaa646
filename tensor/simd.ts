/**
 * Vector width for Mesa's software GPU. llvmpipe and lavapipe compile shaders to 256-bit
 * vectors (8 invocations per SIMD vector) unless `LP_NATIVE_VECTOR_WIDTH` says otherwise, even
 * on CPUs with AVX-512, where 512-bit vectors with 16-wide matmul workgroups make a train step
 * markedly shorter (`docs/performance.md`).
 *
 * Mesa reads the variable once, when the driver loads, so `init()` calls
 * {@link widenSoftwareSimd} before it requests the adapter. Outside Deno it does nothing.
 *
 * @module
 */

/** The environment variable Mesa's llvmpipe and lavapipe read for their vector width. */
export const SIMD_WIDTH_VARIABLE = "LP_NATIVE_VECTOR_WIDTH";

/**
 * Whether `/proc/cpuinfo` text lists AVX-512 Foundation (`avx512f`) among the CPU's flags.
 *
 * @param cpuinfo The file's text.
 * @returns True when every `flags` line has `avx512f`, and there is at least one.
 * @example
 * ```ts
 * import { hasAvx512 } from "./simd.ts";
 * console.log(hasAvx512("flags\t: fpu sse2 avx2 avx512f avx512bw\n")); // true
 * ```
 */
export function hasAvx512(cpuinfo: string): boolean {
  const flags = cpuinfo.split("\n").filter((line) => /^flags\s*:/.test(line));
  return flags.length > 0 && flags.every((line) => line.split(/\s+/).includes("avx512f"));
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * The `flags` lines of `/proc/cpuinfo`, read by `grep`: Deno lets a process read `/proc` only
 * with `--allow-all`, so a task with `--allow-run=grep` asks grep instead.
 *
 * @returns The lines, or null off Linux, without the permission, or when grep fails.
 */
function cpuFlags(): string | null {
  if (Deno.build.os !== "linux" || !granted({ name: "run", command: "grep" })) return null;
  try {
    const out = new Deno.Command("grep", {
      args: ["^flags", "/proc/cpuinfo"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/**
 * Sets `LP_NATIVE_VECTOR_WIDTH=512` for this process when the CPU has AVX-512, the variable is
 * unset, and the process may set it and run `grep` (to read `/proc/cpuinfo`). It never prompts
 * for a permission; without one it leaves the width alone. It changes nothing on hardware GPUs,
 * since only Mesa's software drivers read the variable. Call it before the adapter is
 * requested.
 *
 * Without AVX-512, 512-bit vectors are slower, so the CPU's flags decide.
 *
 * @param cpuinfo The CPU description; the `flags` lines of `/proc/cpuinfo` when omitted.
 * @returns The width now requested (`"512"`, or what the user set), or null when unchanged.
 * @example
 * ```ts
 * import { widenSoftwareSimd } from "./simd.ts";
 * widenSoftwareSimd("flags\t: avx2\n"); // null: no AVX-512, Mesa keeps 256 bits
 * ```
 */
export function widenSoftwareSimd(cpuinfo?: string): string | null {
  if (typeof Deno === "undefined") return null;
  if (!granted({ name: "env", variable: SIMD_WIDTH_VARIABLE })) return null;
  const set = Deno.env.get(SIMD_WIDTH_VARIABLE);
  if (set !== undefined) return set;
  const flags = cpuinfo ?? cpuFlags();
  if (flags === null || !hasAvx512(flags)) return null;
  Deno.env.set(SIMD_WIDTH_VARIABLE, "512");
  return "512";
}
