/**
 * Element-wise kernels: a table of unary and same-shape maps, and broadcasting binary ops.
 *
 * @module
 */

import { ROUND_F16_WGSL } from "./f16_round.ts";
import { defineKernel, type Kernel, LINEAR_INDEX } from "./kernel.ts";

/** Maximum rank that the broadcasting kernels index (two vec4u per shape). */
export const MAX_RANK = 8;

/**
 * WGSL helpers shared by element-wise kernels: erf from the Numerical Recipes erfc fit
 * (relative error below 1.2e-7), tanh accurate near zero and finite at any size, a power that
 * handles every sign of base as torch does, and exact (erf) GELU and its derivative.
 */
const MATH = `
${ROUND_F16_WGSL}
fn erf_(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 is too coarse for golden tests of GELU gradients.
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}
fn tanh_(x: f32) -> f32 {
  let z = abs(x);
  if (z < 0.5) {
    // Taylor series to x^15: (1 - e^-2z) cancels near zero (1.3 % off at 1e-6).
    let q = x * x;
    return x * (1.0 + q * (-0.3333333333 + q * (0.1333333333 + q * (-0.05396825397 +
      q * (0.02186948854 + q * (-0.008863235530 + q * (0.003592128037 +
      q * -0.001455834387)))))));
  }
  let e = exp(-2.0 * z);
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn nan_() -> f32 {
  // A var, so that the NaN is made at run time (a constant NaN is a shader-creation error).
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}
fn pow_(x: f32, s: f32) -> f32 {
  // WGSL's pow is exp2(s·log2(x)): undefined for x < 0, and not exact for x^2. torch squares,
  // takes sqrt for 0.5 and multiplies out integer powers, so every sign of x works.
  if (s == 0.0) { return 1.0; }
  if (s == 0.5) { return sqrt(x); }
  if (s == -0.5) { return inverseSqrt(x); }
  let n = abs(s);
  if (s != floor(s)) {
    if (x < 0.0) { return nan_(); }
    if (x == 0.0) { return select(1.0 / abs(x), 0.0, s > 0.0); }
    return pow(x, s);
  }
  var r = 1.0;
  if (n <= 64.0) {
    // Exponentiation by squaring keeps the sign of odd powers: x^2 = x·x, x^3 = x·(x·x).
    var b = x;
    var k = u32(n);
    loop {
      if ((k & 1u) == 1u) { r = r * b; }
      k = k >> 1u;
      if (k == 0u) { break; }
      b = b * b;
    }
  } else {
    let odd = floor(n * 0.5) * 2.0 != n;
    r = select(0.0, pow(abs(x), n), x != 0.0);
    r = select(r, -r, odd && x < 0.0);
  }
  return select(r, 1.0 / r, s < 0.0);
}
fn gelu_(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_(x * 0.7071067811865476));
}
fn geluGrad_(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_(x * 0.7071067811865476));
  let pdf = exp(-0.5 * x * x) * 0.3989422804014327;
  return cdf + x * pdf;
}
`;

/**
 * Expressions of the map kernels, over inputs `a`, `b`, `c` (same size) and scalar `s`.
 * Each name is used by an op in tensor/ops.ts, forward or backward.
 */
export const MAP_EXPRESSIONS = {
  neg: ["-a", 1],
  exp: ["exp(a)", 1],
  log: ["log(a)", 1],
  sqrt: ["sqrt(a)", 1],
  rsqrt: ["inverseSqrt(a)", 1],
  tanh: ["tanh_(a)", 1],
  relu: ["max(a, 0.0)", 1],
  gelu: ["gelu_(a)", 1],
  square: ["a * a", 1],
  addScalar: ["a + s", 1],
  mulScalar: ["a * s", 1],
  rsubScalar: ["s - a", 1],
  rdivScalar: ["s / a", 1],
  powScalar: ["pow_(a, s)", 1],
  fill: ["s", 0],
  add: ["a + b", 2],
  sub: ["a - b", 2],
  mul: ["a * b", 2],
  div: ["a / b", 2],
  // Backward helpers: `a` is the forward input or output, `b` the incoming gradient.
  reluGrad: ["select(0.0, b, a > 0.0)", 2],
  geluGrad: ["b * geluGrad_(a)", 2],
  tanhGrad: ["b * (1.0 - a * a)", 2],
  sqrtGrad: ["0.5 * b / a", 2],
  rsqrtGrad: ["-0.5 * b * a * a * a", 2],
  negMul: ["-(a * b)", 2],
  // torch: the gradient of x^0 is 0, even where x^-1 is infinite.
  powGrad: ["select(c * s * pow_(a, s - 1.0), 0.0, s == 0.0)", 3],
  // Half precision: the f16 value nearest `a` (ties to even), as f32.
  roundF16: ["roundF16_(a)", 1],
} as const satisfies Record<string, readonly [string, number]>;

/** Name of a map expression. */
export type MapOp = keyof typeof MAP_EXPRESSIONS;

const mapCache = new Map<string, Kernel>();

/**
 * A kernel computing `out[i] = expr(a[i], b[i], c[i], s)` for `n` elements. With `inPlace`,
 * `out` is the first input and is overwritten. With `vec4`, the operands are bound as vec4
 * arrays and each invocation computes four elements (`n` counts vec4s and must cover the
 * tensors exactly): on CPU adapters one vec4 load costs about what one float does.
 *
 * @param op Which expression.
 * @param options `inPlace`: write the result into the first input; `vec4`: four elements per
 *   invocation.
 * @returns The kernel.
 */
export function mapKernel(
  op: MapOp,
  { inPlace = false, vec4 = false }: { inPlace?: boolean; vec4?: boolean } = {},
): Kernel {
  const key = `map:${op}:${inPlace}${vec4 ? ":vec4" : ""}`;
  let kernel = mapCache.get(key);
  if (kernel) return kernel;
  const [expr, arity] = MAP_EXPRESSIONS[op];
  const names = ["a", "b", "c"].slice(0, arity);
  const type = vec4 ? "array<vec4<f32>>" : "array<f32>";
  const bindings: [string, string, "read" | "read_write"][] = names.map((
    name,
  ) => [`${name}_`, type, "read"]);
  if (inPlace) bindings[0][2] = "read_write";
  else bindings.push(["out", type, "read_write"]);
  const loads = names.map((name) => `let ${name} = ${name}_[i];`).join(" ");
  const target = inPlace ? "a_" : "out";
  // vec4: the scalar expression per component, as a function of the component values.
  const args = names.map((n) => `${n}: f32`).join(", ");
  const fn = vec4 ? `fn expr_(${args}${arity ? ", " : ""}s: f32) -> f32 { return ${expr}; }\n` : "";
  const value = vec4
    ? `vec4<f32>(${
      [..."xyzw"].map((q) =>
        `expr_(${names.map((n) => `${n}.${q}`).join(", ")}${arity ? ", " : ""}s)`
      )
        .join(", ")
    })`
    : expr;
  kernel = defineKernel(
    key,
    bindings,
    [["n", "u32"], ["s", "f32"]],
    `${MATH}${fn}${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.n) { return; }
  let s = params.s;
  ${loads}
  ${target}[i] = ${value};
}
`,
  );
  mapCache.set(key, kernel);
  return kernel;
}

/** Binary operations that broadcast. */
export type BroadcastOp = "add" | "sub" | "mul" | "div";

const broadcastCache = new Map<string, Kernel>();

/**
 * A kernel for `out = a op b` where `a` and `b` broadcast to `outShape`; strides of broadcast
 * dimensions are zero. Shapes are padded on the left to {@link MAX_RANK}. With `vec4`, each
 * invocation takes four consecutive elements of the last dimension, which `a` and `b` must
 * both hold whole (not broadcast) and which must be a multiple of four: one index computation
 * and one vector load of each operand for four elements.
 *
 * @param op The operation.
 * @param vec4 Four elements per invocation (`n` then counts vec4s).
 * @returns The kernel.
 */
export function broadcastKernel(op: BroadcastOp, vec4 = false): Kernel {
  const key = `${op}${vec4 ? ":vec4" : ""}`;
  let kernel = broadcastCache.get(key);
  if (kernel) return kernel;
  const expr = MAP_EXPRESSIONS[op][0];
  const t = vec4 ? "array<vec4<f32>>" : "array<f32>";
  // With vec4, element offsets are multiples of four (every stride is a multiple of the last
  // dimension), so they divide exactly into vector indices.
  const w = vec4 ? 4 : 1;
  kernel = defineKernel(
    `broadcast:${key}`,
    [["a_", t, "read"], ["b_", t, "read"], ["out", t, "read_write"]],
    [
      ["n", "u32"],
      ["outShape0", "vec4u"],
      ["outShape1", "vec4u"],
      ["aStrides0", "vec4u"],
      ["aStrides1", "vec4u"],
      ["bStrides0", "vec4u"],
      ["bStrides1", "vec4u"],
    ],
    `${LINEAR_INDEX}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = linearIndex(g, nw);
  if (i >= params.n) { return; }
  let shape = array<u32, 8>(params.outShape0.x, params.outShape0.y, params.outShape0.z,
    params.outShape0.w, params.outShape1.x, params.outShape1.y, params.outShape1.z,
    params.outShape1.w);
  let sa = array<u32, 8>(params.aStrides0.x, params.aStrides0.y, params.aStrides0.z,
    params.aStrides0.w, params.aStrides1.x, params.aStrides1.y, params.aStrides1.z,
    params.aStrides1.w);
  let sb = array<u32, 8>(params.bStrides0.x, params.bStrides0.y, params.bStrides0.z,
    params.bStrides0.w, params.bStrides1.x, params.bStrides1.y, params.bStrides1.z,
    params.bStrides1.w);
  var rem = i * ${w}u;
  var ia = 0u;
  var ib = 0u;
  for (var d = 7; d >= 0; d--) {
    let coord = rem % shape[d];
    rem = rem / shape[d];
    ia += coord * sa[d];
    ib += coord * sb[d];
  }
  let a = a_[ia / ${w}u];
  let b = b_[ib / ${w}u];
  out[i] = ${expr};
}
`,
  );
  broadcastCache.set(key, kernel);
  return kernel;
}

/**
 * Workgroup counts for `n` threads of the element-wise kernels, folded into two dimensions
 * when one would exceed the 65535 limit.
 *
 * @param n Number of threads.
 * @returns Workgroups in x and y.
 */
export function elementwiseGrid(n: number): [number, number] {
  const groups = Math.ceil(n / 256);
  if (groups <= 65535) return [groups, 1];
  const x = 65535;
  return [x, Math.ceil(groups / x)];
}
