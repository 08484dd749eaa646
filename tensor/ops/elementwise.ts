/**
 * Element-wise primitives with broadcasting, each with its backward beside its forward.
 *
 * @module
 */

import type { BroadcastOp } from "../../kernels/elementwise.ts";
import { assertF32, runMap } from "./_dispatch.ts";
import { backend } from "../core/backend.ts";
import { expand, sumTo } from "./reduce.ts";
import { record, Tensor } from "../core/tensor.ts";

/**
 * The shape two shapes broadcast to, by NumPy's rules.
 *
 * @param a First shape.
 * @param b Second shape.
 * @returns The broadcast shape.
 */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function binary(op: BroadcastOp, a: Tensor, b: Tensor): Tensor {
  assertF32(a, op);
  assertF32(b, op);
  if (sameShape(a.shape, b.shape)) return runMap(op, [a, b], a.shape);
  const shape = broadcastShapes(a.shape, b.shape);
  const out = Tensor.empty(shape);
  backend().broadcast(op, a, b, out);
  return out;
}

/**
 * `a + b`, broadcasting; `b` may be a number.
 *
 * @example
 * ```ts
 * import { add, Tensor } from "../../mod.ts";
 * const y = add(Tensor.from([1, 2, 3, 4], [2, 2]), Tensor.from([10, 20], [2]));
 * console.log(await y.toArray()); // Float32Array [11, 22, 13, 24]
 * ```
 */
export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") {
    return record(runMap("addScalar", [a], a.shape, b), [a], (g) => [g], "add");
  }
  return record(
    binary("add", a, b),
    [a, b],
    (g) => [sumTo(g, a.shape), sumTo(g, b.shape)],
    "add",
  );
}

/** `a - b`, broadcasting; `b` may be a number. */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") {
    return record(runMap("addScalar", [a], a.shape, -b), [a], (g) => [g], "sub");
  }
  return record(binary("sub", a, b), [a, b], (g) => [
    a.requiresGrad ? sumTo(g, a.shape) : null,
    b.requiresGrad ? reduced(runMap("neg", [g], g.shape), b.shape) : null,
  ], "sub");
}

/** `a * b`, broadcasting; `b` may be a number. */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") {
    return record(
      runMap("mulScalar", [a], a.shape, b),
      [a],
      (g) => [runMap("mulScalar", [g], g.shape, b)],
      "mul",
    );
  }
  return record(binary("mul", a, b), [a, b], (g) => [
    a.requiresGrad ? reduced(binary("mul", g, b), a.shape) : null,
    b.requiresGrad ? reduced(binary("mul", g, a), b.shape) : null,
  ], "mul");
}

/** `a / b`, broadcasting; `b` may be a number. */
export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === "number") return mul(a, 1 / b);
  const out = binary("div", a, b);
  return record(out, [a, b], (g) => {
    // d(a/b)/db = -(g / b) * (a / b), reusing the saved output.
    const gOverB = binary("div", g, b);
    const da = a.requiresGrad ? sumTo(gOverB, a.shape) : null;
    const db = b.requiresGrad ? reduced(runMap("negMul", [gOverB, out], out.shape), b.shape) : null;
    gOverB.dispose();
    return [da, db];
  }, "div");
}

/** Sums `t` down to `shape` and releases `t` (a view of it stays valid). */
function reduced(t: Tensor, shape: readonly number[]): Tensor {
  const r = sumTo(t, shape);
  t.dispose();
  return r;
}

/** `-x`. */
export function neg(x: Tensor): Tensor {
  return record(runMap("neg", [x], x.shape), [x], (g) => [runMap("neg", [g], g.shape)], "neg");
}

/** `e^x`. */
export function exp(x: Tensor): Tensor {
  const out = runMap("exp", [x], x.shape);
  return record(out, [x], (g) => [runMap("mul", [g, out], g.shape)], "exp");
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return record(runMap("log", [x], x.shape), [x], (g) => [runMap("div", [g, x], g.shape)], "log");
}

/** Square root. */
export function sqrt(x: Tensor): Tensor {
  const out = runMap("sqrt", [x], x.shape);
  return record(out, [x], (g) => [runMap("sqrtGrad", [out, g], g.shape)], "sqrt");
}

/** `1 / sqrt(x)`. */
export function rsqrt(x: Tensor): Tensor {
  const out = runMap("rsqrt", [x], x.shape);
  return record(out, [x], (g) => [runMap("rsqrtGrad", [out, g], g.shape)], "rsqrt");
}

/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  const out = runMap("tanh", [x], x.shape);
  return record(out, [x], (g) => [runMap("tanhGrad", [out, g], g.shape)], "tanh");
}

/** `max(x, 0)`. */
export function relu(x: Tensor): Tensor {
  return record(
    runMap("relu", [x], x.shape),
    [x],
    (g) => [runMap("reluGrad", [x, g], g.shape)],
    "relu",
  );
}

/**
 * GELU in its exact erf form, `x · Φ(x)` (Hugging Face's `"gelu"`).
 *
 * @example
 * ```ts
 * import { gelu, Tensor } from "../../mod.ts";
 * console.log(await gelu(Tensor.from([1], [1])).toArray()); // ≈ 0.8413
 * ```
 */
export function gelu(x: Tensor): Tensor {
  return record(
    runMap("gelu", [x], x.shape),
    [x],
    (g) => [runMap("geluGrad", [x, g], g.shape)],
    "gelu",
  );
}

/** `x^p` for a constant exponent. */
export function pow(x: Tensor, p: number): Tensor {
  return record(
    runMap("powScalar", [x], x.shape, p),
    [x],
    (g) => [runMap("powGrad", [x, x, g], g.shape, p)],
    "pow",
  );
}

/**
 * Broadcasts `x` to `shape` by copying (the inverse of {@link sumTo}).
 *
 * @param x Input.
 * @param shape Target shape; `x` must broadcast to it.
 * @returns A new tensor.
 */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  broadcastShapes(x.shape, shape);
  return expand(x, shape);
}
