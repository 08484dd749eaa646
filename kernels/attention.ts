/**
 * Fused self-attention for software adapters: softmax(α Q Kᵀ) V and its gradients without the
 * [T, T] scores and probabilities ever reaching memory.
 *
 * On a CPU adapter an attention product of a few dozen k per output pays mostly for storing its
 * outputs (a storage store loops over the SIMD lanes) and for the softmax that reads them back.
 * These kernels read the packed projection Q|K|V [B, T, 3·D] (and the output's gradient) from
 * rgba32float textures, one layer per image, where a texel fetch is one gather for all lanes,
 * and keep each invocation's rows of queries (or keys) in registers:
 *
 * - forward: each invocation owns `rows` queries of one (image, head) and walks the keys
 *   `keys` at a time with an online softmax (the running maximum rescales what was summed), then
 *   stores the context and each row's log-sum-exp;
 * - backward, queries: the same walk recomputes P from the log-sum-exp and accumulates
 *   dQ = α Σⱼ dSᵢⱼ Kⱼ with dSᵢⱼ = Pᵢⱼ (dOᵢ·Vⱼ − Dᵢ), Dᵢ = dOᵢ·Oᵢ, and stores (lse, D) per row;
 * - backward, keys and values: each invocation owns `keys` keys and walks the queries,
 *   accumulating dK = α Σᵢ dSᵢⱼ Qᵢ and dV = Σᵢ Pᵢⱼ dOᵢ, reading (lse, D) from a texture.
 *
 * Image `img`, head `h` is batch entry z = img · heads + h of the per-row statistics.
 *
 * @module
 */

import { type BindingAccess, defineKernel, type Kernel } from "./kernel.ts";

/** Texels per row of the (lse, D) statistics texture: 1 KiB rows, as buffer copies want. */
export const ATTENTION_STATS_WIDTH = 64;

/** The tiles of one head width: queries or keys per invocation and the step over the other. */
export interface AttentionTiles {
  /** f32 lanes per SIMD vector, the workgroup size. */
  readonly lanes: number;
  /** Head width, a multiple of 4. */
  readonly hd: number;
  /** Queries (forward, backward-q) or keys (backward-kv) per invocation. */
  readonly own: number;
  /** Keys (forward, backward-q) or queries (backward-kv) per step of the walk. */
  readonly step: number;
}

const PARAMS = [
  ["t", "u32"],
  ["d", "u32"],
  ["heads", "u32"],
  ["z", "u32"],
  ["alpha", "f32"],
] as const;

const built = new Map<string, Kernel>();

/** `n` lines `f(0)` … `f(n − 1)`. */
function each(n: number, f: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => f(i)).join("\n");
}

/** The dot product of two rows of `h4` texels. */
function dotRows(a: (e: number) => string, b: (e: number) => string, h4: number): string {
  return Array.from({ length: h4 }, (_, e) => `dot(${a(e)}, ${b(e)})`).join(" + ");
}

/** Texel `x` of token `y` of this invocation's image in texture `tex`. */
function texel(tex: string, x: string, y: string): string {
  return `textureLoad(${tex}, vec2<u32>(${x}, ${y}), img, 0)`;
}

/**
 * `let {name}_0 … {name}_{h4 − 1}`: the texels of one row's head columns from `x` on (queries,
 * keys or values of the projection, or the context gradient), times `scale`, each line led by
 * `pad`.
 */
function headTexels(
  pad: string,
  name: string,
  tex: string,
  x: string,
  row: string,
  h4: number,
  scale = "",
): string {
  return each(h4, (e) => `${pad}let ${name}_${e} = ${texel(tex, `${x} + ${e}u`, row)}${scale};`);
}

/**
 * The invocation's (image, head) and first owned row: `z`, `img`, `head`, `first`, and the
 * texel columns of its head's queries, keys and values, `qx`, `kx`, `vx`.
 */
function prologue(own: number, h4: number): string {
  return `let blocks = (params.t + ${own - 1}u) / ${own}u;
  let z = g.x / blocks;
  if (z >= params.z) { return; }
  let img = z / params.heads;
  let head = z % params.heads;
  let first = (g.x % blocks) * ${own}u;
  let qx = head * ${h4}u;
  let kx = qx + params.d / 4u;
  let vx = qx + params.d / 2u;`;
}

/**
 * Pᵢⱼ = exp(qᵢ·kⱼ − lse) (0 where `live` is false) and dSᵢⱼ = Pᵢⱼ (dOᵢ·vⱼ − D), as `p{i}_{j}`
 * and `ds{i}_{j}`, from query `i`'s texels `q{i}_*`, `do{i}_*` and key `j`'s `k{j}_*`, `v{j}_*`.
 */
function probAndGrad(i: number, j: number, h4: number, lse: string, d: string, live: string) {
  const qk = dotRows((e) => `q${i}_${e}`, (e) => `k${j}_${e}`, h4);
  const dv = dotRows((e) => `do${i}_${e}`, (e) => `v${j}_${e}`, h4);
  return `    let p${i}_${j} = select(0.0, exp(${qk} - ${lse}), ${live});
    let ds${i}_${j} = p${i}_${j} * (${dv} - ${d});`;
}

/**
 * A kernel `attention:{name}` for `tiles`, generated once: `main` runs {@link prologue} and then
 * `body`, with `bindings` and the shared parameters.
 */
function attentionKernel(
  name: string,
  tiles: AttentionTiles,
  bindings: readonly (readonly [string, string, BindingAccess])[],
  body: (h4: number) => string,
): Kernel {
  const { lanes, hd, own, step } = tiles;
  const key = `attention:${name}:${hd}:${own}x${step}:${lanes}`;
  let kernel = built.get(key);
  if (!kernel) {
    const code = `
@compute @workgroup_size(${lanes})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  ${prologue(own, hd / 4)}
${body(hd / 4)}
}
`;
    built.set(key, kernel = defineKernel(key, bindings, PARAMS, code));
  }
  return kernel;
}

/**
 * The forward kernel. Bindings: the packed projection (texture, [3·D/4, T, B]), the context
 * [B, T, D] as vec4s, and the log-sum-exp of each row of α Q Kᵀ, [B·heads, T].
 *
 * @param tiles Head width and tiles.
 * @returns The kernel.
 * @example
 * ```ts
 * import { attentionForwardKernel } from "./attention.ts";
 * const k = attentionForwardKernel({ lanes: 8, hd: 32, own: 8, step: 4 });
 * console.log(k.key); // "attention:forward:32:8x4:8"
 * ```
 */
export function attentionForwardKernel(tiles: AttentionTiles): Kernel {
  const { own, step } = tiles;
  const s = (i: number, j: number) => `s${i}_${j}`;
  const scores = (i: number) => Array.from({ length: step }, (_, j) => s(i, j));
  return attentionKernel("forward", tiles, [
    ["QKV", "texture_2d_array<f32>", "texture"],
    ["O", "array<vec4<f32>>", "read_write"],
    ["LSE", "array<f32>", "read_write"],
  ], (h4) => {
    // Scores of query i against this step's keys, then the running maximum m, sum l and
    // context o rescaled to the new maximum.
    const online = (i: number) => {
      const qk = (j: number) => dotRows((e) => `q${i}_${e}`, (e) => `k${j}_${e}`, h4);
      const max = scores(i).reduce((a, x) => `max(${a}, ${x})`, `m${i}`);
      return [
        each(step, (j) => `    var ${s(i, j)} = select(-3.0e38, ${qk(j)}, live${j});`),
        `    let n${i} = ${max};`,
        `    let rescale${i} = exp(m${i} - n${i});`,
        `    m${i} = n${i};`,
        each(step, (j) => `    ${s(i, j)} = exp(${s(i, j)} - n${i});`),
        `    l${i} = l${i} * rescale${i} + ${scores(i).join(" + ")};`,
        each(h4, (e) => `    o${i}_${e} *= rescale${i};`),
      ].join("\n");
    };
    const accumulate = (j: number) =>
      [
        headTexels("    ", `v${j}`, "QKV", "vx", `c${j}`, h4),
        each(own, (i) => each(h4, (e) => `    o${i}_${e} += ${s(i, j)} * v${j}_${e};`)),
      ].join("\n");
    const store = (i: number) =>
      [
        `  if (first + ${i}u < params.t) {`,
        `    let inv = 1.0 / l${i};`,
        `    let at = (img * params.t + first + ${i}u) * (params.d / 4u) + qx;`,
        each(h4, (e) => `    O[at + ${e}u] = o${i}_${e} * inv;`),
        `    LSE[z * params.t + first + ${i}u] = m${i} + log(l${i});`,
        "  }",
      ].join("\n");
    return [
      each(own, (i) => `  let r${i} = min(first + ${i}u, params.t - 1u);`),
      each(own, (i) => headTexels("  ", `q${i}`, "QKV", "qx", `r${i}`, h4, " * params.alpha")),
      each(own, (i) => each(h4, (e) => `  var o${i}_${e} = vec4<f32>(0.0);`)),
      each(own, (i) => `  var m${i} = -3.0e38;\n  var l${i} = 0.0;`),
      `  for (var j0 = 0u; j0 < params.t; j0 += ${step}u) {`,
      each(
        step,
        (j) =>
          `    let c${j} = min(j0 + ${j}u, params.t - 1u);\n    let live${j} = j0 + ${j}u < params.t;`,
      ),
      each(
        step,
        (j) => headTexels("    ", `k${j}`, "QKV", "kx", `c${j}`, h4),
      ),
      each(own, online),
      each(step, accumulate),
      "  }",
      each(own, store),
    ].join("\n");
  });
}

/**
 * The backward kernel for the queries. Bindings: the packed projection (texture), the
 * context's gradient dO (texture, [D/4, T, B]), the context O and the log-sum-exps (as the
 * forward stored them), the packed gradient [B, T, 3·D] as vec4s (its query columns are
 * stored), and the statistics (lse, D, 0, 0) per row [B·heads·T] as vec4s.
 *
 * @param tiles Head width and tiles.
 * @returns The kernel.
 * @example
 * ```ts
 * import { attentionQueryGradKernel } from "./attention.ts";
 * const k = attentionQueryGradKernel({ lanes: 8, hd: 32, own: 4, step: 4 });
 * console.log(k.bindings.length); // 6
 * ```
 */
export function attentionQueryGradKernel(tiles: AttentionTiles): Kernel {
  const { own, step } = tiles;
  return attentionKernel("backward-q", tiles, [
    ["QKV", "texture_2d_array<f32>", "texture"],
    ["DO", "texture_2d_array<f32>", "texture"],
    ["O", "array<vec4<f32>>", "read"],
    ["LSE", "array<f32>", "read"],
    ["DQKV", "array<vec4<f32>>", "read_write"],
    ["STATS", "array<vec4<f32>>", "read_write"],
  ], (h4) => {
    // Query i's row: its texels, its log-sum-exp, and D = dO·O.
    const row = (i: number) =>
      [
        headTexels("  ", `q${i}`, "QKV", "qx", `r${i}`, h4, " * params.alpha"),
        headTexels("  ", `do${i}`, "DO", "qx", `r${i}`, h4),
        `  let lse${i} = LSE[z * params.t + r${i}];`,
        `  let at${i} = (img * params.t + r${i}) * (params.d / 4u) + qx;`,
        `  let dd${i} = ${dotRows((e) => `do${i}_${e}`, (e) => `O[at${i} + ${e}u]`, h4)};`,
        each(h4, (e) => `  var dq${i}_${e} = vec4<f32>(0.0);`),
      ].join("\n");
    const key = (j: number) =>
      [
        `    let c${j} = min(j0 + ${j}u, params.t - 1u);`,
        `    let live${j} = j0 + ${j}u < params.t;`,
        headTexels("    ", `k${j}`, "QKV", "kx", `c${j}`, h4),
        headTexels("    ", `v${j}`, "QKV", "vx", `c${j}`, h4),
        each(own, (i) =>
          [
            probAndGrad(i, j, h4, `lse${i}`, `dd${i}`, `live${j}`),
            each(h4, (e) => `    dq${i}_${e} += ds${i}_${j} * k${j}_${e};`),
          ].join("\n")),
      ].join("\n");
    const store = (i: number) =>
      [
        `  if (first + ${i}u < params.t) {`,
        `    let at = (img * params.t + first + ${i}u) * width + qx;`,
        each(h4, (e) => `    DQKV[at + ${e}u] = dq${i}_${e} * params.alpha;`),
        `    STATS[z * params.t + first + ${i}u] = vec4<f32>(lse${i}, dd${i}, 0.0, 0.0);`,
        "  }",
      ].join("\n");
    return [
      each(own, (i) => `  let r${i} = min(first + ${i}u, params.t - 1u);`),
      each(own, row),
      `  for (var j0 = 0u; j0 < params.t; j0 += ${step}u) {`,
      each(step, key),
      "  }",
      "  let width = 3u * params.d / 4u;",
      each(own, store),
    ].join("\n");
  });
}

/**
 * The backward kernel for the keys and values. Bindings: the packed projection and dO
 * (textures, as in {@link attentionQueryGradKernel}), the statistics (lse, D) as a texture
 * {@link ATTENTION_STATS_WIDTH} texels wide (row z·T + i at texel i mod width of row
 * i / width), and the packed gradient, whose key and value columns are stored.
 *
 * @param tiles Head width and tiles.
 * @returns The kernel.
 * @example
 * ```ts
 * import { attentionKeyValueGradKernel } from "./attention.ts";
 * const k = attentionKeyValueGradKernel({ lanes: 8, hd: 32, own: 4, step: 4 });
 * console.log(k.key); // "attention:backward-kv:32:4x4:8"
 * ```
 */
export function attentionKeyValueGradKernel(tiles: AttentionTiles): Kernel {
  const { own, step } = tiles;
  const w = ATTENTION_STATS_WIDTH;
  return attentionKernel("backward-kv", tiles, [
    ["QKV", "texture_2d_array<f32>", "texture"],
    ["DO", "texture_2d_array<f32>", "texture"],
    ["ST", "texture_2d_array<f32>", "texture"],
    ["DQKV", "array<vec4<f32>>", "read_write"],
  ], (h4) => {
    const key = (j: number) =>
      [
        `  let c${j} = min(first + ${j}u, params.t - 1u);`,
        headTexels("  ", `k${j}`, "QKV", "kx", `c${j}`, h4),
        headTexels("  ", `v${j}`, "QKV", "vx", `c${j}`, h4),
        each(h4, (e) => `  var dk${j}_${e} = vec4<f32>(0.0);\n  var dv${j}_${e} = vec4<f32>(0.0);`),
      ].join("\n");
    // Query i of this step: its texels and (lse, D), then its terms of every owned key.
    const query = (i: number) =>
      [
        `    let r${i} = min(i0 + ${i}u, params.t - 1u);`,
        `    let live${i} = i0 + ${i}u < params.t;`,
        `    let row${i} = z * params.t + r${i};`,
        `    let st${i} = textureLoad(ST, vec2<u32>(row${i} % ${w}u, row${i} / ${w}u), 0, 0);`,
        headTexels("    ", `q${i}`, "QKV", "qx", `r${i}`, h4, " * params.alpha"),
        headTexels("    ", `do${i}`, "DO", "qx", `r${i}`, h4),
        each(own, (j) =>
          [
            probAndGrad(i, j, h4, `st${i}.x`, `st${i}.y`, `live${i}`),
            each(
              h4,
              (e) =>
                `    dv${j}_${e} += p${i}_${j} * do${i}_${e};\n    dk${j}_${e} += ds${i}_${j} * q${i}_${e};`,
            ),
          ].join("\n")),
      ].join("\n");
    const store = (j: number) =>
      [
        `  if (first + ${j}u < params.t) {`,
        `    let at = (img * params.t + first + ${j}u) * width;`,
        each(h4, (e) =>
          `    DQKV[at + kx + ${e}u] = dk${j}_${e};\n    DQKV[at + vx + ${e}u] = dv${j}_${e};`),
        "  }",
      ].join("\n");
    return [
      each(own, key),
      `  for (var i0 = 0u; i0 < params.t; i0 += ${step}u) {`,
      each(step, query),
      "  }",
      "  let width = 3u * params.d / 4u;",
      each(own, store),
    ].join("\n");
  });
}
