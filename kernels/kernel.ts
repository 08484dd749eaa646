/**
 * A compute kernel as a small program object: a cache key, its bindings, a named uniform struct
 * and a WGSL template. The engine turns it into a pipeline once and caches it by key.
 *
 * @module
 */

/** The scalar and vector field types a kernel's `Params` uniform struct may hold. */
export type ParamType = "u32" | "i32" | "f32" | "vec4u";

/** One named field of a kernel's `Params` struct, in declaration order. */
export type ParamField = readonly [name: string, type: ParamType];

/**
 * How a kernel binds one resource: a storage buffer read-only or read-write, a sampled
 * `texture_2d_array<f32>` (read with `textureLoad`), or a write-only rgba32float storage
 * texture array.
 */
export type BindingAccess = "read" | "read_write" | "texture" | "storage_texture";

/** A compute kernel: WGSL source plus everything needed to build and bind its pipeline. */
export interface Kernel {
  /** Unique cache key of this exact source. */
  readonly key: string;
  /** Buffer and texture bindings, bound at @binding(0..n-1) of group 0, in order. */
  readonly bindings: readonly BindingAccess[];
  /**
   * Fields of the uniform `Params` struct, bound at @binding(n) as `params`; none for no
   * uniform.
   */
  readonly params: readonly ParamField[];
  /** The WGSL source, which must declare its bindings through {@link bindingDecls}. */
  readonly code: string;
}

/** Values for a kernel's Params struct, by field name (vec4u fields take 4 numbers). */
export type ParamValues = Record<string, number | readonly number[]>;

/** Size in bytes of the Params struct, rounded to 16 as uniform buffers require. */
export function paramsByteSize(fields: readonly ParamField[]): number {
  let offset = 0;
  for (const [, type] of fields) {
    if (type === "vec4u") offset = Math.ceil(offset / 16) * 16 + 16;
    else offset += 4;
  }
  return Math.max(16, Math.ceil(offset / 16) * 16);
}

/** Writes `values` into `view` at `base` using the layout of `fields`. */
export function packParams(
  fields: readonly ParamField[],
  values: ParamValues,
  view: DataView,
  base: number,
): void {
  let offset = 0;
  for (const [name, type] of fields) {
    const value = values[name];
    if (value === undefined) throw new Error(`kernel parameter '${name}' is missing`);
    if (type === "vec4u") {
      offset = Math.ceil(offset / 16) * 16;
      const list = value as readonly number[];
      for (let i = 0; i < 4; i++) view.setUint32(base + offset + 4 * i, list[i] ?? 0, true);
      offset += 16;
      continue;
    }
    const scalar = value as number;
    if (type === "u32") view.setUint32(base + offset, scalar, true);
    else if (type === "i32") view.setInt32(base + offset, scalar, true);
    else view.setFloat32(base + offset, scalar, true);
    offset += 4;
  }
}

const WGSL_TYPE: Record<ParamType, string> = {
  u32: "u32",
  i32: "i32",
  f32: "f32",
  vec4u: "vec4<u32>",
};

/**
 * WGSL declarations for a kernel: the `Params` struct and every binding, named as given.
 *
 * @param names Variable names of the bindings, in binding order.
 * @param types WGSL types of those bindings (e.g. `array<f32>`, `texture_2d_array<f32>`).
 * @param access Access mode of each binding.
 * @param params Fields of the uniform struct.
 * @returns WGSL text to prepend to the kernel body.
 */
export function bindingDecls(
  names: readonly string[],
  types: readonly string[],
  access: readonly BindingAccess[],
  params: readonly ParamField[],
): string {
  const lines: string[] = [];
  if (params.length > 0) {
    lines.push("struct Params {");
    for (const [name, type] of params) lines.push(`  ${name}: ${WGSL_TYPE[type]},`);
    lines.push("}");
  }
  names.forEach((name, i) => {
    const space = access[i] === "read" || access[i] === "read_write"
      ? `<storage, ${access[i]}>`
      : "";
    lines.push(`@group(0) @binding(${i}) var${space} ${name}: ${types[i]};`);
  });
  if (params.length > 0) {
    lines.push(`@group(0) @binding(${names.length}) var<uniform> params: Params;`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Builds a {@link Kernel} from named bindings and a body.
 *
 * @param key Unique cache key for this source.
 * @param bindings Name, WGSL type and access of each storage binding.
 * @param params Fields of the uniform `Params` struct.
 * @param body WGSL text after the declarations (helpers and the entry point `main`).
 * @param enables WGSL extensions to enable (for example "f16").
 * @returns The kernel.
 * @example
 * ```ts
 * import { defineKernel } from "./kernel.ts";
 * const fill = defineKernel(
 *   "fill",
 *   [["out", "array<f32>", "read_write"]],
 *   [["n", "u32"], ["v", "f32"]],
 *   `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
 *      if (g.x < params.n) { out[g.x] = params.v; } }`);
 * console.log(fill.key);
 * ```
 */
export function defineKernel(
  key: string,
  bindings: readonly (readonly [string, string, BindingAccess])[],
  params: readonly ParamField[],
  body: string,
  enables: readonly string[] = [],
): Kernel {
  const access = bindings.map((b) => b[2]);
  const code = enables.map((e) => `enable ${e};\n`).join("") + bindingDecls(
    bindings.map((b) => b[0]),
    bindings.map((b) => b[1]),
    access,
    params,
  ) + body;
  return { key, bindings: access, params, code };
}

/** Workgroup size used by the one-thread-per-element kernels. */
export const ELEMENTWISE_WORKGROUP = 256;

/**
 * WGSL helper that flattens a 2D dispatch into a linear thread index, so that element-wise
 * kernels can cover more than 65535 workgroups.
 */
export const LINEAR_INDEX = `
fn linearIndex(g: vec3<u32>, n: vec3<u32>) -> u32 {
  return g.x + g.y * n.x * ${ELEMENTWISE_WORKGROUP}u;
}
`;
