/**
 * Batched matmul `C[b] = alpha · op(A[b]) · op(B[b]) + bias`, where op is an optional transpose,
 * in seven families. Software adapters get the register and texture families, GPUs the tiled
 * one; `tensor/backend/` chooses.
 *
 * - `register`: each invocation owns a large TM×TN tile of C in registers and streams A and B
 *   straight from storage, with no workgroup memory: on a CPU "shared" memory is just more
 *   memory traffic plus barriers.
 * - `vec4`: the register family reading four k at once, for the NT layout with K % 4 == 0.
 * - `vec4tn`: the register family reading four rows of A and four columns of B at once, for
 *   the TN layout (weight gradients) with M % 4 == 0 and N % 4 == 0.
 * - `texture`: the register family reading both operands from rgba32float textures that
 *   `kernels/texture_pack.ts` fills, in any layout: on a software adapter a texel fetch is one
 *   branch-free gather for all SIMD lanes, where a storage load loops over the lanes with a
 *   bounds check each.
 * - `texturetn`: the texture family for the TN layout (weight gradients), on the operands as
 *   stored (texels of four rows of C from A and four columns from B), so that they need no
 *   transposing.
 * - `texturenn`: the texture family for the NN layout, A as in `texture` and B as stored (as
 *   in `texturetn`), so that B needs no transposing pack.
 * - `tiled`: for GPUs. A workgroup stages BM×BK and BK×BN tiles in workgroup memory and each
 *   invocation accumulates a 4×4 (or larger) block from there.
 *
 * Loads clamp their indices into range and stores are masked, so any M, N, K is correct.
 * Measured speeds of each family are in `docs/performance.md`.
 *
 * @module
 */

import { ROUND_F16_WGSL } from "./f16_round.ts";
import { type BindingAccess, defineKernel, type Kernel, type ParamField } from "./kernel.ts";

/** Layout and shape of one matmul call. */
export interface MatmulShape {
  /** Batch count (1 for a plain matmul). */
  batch: number;
  /** Rows of C. */
  m: number;
  /** Inner dimension. */
  k: number;
  /** Columns of C. */
  n: number;
  /** A is stored as [K, M] instead of [M, K]. */
  transA: boolean;
  /** B is stored as [N, K] instead of [K, N]. */
  transB: boolean;
}

/** A matmul kernel variant and the tile it computes. */
export interface MatmulVariant {
  /** Family: CPU-style register tiles or GPU-style workgroup-memory tiles. */
  readonly family:
    | "register"
    | "vec4"
    | "vec4tn"
    | "texture"
    | "texturetn"
    | "texturenn"
    | "tiled";
  /** Rows of C per invocation. */
  readonly tm: number;
  /** Columns of C per invocation. */
  readonly tn: number;
  /** Invocations per workgroup. */
  readonly workgroup: number;
}

/** The register-tile variants tried by the autotuner on software adapters, best-known first. */
export const REGISTER_VARIANTS: readonly MatmulVariant[] = [
  { family: "register", tm: 16, tn: 32, workgroup: 8 },
  { family: "register", tm: 8, tn: 32, workgroup: 16 },
  { family: "register", tm: 8, tn: 16, workgroup: 16 },
];

/** The vec4-load register variants (NT layout, K % 4 == 0), best-known first. */
export const VEC4_VARIANTS: readonly MatmulVariant[] = [
  { family: "vec4", tm: 16, tn: 32, workgroup: 8 },
  { family: "vec4", tm: 16, tn: 16, workgroup: 8 },
];

/** The vec4 variants for the TN layout (A [K, M], B [K, N]), best-known first. */
export const VEC4TN_VARIANTS: readonly MatmulVariant[] = [
  { family: "vec4tn", tm: 16, tn: 32, workgroup: 8 },
  { family: "vec4tn", tm: 16, tn: 16, workgroup: 8 },
  { family: "vec4tn", tm: 8, tn: 16, workgroup: 8 },
];

/**
 * The texture variants (software adapters, any layout), the big tile first and the small one,
 * for small products, last: bigger tiles gained little and compile several times longer.
 */
export const TEXTURE_VARIANTS: readonly MatmulVariant[] = [
  { family: "texture", tm: 32, tn: 32, workgroup: 8 },
  { family: "texture", tm: 8, tn: 16, workgroup: 8 },
];

/**
 * The texture variants for the TN layout: the big tile first, the medium one that the weight
 * gradients of small models take (see `tensor/backend/software/software.ts`), the small one last.
 */
export const TEXTURETN_VARIANTS: readonly MatmulVariant[] = [
  { family: "texturetn", tm: 32, tn: 32, workgroup: 8 },
  { family: "texturetn", tm: 16, tn: 32, workgroup: 8 },
  { family: "texturetn", tm: 8, tn: 16, workgroup: 8 },
];

/**
 * The texture variants for the NN layout: A by rows of M as in `texture`, B as stored (rows of
 * K) as in `texturetn`, so that neither needs a transposing pack. The big tile first and the
 * small one last.
 */
export const TEXTURENN_VARIANTS: readonly MatmulVariant[] = [
  { family: "texturenn", tm: 32, tn: 32, workgroup: 8 },
  { family: "texturenn", tm: 8, tn: 16, workgroup: 8 },
];

/**
 * The workgroup-tiled variants for GPUs (16×16 invocations, each TM×TN, so a workgroup owns a
 * 64×64 to 128×128 block of C), best-known first.
 */
export const TILED_VARIANTS: readonly MatmulVariant[] = [
  { family: "tiled", tm: 4, tn: 4, workgroup: 256 },
  { family: "tiled", tm: 8, tn: 8, workgroup: 256 },
  { family: "tiled", tm: 4, tn: 8, workgroup: 256 },
  { family: "tiled", tm: 8, tn: 4, workgroup: 256 },
];

/**
 * The name reports and checks give a variant: its family and tile.
 *
 * @param v The variant.
 * @returns For example `texture 8x16`.
 */
export function variantName(v: MatmulVariant): string {
  return `${v.family} ${v.tm}x${v.tn}`;
}

/**
 * A family's small tile (each list above ends with it): the one small products use, and the
 * one the start-up check compiles, fast.
 *
 * @param family A family's variants.
 * @returns Its last variant.
 */
export function smallTile(family: readonly MatmulVariant[]): MatmulVariant {
  return family[family.length - 1];
}

/** The K extent of the A and B slices the tiled family stages in workgroup memory per step. */
export const TILE_K = 16;

const PARAMS: readonly ParamField[] = [
  ["m", "u32"],
  ["n", "u32"],
  ["k", "u32"],
  ["strideA", "u32"],
  ["strideB", "u32"],
  ["strideC", "u32"],
  ["alpha", "f32"],
  ["tilesN", "u32"],
];

// Loads go through h(), which rounds to f16 in half precision (f16 inputs, f32 accumulation,
// as tensor cores and torch.autocast do) and is the identity otherwise.
function loadA(transA: boolean, row: string, k: string): string {
  return transA
    ? `h(A[aBase + (${k}) * params.m + ${row}])`
    : `h(A[aBase + ${row} * params.k + (${k})])`;
}

function loadB(transB: boolean, k: string, col: string): string {
  return transB
    ? `h(B[bBase + ${col} * params.k + (${k})])`
    : `h(B[bBase + (${k}) * params.n + ${col}])`;
}

/**
 * f16 rounding in f32 arithmetic, for adapters whose `f16(x)` conversion is not IEEE's: round
 * to nearest even at 11 significant bits (multiples of 2^-24 below 2^-14), overflow to ±inf
 * from 65520 up, NaN and infinities unchanged.
 */
const EMULATED_F16 = `${ROUND_F16_WGSL}fn h(x: f32) -> f32 { return roundF16_(x); }
fn h4(x: vec4<f32>) -> vec4<f32> { return vec4<f32>(h(x.x), h(x.y), h(x.z), h(x.w)); }
`;

function precisionHelpers(precision: MatmulPrecision): string {
  if (precision === "f16-emulated") return EMULATED_F16;
  return precision === "f16"
    ? `fn h(x: f32) -> f32 { return f32(f16(x)); }
fn h4(x: vec4<f32>) -> vec4<f32> { return vec4<f32>(vec4<f16>(x)); }
`
    : `fn h(x: f32) -> f32 { return x; }
fn h4(x: vec4<f32>) -> vec4<f32> { return x; }
`;
}

function bindings(bias: boolean, vec4 = false) {
  const type = vec4 ? "array<vec4<f32>>" : "array<f32>";
  const list: [string, string, "read" | "read_write"][] = [
    ["A", type, "read"],
    ["B", type, "read"],
  ];
  if (bias) list.push(["bias", "array<f32>", "read"]);
  list.push(["C", "array<f32>", "read_write"]);
  return list;
}

/**
 * The guarded stores of an invocation's TM×TN tile: `alpha · acc + bias` for each element
 * inside C, where `acc(i, j)` names the accumulator of element (i, j), which lies at row
 * `row0 + rowOf(i)` and column `col0 + colOf(j)` (by default the tile is contiguous).
 */
function tileStores(
  tm: number,
  tn: number,
  acc: (i: number, j: number) => string,
  bias: boolean,
  rowOf = (i: number) => `${i}u`,
  colOf = (j: number) => `${j}u`,
  rowStride = "params.n",
): string {
  const stores: string[] = [];
  // One bias load per column, not per element: a load is a loop over the SIMD lanes on
  // lavapipe, and a load in every store made the 32×32 tile compile several times longer.
  if (bias) {
    for (let j = 0; j < tn; j++) {
      stores.push(`let bias${j} = bias[min(col0 + ${colOf(j)}, params.n - 1u)];`);
    }
  }
  for (let i = 0; i < tm; i++) {
    stores.push(`if (row0 + ${rowOf(i)} < params.m) {`);
    for (let j = 0; j < tn; j++) {
      const col = `col0 + ${colOf(j)}`;
      const value = `params.alpha * ${acc(i, j)}${bias ? ` + bias${j}` : ""}`;
      stores.push(
        `  if (${col} < params.n) { C[cBase + (row0 + ${rowOf(i)}) * ${rowStride} + ${col}] = ` +
          `${value}; }`,
      );
    }
    stores.push(`}`);
  }
  return stores.join("\n  ");
}

/**
 * {@link tileStores} four columns at a time, with C (and the bias) bound as `array<vec4<f32>>`:
 * for TN, `rowStrideC` and every batch entry's offset multiples of 4 (texture families), and N
 * a multiple of 4 or rows of C padded past N to a multiple of 4: `storeN4` vec4s per row are
 * stored, so a vec4 is either wholly inside a row of C (padding included) or wholly past it. On
 * lavapipe a store whose address differs between SIMD lanes is a loop
 * over the lanes, whatever its width, so this does a quarter of the stores.
 */
function tileStoresVec4(
  tm: number,
  tn: number,
  acc: (i: number, j: number) => string,
  bias: boolean,
): string {
  const tn4 = tn / 4;
  const stores = [
    "let n4 = params.n / 4u;",
    "let row4 = params.rowStrideC / 4u;",
    "let q0 = col0 / 4u;",
    "let base4 = cBase / 4u;",
  ];
  if (bias) {
    for (let j = 0; j < tn4; j++) stores.push(`let bias${j} = bias[min(q0 + ${j}u, n4 - 1u)];`);
  }
  for (let i = 0; i < tm; i++) {
    stores.push(`if (row0 + ${i}u < params.m) {`);
    for (let j = 0; j < tn4; j++) {
      const value = `vec4<f32>(${[0, 1, 2, 3].map((q) => acc(i, 4 * j + q)).join(", ")})`;
      stores.push(
        `  if (q0 + ${j}u < params.storeN4) { C[base4 + (row0 + ${i}u) * row4 + q0 + ${j}u] = ` +
          `params.alpha * ${value}${bias ? ` + bias${j}` : ""}; }`,
      );
    }
    stores.push(`}`);
  }
  return stores.join("\n  ");
}

/**
 * The shader of the register families: invocation `g.x` owns tile (g.x / tilesN, g.x %
 * tilesN) of batch entry `g.z`, declares its accumulators, runs `body` for kk below
 * `loopEnd`, then stores. With `vec4`, A and B are bound as vec4 arrays and their batch bases
 * count vec4s.
 */
function tileMain(
  v: MatmulVariant,
  vec4: boolean,
  setup: string[],
  decls: string[],
  loopEnd: string,
  body: string[],
  stores: string,
): string {
  const per = vec4 ? " / 4u" : "";
  return `
@compute @workgroup_size(${v.workgroup})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let tile = g.x;
  let row0 = (tile / params.tilesN) * ${v.tm}u;
  let col0 = (tile % params.tilesN) * ${v.tn}u;
  if (row0 >= params.m) { return; }
  let aBase = g.z * params.strideA${per};
  let bBase = g.z * params.strideB${per};
  let cBase = g.z * params.strideC;
  ${setup.join("\n  ")}
  ${decls.join("\n  ")}
  for (var kk = 0u; kk < ${loopEnd}; kk++) {
    ${body.join("\n    ")}
  }
  ${stores}
}
`;
}

function registerKernel({ variant: v, transA, transB, bias }: MatmulKernelSpec) {
  const { tm, tn } = v;
  const tn4 = tn / 4;
  const lines: string[] = [];
  for (let i = 0; i < tm; i++) lines.push(`let r${i} = min(row0 + ${i}u, params.m - 1u);`);
  for (let j = 0; j < tn; j++) lines.push(`let c${j} = min(col0 + ${j}u, params.n - 1u);`);
  const body: string[] = [];
  for (let j4 = 0; j4 < tn4; j4++) {
    const cols = [0, 1, 2, 3].map((q) => loadB(transB, "kk", `c${j4 * 4 + q}`));
    body.push(`let b${j4} = vec4<f32>(${cols.join(", ")});`);
  }
  for (let i = 0; i < tm; i++) {
    body.push(`let a${i} = ${loadA(transA, `r${i}`, "kk")};`);
    for (let j4 = 0; j4 < tn4; j4++) body.push(`acc${i}_${j4} += a${i} * b${j4};`);
  }
  const decls: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j4 = 0; j4 < tn4; j4++) decls.push(`var acc${i}_${j4} = vec4<f32>(0.0);`);
  }
  const stores = tileStores(tm, tn, (i, j) => `acc${i}_${j >> 2}.${"xyzw"[j % 4]}`, bias);
  return tileMain(v, false, lines, decls, "params.k", body, stores);
}

/**
 * The register family with vec4 loads: in the NT layout (A [M, K], B [N, K], a Linear layer's
 * forward) each invocation reads four k at once from both operands and accumulates dot
 * products. Needs K % 4 == 0; {@link vec4Eligible} says when it applies.
 */
function vec4Kernel({ variant: v, bias }: MatmulKernelSpec) {
  const { tm, tn } = v;
  const lines: string[] = [];
  for (let i = 0; i < tm; i++) lines.push(`let r${i} = min(row0 + ${i}u, params.m - 1u) * k4;`);
  for (let j = 0; j < tn; j++) lines.push(`let c${j} = min(col0 + ${j}u, params.n - 1u) * k4;`);
  const decls: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) decls.push(`var acc${i}_${j} = 0.0;`);
  }
  const body: string[] = [];
  for (let j = 0; j < tn; j++) body.push(`let b${j} = h4(B[bBase + c${j} + kk]);`);
  for (let i = 0; i < tm; i++) {
    body.push(`let a${i} = h4(A[aBase + r${i} + kk]);`);
    for (let j = 0; j < tn; j++) body.push(`acc${i}_${j} += dot(a${i}, b${j});`);
  }
  const stores = tileStores(tm, tn, (i, j) => `acc${i}_${j}`, bias);
  return tileMain(v, true, ["let k4 = params.k / 4u;", ...lines], decls, "k4", body, stores);
}

/**
 * The vec4 family for the TN layout (A stored [K, M], B stored [K, N]: a Linear layer's weight
 * gradient Yᵀ·X). Each invocation owns a TM×TN tile of C as TM×(TN/4) vec4 accumulators and,
 * for each k, reads A four rows at a time along M and B four columns at a time along N, so
 * every load is a vec4, as in the NT kernel: on lavapipe a load costs about the same whether
 * it fetches one float or four. Needs M % 4 == 0 and N % 4 == 0 ({@link vec4tnEligible}).
 */
function vec4tnKernel({ variant: v, bias }: MatmulKernelSpec) {
  const { tm, tn } = v;
  const tn4 = tn / 4;
  const tm4 = tm / 4;
  const lines: string[] = [];
  for (let i = 0; i < tm4; i++) {
    lines.push(`let r${i} = min(row0 + ${i * 4}u, params.m - 4u) / 4u;`);
  }
  for (let j = 0; j < tn4; j++) {
    lines.push(`let c${j} = min(col0 + ${j * 4}u, params.n - 4u) / 4u;`);
  }
  const decls: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn4; j++) decls.push(`var acc${i}_${j} = vec4<f32>(0.0);`);
  }
  const body: string[] = [`let aRow = aBase + kk * m4;`, `let bRow = bBase + kk * n4;`];
  for (let j = 0; j < tn4; j++) body.push(`let b${j} = h4(B[bRow + c${j}]);`);
  for (let i = 0; i < tm4; i++) {
    body.push(`let a${i} = h4(A[aRow + r${i}]);`);
    for (let q = 0; q < 4; q++) {
      const a = `vec4<f32>(a${i}.${"xyzw"[q]})`;
      const acc = (j: number) => `acc${i * 4 + q}_${j}`;
      for (let j = 0; j < tn4; j++) body.push(`${acc(j)} = fma(${a}, b${j}, ${acc(j)});`);
    }
  }
  const stores = tileStores(tm, tn, (i, j) => `acc${i}_${j >> 2}.${"xyzw"[j % 4]}`, bias);
  const setup = ["let m4 = params.m / 4u;", "let n4 = params.n / 4u;", ...lines];
  return tileMain(v, true, setup, decls, "params.k", body, stores);
}

const TEXTURE_PARAMS: readonly ParamField[] = [
  ["m", "u32"],
  ["n", "u32"],
  ["steps", "u32"],
  ["k", "u32"],
  ["strideC", "u32"],
  ["alpha", "f32"],
  ["tilesN", "u32"],
  ["layerStepA", "u32"],
  ["layerStepB", "u32"],
  ["offsetC", "u32"],
  ["groupC", "u32"],
  ["groupStrideC", "u32"],
  ["rowStrideC", "u32"],
  ["storeN4", "u32"],
  ["batch", "u32"],
  ["tilesPerBatch", "u32"],
  ["batchChunk", "u32"],
];

/**
 * The texture families. `texture`: `A` holds op(A) as rows of M and `B` holds op(B)ᵀ as rows of
 * N, four k per texel and zeros past K, and each invocation accumulates dot products of texels
 * for its TM×TN tile of C. `texturetn`: `A` and `B` hold the operands as stored, rows of K with
 * four rows of C (from A) or four columns of C (from B) per texel, and each invocation
 * accumulates their outer products in TM×(TN/4) vec4 accumulators. `texturenn`: `A` as in
 * `texture` and `B` as in `texturetn`, each texel of A meeting four rows of B. One array layer
 * per batch entry, or a single layer shared by all (a layer step of 0). Invocation x of grid z
 * owns tile x % tilesPerBatch of batch entry z·batchChunk + x / tilesPerBatch (see
 * {@link matmulGrid}). Batch entry z stores its rows `rowStrideC` apart from
 * `offsetC + (z / groupC)·groupStrideC + (z % groupC)·strideC` (rows of one head inside a
 * [B, T, H·hd] tensor, for attention). Half precision rounds the operands as they are packed:
 * lavapipe's f16 conversion of a loaded texel saturates at 65504 instead of overflowing to
 * infinity, which would hide the overflow loss scaling looks for.
 */
function textureKernel(
  { variant: v, bias, store4 = false, sums = false }: MatmulKernelSpec,
): Kernel {
  const accName = (i: number, j: number) => `acc${i}_${j}`;
  const { tm, tn } = v;
  const tn4 = tn / 4;
  const load = (t: string, x: string, y: string, layer: string) =>
    `textureLoad(${t}, vec2<u32>(${x}, ${y}), ${layer}, 0)`;
  const lines: string[] = [];
  const decls: string[] = [];
  const body: string[] = [];
  if (v.family === "texture") {
    for (let i = 0; i < tm; i++) lines.push(`let r${i} = min(row0 + ${i}u, params.m - 1u);`);
    for (let j = 0; j < tn; j++) lines.push(`let c${j} = min(col0 + ${j}u, params.n - 1u);`);
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn; j++) decls.push(`var acc${i}_${j} = 0.0;`);
    }
    for (let j = 0; j < tn; j++) body.push(`let b${j} = ${load("B", "kk", `c${j}`, "lb")};`);
    for (let i = 0; i < tm; i++) {
      body.push(`let a${i} = ${load("A", "kk", `r${i}`, "la")};`);
      for (let j = 0; j < tn; j++) body.push(`acc${i}_${j} += dot(a${i}, b${j});`);
    }
  } else if (v.family === "texturenn") {
    // A's texel of four k meets B's four rows of those k. A's texels past K hold zeros, so
    // B's rows past K read row K − 1 and add nothing.
    for (let i = 0; i < tm; i++) lines.push(`let r${i} = min(row0 + ${i}u, params.m - 1u);`);
    lines.push("let texelsN = (params.n + 3u) / 4u;");
    for (let j = 0; j < tn4; j++) lines.push(`let c${j} = min(col0 / 4u + ${j}u, texelsN - 1u);`);
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn; j++) decls.push(`var acc${i}_${j} = 0.0;`);
    }
    for (let q = 0; q < 4; q++) {
      body.push(`let k${q} = min(4u * kk + ${q}u, params.k - 1u);`);
      for (let j = 0; j < tn4; j++) {
        body.push(`let b${q}_${j} = ${load("B", `c${j}`, `k${q}`, "lb")};`);
      }
    }
    const x = "xyzw";
    for (let i = 0; i < tm; i++) {
      body.push(`let a${i} = ${load("A", "kk", `r${i}`, "la")};`);
      for (let j = 0; j < tn; j++) {
        const terms = [0, 1, 2, 3].map((q) => `a${i}.${x[q]} * b${q}_${j >> 2}.${x[j % 4]}`);
        body.push(`acc${i}_${j} += ${terms.join(" + ")};`);
      }
    }
  } else {
    // Four rows of K per step, each element's four products summed before they meet its
    // accumulator, as a dot product does: with one product per step the spilled accumulators
    // were loaded and stored four times as often. Rows past K read row K − 1, scaled by 0.
    const tm4 = tm / 4;
    lines.push("let m4 = (params.m + 3u) / 4u;", "let n4 = (params.n + 3u) / 4u;");
    for (let i = 0; i < tm4; i++) lines.push(`let r${i} = min(row0 / 4u + ${i}u, m4 - 1u);`);
    for (let j = 0; j < tn4; j++) lines.push(`let c${j} = min(col0 / 4u + ${j}u, n4 - 1u);`);
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn; j++) decls.push(`var acc${i}_${j} = 0.0;`);
    }
    for (let q = 0; q < 4; q++) {
      body.push(`let k${q} = min(4u * kk + ${q}u, params.k - 1u);`);
      body.push(`let w${q} = select(0.0, 1.0, 4u * kk + ${q}u < params.k);`);
      for (let j = 0; j < tn4; j++) {
        body.push(`let b${q}_${j} = ${load("B", `c${j}`, `k${q}`, "lb")};`);
      }
      for (let i = 0; i < tm4; i++) {
        body.push(`let a${q}_${i} = w${q} * ${load("A", `r${i}`, `k${q}`, "la")};`);
      }
    }
    const x = "xyzw";
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn; j++) {
        const terms = [0, 1, 2, 3].map((q) =>
          `a${q}_${i >> 2}.${x[i % 4]} * b${q}_${j >> 2}.${x[j % 4]}`
        );
        body.push(`acc${i}_${j} += ${terms.join(" + ")};`);
      }
    }
    if (sums) {
      // A's column sums, a Linear layer's bias gradient, stored by the tiles of column 0.
      for (let i = 0; i < tm; i++) {
        const terms = [0, 1, 2, 3].map((q) => `a${q}_${i >> 2}.${x[i % 4]}`);
        decls.push(`var sum${i} = 0.0;`);
        body.push(`sum${i} += ${terms.join(" + ")};`);
      }
    }
  }
  let stores = store4
    ? tileStoresVec4(tm, tn, accName, bias)
    : tileStores(tm, tn, accName, bias, undefined, undefined, "params.rowStrideC");
  if (sums) {
    const rows = [...Array(tm).keys()].map((i) =>
      `  if (row0 + ${i}u < params.m) { S[z * params.m + row0 + ${i}u] = sum${i}; }`
    );
    stores += `\n  if (col0 == 0u) {\n  ${rows.join("\n  ")}\n  }`;
  }
  const list: [string, string, BindingAccess][] = [
    ["A", "texture_2d_array<f32>", "texture"],
    ["B", "texture_2d_array<f32>", "texture"],
  ];
  const t = store4 ? "array<vec4<f32>>" : "array<f32>";
  if (bias) list.push(["bias", t, "read"]);
  list.push(["C", t, "read_write"]);
  if (sums) list.push(["S", "array<f32>", "read_write"]);
  return defineKernel(
    `matmul:${v.family}:${tm}x${tn}:${v.workgroup}:${bias}${store4 ? ":store4" : ""}` +
      (sums ? ":sums" : ""),
    list,
    TEXTURE_PARAMS,
    `
@compute @workgroup_size(${v.workgroup})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let zi = g.x / params.tilesPerBatch;
  let z = g.z * params.batchChunk + zi;
  if (zi >= params.batchChunk || z >= params.batch) { return; }
  let tile = g.x % params.tilesPerBatch;
  let row0 = (tile / params.tilesN) * ${tm}u;
  let col0 = (tile % params.tilesN) * ${tn}u;
  let la = z * params.layerStepA;
  let lb = z * params.layerStepB;
  let cBase = params.offsetC + (z / params.groupC) * params.groupStrideC +
    (z % params.groupC) * params.strideC;
  ${lines.join("\n  ")}
  ${decls.join("\n  ")}
  for (var kk = 0u; kk < params.steps; kk++) {
    ${body.join("\n    ")}
  }
  ${stores}
}
`,
  );
}

/** Whether the vec4tn family can run a shape: TN layout with M and N multiples of 4. */
export function vec4tnEligible(s: MatmulShape): boolean {
  return s.transA && !s.transB && s.m % 4 === 0 && s.n % 4 === 0;
}

/** Whether the vec4 family can run a shape: NT layout with K a multiple of 4. */
export function vec4Eligible(s: MatmulShape): boolean {
  return !s.transA && s.transB && s.k % 4 === 0;
}

/**
 * The GPU family: a 16×16 workgroup computes a (16·TM)×(16·TN) block of C. Per step of
 * {@link TILE_K} it stages that block's A and B slices in workgroup memory, with global reads
 * coalesced for the operand's layout (consecutive invocations read consecutive addresses), and
 * each invocation accumulates its TM×TN outputs, rows `l.y + 16·i` and columns `l.x + 16·j`,
 * in named registers. Workgroup rows are padded by one float so that neither the transposing
 * stores nor the broadcast reads collide in a memory bank.
 */
function tiledKernel({ variant: v, transA, transB, bias }: MatmulKernelSpec) {
  const { tm, tn } = v;
  const bm = 16 * tm;
  const bn = 16 * tn;
  const bk = TILE_K;
  const sa = bm + 1;
  const sb = bn + 1;
  const loads: string[] = [];
  // Each invocation stages bm·bk/256 elements of A and bk·bn/256 of B. The faster-moving index
  // of e follows the operand's contiguous dimension in global memory.
  for (let p = 0; p < (bm * bk) / 256; p++) {
    const [r, kk] = transA ? [`e % ${bm}u`, `e / ${bm}u`] : [`e / ${bk}u`, `e % ${bk}u`];
    loads.push(
      `{ let e = lid + ${p * 256}u; let r = ${r}; let kk = ${kk}; let gk = k0 + kk;`,
      `  let gr = min(row0 + r, params.m - 1u);`,
      `  As[kk * ${sa}u + r] = select(0.0, ${
        loadA(transA, "gr", "min(gk, params.k - 1u)")
      }, gk < params.k); }`,
    );
  }
  for (let p = 0; p < (bk * bn) / 256; p++) {
    const [c, kk] = transB ? [`e / ${bk}u`, `e % ${bk}u`] : [`e % ${bn}u`, `e / ${bn}u`];
    loads.push(
      `{ let e = lid + ${p * 256}u; let c = ${c}; let kk = ${kk}; let gk = k0 + kk;`,
      `  let gc = min(col0 + c, params.n - 1u);`,
      `  Bs[kk * ${sb}u + c] = select(0.0, ${
        loadB(transB, "min(gk, params.k - 1u)", "gc")
      }, gk < params.k); }`,
    );
  }
  const decls: string[] = [];
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) decls.push(`var acc${i}_${j} = 0.0;`);
  }
  const body: string[] = [];
  for (let i = 0; i < tm; i++) body.push(`let a${i} = As[kk * ${sa}u + l.y + ${16 * i}u];`);
  for (let j = 0; j < tn; j++) body.push(`let b${j} = Bs[kk * ${sb}u + l.x + ${16 * j}u];`);
  for (let i = 0; i < tm; i++) {
    for (let j = 0; j < tn; j++) body.push(`acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`);
  }
  const stores = tileStores(
    tm,
    tn,
    (i, j) => `acc${i}_${j}`,
    bias,
    (i) => `l.y + ${16 * i}u`,
    (j) => `l.x + ${16 * j}u`,
  );
  return `
var<workgroup> As: array<f32, ${bk * sa}>;
var<workgroup> Bs: array<f32, ${bk * sb}>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let row0 = wg.y * ${bm}u;
  let col0 = wg.x * ${bn}u;
  let aBase = wg.z * params.strideA;
  let bBase = wg.z * params.strideB;
  let cBase = wg.z * params.strideC;
  let lid = l.y * 16u + l.x;
  ${decls.join("\n  ")}
  for (var k0 = 0u; k0 < params.k; k0 += ${bk}u) {
    ${loads.join("\n    ")}
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk++) {
      ${body.join("\n      ")}
    }
    workgroupBarrier();
  }
  ${stores}
}
`;
}

const cache = new Map<string, Kernel>();

/** How a matmul kernel rounds its operands. */
export type MatmulPrecision =
  /** f32 throughout. */
  | "f32"
  /** Operands rounded to f16 by the shader's conversion (needs `shader-f16`), f32 accumulation. */
  | "f16"
  /** Operands rounded to f16 in f32 arithmetic, for adapters whose conversion is not IEEE's. */
  | "f16-emulated";

/** Everything that makes one compiled matmul kernel: the variant, the layout and the epilogue. */
export interface MatmulKernelSpec {
  /** The variant (family, tile, workgroup). */
  readonly variant: MatmulVariant;
  /** A is stored transposed. */
  readonly transA: boolean;
  /** B is stored transposed. */
  readonly transB: boolean;
  /** Add a bias per column of C. */
  readonly bias: boolean;
  /**
   * Operand rounding. The texture families ignore it: their operands are rounded when they
   * are packed.
   */
  readonly precision: MatmulPrecision;
  /**
   * Store four columns at a time, binding C and the bias as vec4 arrays (texture families
   * only; needs N % 4 == 0 and TN % 4 == 0).
   */
  readonly store4?: boolean;
  /**
   * Also store A's column sums (`texturetn` only): the sums over k of A[k, m], for each batch
   * entry z at `S[z·M + m]`, bound after C. Fed a Linear layer's output gradient as A, this
   * is its bias gradient.
   */
  readonly sums?: boolean;
}

/**
 * The cache key of a kernel spec: two specs with the same key compile to the same source.
 *
 * @param spec The spec.
 * @returns The key.
 * @example
 * ```ts
 * import { matmulKernelKey, REGISTER_VARIANTS } from "./matmul.ts";
 * const variant = REGISTER_VARIANTS[0];
 * const spec = { variant, transA: false, transB: true, bias: false, precision: "f32" } as const;
 * console.log(matmulKernelKey(spec)); // "matmul:register:16x32:8:false:true:false:f32"
 * ```
 */
export function matmulKernelKey(spec: MatmulKernelSpec): string {
  const { variant: v, transA, transB, bias, precision, store4 = false, sums = false } = spec;
  const texture = v.family.startsWith("texture");
  // Texture kernels read whatever layout was packed: neither transposes nor rounding change them.
  const layout = texture ? "packed" : `${transA}:${transB}`;
  return `matmul:${v.family}:${v.tm}x${v.tn}:${v.workgroup}:${layout}:${bias}:` +
    `${texture ? "f32" : precision}${store4 ? ":store4" : ""}${sums ? ":sums" : ""}`;
}

/**
 * The kernel of a spec, compiled once per {@link matmulKernelKey}.
 *
 * @param spec The variant, layout, precision and epilogue.
 * @returns The kernel.
 * @example
 * ```ts
 * import { matmulKernel, REGISTER_VARIANTS } from "./matmul.ts";
 * const variant = REGISTER_VARIANTS[0];
 * const k = matmulKernel({ variant, transA: false, transB: true, bias: true, precision: "f32" });
 * console.log(k.bindings); // ["read", "read", "read", "read_write"]
 * ```
 */
export function matmulKernel(spec: MatmulKernelSpec): Kernel {
  const { variant: v, bias, precision, sums = false } = spec;
  if (sums && v.family !== "texturetn") throw new Error(`matmul: ${v.family} has no column sums`);
  const key = matmulKernelKey(spec);
  let kernel = cache.get(key);
  if (kernel) return kernel;
  if (v.family.startsWith("texture")) {
    kernel = textureKernel(spec);
    cache.set(key, kernel);
    return kernel;
  }
  const body = v.family === "vec4"
    ? vec4Kernel(spec)
    : v.family === "vec4tn"
    ? vec4tnKernel(spec)
    : v.family === "register"
    ? registerKernel(spec)
    : tiledKernel(spec);
  kernel = defineKernel(
    key,
    bindings(bias, v.family.startsWith("vec4")),
    PARAMS,
    precisionHelpers(precision) + body,
    precision === "f16" ? ["f16"] : [],
  );
  cache.set(key, kernel);
  return kernel;
}

/** The most workgroups a dispatch may have along one dimension (WebGPU's default limit). */
const MAX_GROUPS = 65535;

/** Where a matmul's invocations go: the workgroup grid and the tile numbering. */
export interface MatmulGrid {
  /** Workgroups in x, y and z. */
  groups: [number, number, number];
  /** Tiles along N. */
  tilesN: number;
  /** Tiles per batch entry (texture families; 0 for `tiled`). */
  tilesPerBatch: number;
  /** Batch entries per grid z (texture families; 1 for the others, one entry per z). */
  batchChunk: number;
}

/**
 * Workgroup counts and tile numbering for a variant and shape. The texture families number
 * their tiles across batch entries, so that where a batch entry has fewer tiles than a
 * workgroup has invocations (the attention products of small models) no lane idles; as many
 * entries as the grid's x allows share one z.
 *
 * @param v The variant.
 * @param s The shape.
 * @returns The grid.
 */
export function matmulGrid(v: MatmulVariant, s: MatmulShape): MatmulGrid {
  if (v.family === "tiled") {
    const tilesN = Math.ceil(s.n / (16 * v.tn));
    return {
      groups: [tilesN, Math.ceil(s.m / (16 * v.tm)), s.batch],
      tilesN,
      tilesPerBatch: 0,
      batchChunk: 1,
    };
  }
  const tilesN = Math.ceil(s.n / v.tn);
  const tiles = Math.ceil(s.m / v.tm) * tilesN;
  // As many entries per grid z as its x allows, spread evenly over the rows of z.
  const most = Math.max(1, Math.floor((MAX_GROUPS * v.workgroup) / tiles));
  const batchChunk = !v.family.startsWith("texture")
    ? 1
    : Math.ceil(s.batch / Math.ceil(s.batch / most));
  return {
    groups: [Math.ceil((batchChunk * tiles) / v.workgroup), 1, Math.ceil(s.batch / batchChunk)],
    tilesN,
    tilesPerBatch: tiles,
    batchChunk,
  };
}
