/**
 * The first-use check of matmul variants. The start-up check compiles only the small tiles
 * that small products take and a tile that runs every shape (compiling every tile would take
 * seconds, most of them for tiles a run never uses); every other variant is checked here, once
 * per runtime, backend and layout, just before its first product: recorded ahead of it, on a
 * small product that spans three of its blocks along M and N, the last of each partial, with a
 * bias where the family's products take one (and, for `texturetn`, the column sums a Linear
 * layer's bias gradient takes), and compared with the f64 reference when the GPU is next read.
 * The check's product compiles the kernel a ViT's products of that variant use (N a multiple of
 * 4 for the texture families, whose stores then take four columns at once), because on a
 * software adapter compiling a big tile takes seconds. The product itself runs with the
 * variant, so a run computes the same values whichever variants an earlier run in the process
 * checked. A variant that fails is reported (a warning and {@link firstUseChecks}), never used
 * again, nor by runtimes started later in the process, and every later read of the runtime
 * throws {@link WrongProductError}: its values since that first product are not to be trusted.
 * A check whose read never completes (the device destroyed at unload first) gives no verdict and
 * is recorded again at the next use. The fused attention is checked the same way.
 *
 * @module
 */

import { type MatmulShape, type MatmulVariant, variantName } from "../kernels/matmul.ts";
import {
  REGISTER_VARIANTS,
  TEXTURE_VARIANTS,
  TEXTURENN_VARIANTS,
  TEXTURETN_VARIANTS,
  TILED_VARIANTS,
  VEC4_VARIANTS,
  VEC4TN_VARIANTS,
} from "../kernels/matmul.ts";
import type { Backend, MatmulCheck } from "./core/backend.ts";
import { describeProfile } from "./core/profile.ts";
import { type FamilyCheck, gpu, type Runtime } from "./core/context.ts";
import type { VariantGate } from "./core/overrides.ts";
import { enableGrad, noGrad, scope, Tensor } from "./core/tensor.ts";
import { attentionCheck, type Pending, scaledError, values } from "./conformance.ts";
import * as ref from "./reference.ts";

/** Each family's variants, the small tile last: a failing tile falls back to its family's. */
const FAMILIES: Record<MatmulVariant["family"], readonly MatmulVariant[]> = {
  register: REGISTER_VARIANTS,
  vec4: VEC4_VARIANTS,
  vec4tn: VEC4TN_VARIANTS,
  texture: TEXTURE_VARIANTS,
  texturetn: TEXTURETN_VARIANTS,
  texturenn: TEXTURENN_VARIANTS,
  tiled: TILED_VARIANTS,
};

type State = "pending" | "ok" | "bad";

function same(a: MatmulVariant, b: MatmulVariant): boolean {
  return a.family === b.family && a.tm === b.tm && a.tn === b.tn && a.workgroup === b.workgroup;
}

/** `NN`, `NT`, `TN` or `TT`: the layout a shape's kernel is compiled for. */
function layoutOf(s: { transA: boolean; transB: boolean }): string {
  return (s.transA ? "T" : "N") + (s.transB ? "T" : "N");
}

/**
 * The product a variant is checked on: three of its blocks along M and N (a block is a
 * workgroup's 16 × 16 invocations for `tiled`, one invocation's tile otherwise), the last one
 * partial, over a K that ends in a partial vec4 and a partial step of 16 where the variant runs
 * one. Null where the variant runs none of these.
 */
function checkShape(be: Backend, v: MatmulVariant, transA: boolean, transB: boolean) {
  const [bm, bn] = v.family === "tiled" ? [16 * v.tm, 16 * v.tn] : [v.tm, v.tn];
  // The texture families' last block of N holds four columns: their vec4 stores, as a ViT's.
  const rn = v.family.startsWith("texture") ? 4 : 5;
  for (const [rm, lastN, k] of [[3, rn, 67], [3, rn, 68], [4, 4, 68]]) {
    const s: MatmulShape = { batch: 1, m: 2 * bm + rm, k, n: 2 * bn + lastN, transA, transB };
    if (be.canRun(v, s)) return s;
  }
  return null;
}

/** Whether a variant's products take a bias: all but the texture families for NN and TN. */
function withBias(v: MatmulVariant): boolean {
  return v.family !== "texturenn" && v.family !== "texturetn";
}

/** A tensor's values, read without the runtime's verification (which waits for the checks). */
async function readRaw(rt: Runtime, t: Tensor): Promise<Float32Array> {
  return new Float32Array(await rt.engine.read(t.storage, t.size * 4), 0, t.size);
}

/** The checks that failed in any runtime of this process, by backend class: `adapter|check`. */
const FAILED = new WeakMap<object, Set<string>>();

/** Whether a check failed on a backend of this class and adapter in an earlier runtime. */
function failedBefore(be: Backend, key: string): boolean {
  return FAILED.get(be.constructor)?.has(`${describeProfile(be.profile)}|${key}`) ?? false;
}

function rememberFailure(be: Backend, key: string): void {
  let keys = FAILED.get(be.constructor);
  if (!keys) FAILED.set(be.constructor, keys = new Set());
  keys.add(`${describeProfile(be.profile)}|${key}`);
}

/** Whether the start-up check ran `v` in the layout of `s`. */
function checkedAtStart(be: Backend, v: MatmulVariant, s: MatmulShape): boolean {
  return be.matmulChecks.some((c) => same(c.variant, v) && coversLayout(c, s));
}

function coversLayout(c: MatmulCheck, s: MatmulShape): boolean {
  return !c.layouts || c.layouts.some(([a, b]) => a === s.transA && b === s.transB);
}

/**
 * A check's reads, or null where one rejected: a read that never completed (the device was
 * destroyed, as at unload, before the queue reached it) says nothing about the kernel.
 */
async function settledReads<T>(reads: Promise<T>[]): Promise<T[] | null> {
  try {
    return await Promise.all(reads);
  } catch {
    return null;
  }
}

/** A check's reads, recorded, and what they should hold. */
interface Recorded {
  reads: Promise<Float32Array>[];
  wants: ArrayLike<number>[];
}

/**
 * Records one run of `v` (forced, through the backend's own product path) on the check's
 * product; for `texturetn`, through the Linear weight-gradient path with column sums.
 */
function record(rt: Runtime, be: Backend, v: MatmulVariant, s: MatmulShape): Recorded | null {
  const { tuning } = rt;
  const [forced, last] = [tuning.forcedVariant, tuning.lastVariant];
  tuning.forcedVariant = v;
  try {
    return scope(() =>
      noGrad(() => {
        const { m, k, n, transA, transB } = s;
        const av = values(m * k, m + k + 1);
        const bv = values(k * n, k + n + 2);
        // A bias only where the family's products take one (Linear layers' forward): NN and TN
        // products are gradients, and the check compiles the kernel they run.
        const biasv = withBias(v) ? values(n, n + 3) : null;
        const aShape = transA ? [k, m] : [m, k];
        const bShape = transB ? [n, k] : [k, n];
        const a = Tensor.from(av, aShape);
        const b = Tensor.from(bv, bShape);
        if (v.family === "texturetn") {
          // A Linear layer's weight and bias gradients, g [K, M] as A and x [K, N] as B: the
          // form every texturetn product takes (attention's too, its sums unread).
          const grads = be.linearGrads(a, b, 1, false);
          if (!grads || !tuning.lastVariant || !same(tuning.lastVariant, v)) return null;
          return {
            reads: [readRaw(rt, grads[0]), readRaw(rt, grads[1])],
            wants: [
              ref.refMatmul(ref.host(av, aShape), ref.host(bv, bShape), true, false).data,
              ref.refReduce(ref.host(av, aShape), 0, "sum").data,
            ],
          };
        }
        const out = Tensor.empty([m, n]);
        const bias = biasv ? Tensor.from(biasv, [n]) : undefined;
        be.matmul({ shape: s, a, b, out, alpha: 0.5, bias, half: false });
        if (!tuning.lastVariant || !same(tuning.lastVariant, v)) return null;
        const wants = ref.refMatmul(
          ref.host(av, aShape),
          ref.host(bv, bShape),
          transA,
          transB,
          biasv ? ref.host(biasv, [n]) : undefined,
          0.5,
        ).data;
        return { reads: [readRaw(rt, out)], wants: [wants] };
      })
    );
  } finally {
    tuning.forcedVariant = forced;
    tuning.lastVariant = last;
  }
}

/**
 * Thrown by every read of a runtime after a variant failed its first-use check: the values it
 * computed since that variant's first product are not to be trusted. Runtimes started later in
 * the process do not use the variant.
 */
export class WrongProductError extends Error {
  /**
   * Creates the error.
   *
   * @param failed The failed check.
   */
  constructor(failed: FamilyCheck) {
    super(
      `${failed.family} computed wrong results on this adapter (scaled error ` +
        `${failed.error.toPrecision(3)}): this runtime's values since its first use are wrong; ` +
        "start again (runtimes started from now on, in this process, do not use it)",
    );
    this.name = "WrongProductError";
  }
}

/** One runtime's first-use check: what each variant's check found, per backend. */
export class FirstUseCheck implements VariantGate {
  /** Every check that has finished, in order: `matmul texture 32x32 NT` and its error. */
  readonly checks: FamilyCheck[] = [];
  readonly #states = new WeakMap<Backend, Map<string, State>>();
  readonly #attention = new WeakMap<Backend, State>();
  readonly #pending = new Set<Promise<void>>();

  /**
   * Creates the check of one runtime.
   *
   * @param runtime The runtime whose products it vets.
   */
  constructor(readonly runtime: Runtime) {}

  /**
   * The variant to run a product with: `v`, its check recorded ahead of it the first time the
   * start-up check has not run it in this layout; where it has failed, a checked one (its
   * family's small tile where that has passed, else the start-up check's for the layout).
   *
   * @param be The runtime's backend.
   * @param v The backend's choice.
   * @param s The shape.
   * @returns The variant to run.
   */
  pick(be: Backend, v: MatmulVariant, s: MatmulShape): MatmulVariant {
    if (checkedAtStart(be, v, s) || this.#state(be, v, s) !== "bad") return v;
    const small = FAMILIES[v.family].at(-1)!;
    const tile = small.workgroup === v.workgroup ? small : { ...small, workgroup: v.workgroup };
    if (!same(tile, v) && be.canRun(tile, s)) {
      if (checkedAtStart(be, tile, s) || this.#state(be, tile, s) === "ok") return tile;
    }
    const checked = be.matmulChecks.find((c) => be.canRun(c.variant, s) && coversLayout(c, s));
    if (!checked) throw new Error(`matmul: no checked kernel runs ${layoutOf(s)} on ${be.name}`);
    return checked.variant;
  }

  /**
   * Whether attention may take the backend's fused path: false once its check (forward and
   * backward on a small input, recorded ahead of the first fused attention) has failed.
   *
   * @param be The runtime's backend.
   * @returns Whether it may.
   */
  fusedAttention(be: Backend): boolean {
    const state = this.#attention.get(be) ?? (failedBefore(be, "attention") ? "bad" : null);
    if (state) return state !== "bad";
    this.#attention.set(be, "pending");
    this.#track(be, "attention", this.#runAttention(be), (ok) => {
      if (ok === null) this.#attention.delete(be);
      else this.#attention.set(be, ok ? "ok" : "bad");
    });
    return true;
  }

  /**
   * Waits for the checks recorded so far; throws {@link WrongProductError} where any has failed.
   *
   * @returns When every check so far has passed.
   */
  async verify(): Promise<void> {
    await this.settled();
    const failed = this.checks.find((c) => !c.ok);
    if (failed) throw new WrongProductError(failed);
  }

  /**
   * Waits for every check started so far.
   *
   * @returns When they have finished.
   */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /** `v`'s state for the layout of `s`, recording its check the first time. */
  #state(be: Backend, v: MatmulVariant, s: MatmulShape): State {
    let states = this.#states.get(be);
    if (!states) this.#states.set(be, states = new Map());
    const name = `matmul ${variantName(v)} ${layoutOf(s)}`;
    const key = `${name} ${v.workgroup}`;
    const state = states.get(key) ?? (failedBefore(be, key) ? "bad" : null);
    if (state) return state;
    states.set(key, "pending");
    this.#track(
      be,
      name,
      this.#run(be, v, s),
      (ok) => ok === null ? states.delete(key) : states.set(key, ok ? "ok" : "bad"),
      key,
    );
    return "pending";
  }

  /**
   * Records a check's outcome when it comes; a failure is warned about and remembered. A check
   * whose read never completed (null: the device was destroyed, as at unload) has no outcome:
   * it is forgotten, and the next use records it again.
   */
  #track(
    be: Backend,
    family: string,
    run: Promise<number | null>,
    settle: (ok: boolean | null) => void,
    key = family,
  ): void {
    const done = run.then((error) => {
      if (error === null) return settle(null);
      const ok = error <= 1;
      settle(ok);
      this.checks.push({ family, error, ok });
      if (!ok) {
        rememberFailure(be, key);
        console.warn(
          `tessera: ${family} computes wrong results on this adapter (scaled error ` +
            `${error.toPrecision(3)}); it is switched off`,
        );
      }
    });
    this.#pending.add(done);
    done.finally(() => this.#pending.delete(done));
  }

  /**
   * Runs the fused attention's check with the backend's own choice of product variants (the
   * ones the fused kernels run at this size), not the gate's.
   */
  async #runAttention(be: Backend): Promise<number | null> {
    const rt = this.runtime;
    const gate = rt.tuning.gate;
    let recorded: { reads: Promise<Float32Array | null>[]; wants: ArrayLike<number>[] };
    rt.tuning.gate = null;
    try {
      // The check runs the backward too, whatever the op that first takes the fused path does.
      recorded = rt.run(() =>
        scope(() => {
          const pending: Pending[] = [];
          enableGrad(() => attentionCheck(be, pending));
          const reads = pending.map((p) => p.got ? readRaw(rt, p.got) : Promise.resolve(null));
          // The input's gradient outlives the scope; the copies to read are recorded.
          for (const p of pending) p.got?.dispose();
          return { reads, wants: pending.map((p) => p.want) };
        })
      );
    } catch {
      return Infinity;
    } finally {
      rt.tuning.gate = gate;
    }
    // A backend without fused attention has nothing to check.
    if (recorded.reads.length === 0) return 0;
    const got = await settledReads(recorded.reads);
    return got && Math.max(...got.map((g, i) => g ? scaledError(g, recorded.wants[i]) : Infinity));
  }

  /**
   * Runs the check of `v` in the layout of `s`: its worst scaled error (Infinity if recording
   * it throws), or null where its reads never completed.
   */
  async #run(be: Backend, v: MatmulVariant, s: MatmulShape): Promise<number | null> {
    const shape = checkShape(be, v, s.transA, s.transB);
    if (!shape) return Infinity;
    let recorded: ReturnType<typeof record>;
    try {
      recorded = this.runtime.run(() => record(this.runtime, be, v, shape));
    } catch {
      return Infinity;
    }
    if (!recorded) return Infinity;
    const wants = recorded.wants;
    const got = await settledReads(recorded.reads);
    return got && Math.max(...got.map((g, i) => scaledError(g, wants[i])));
  }
}

/**
 * What the active runtime's first-use check has found so far: one entry per variant and layout
 * checked (and one for the fused attention), `ok` false where it computed wrong; the runtime's
 * reads then throw {@link WrongProductError}.
 *
 * @returns The finished checks, in order.
 * @example
 * ```ts
 * import { init } from "./runtime.ts";
 * import { firstUseChecks } from "./first_use.ts";
 * await init();
 * console.log(firstUseChecks().filter((c) => !c.ok)); // []
 * ```
 */
export function firstUseChecks(): readonly FamilyCheck[] {
  return gateOf(gpu())?.checks ?? [];
}

/**
 * Waits until every first-use check the active runtime has recorded has finished, without
 * throwing where one failed (reads do that), so that {@link firstUseChecks} lists them all.
 *
 * @returns When they have.
 * @example
 * ```ts
 * import { init } from "./runtime.ts";
 * import { firstUseChecksSettled } from "./first_use.ts";
 * await init();
 * await firstUseChecksSettled();
 * ```
 */
export async function firstUseChecksSettled(): Promise<void> {
  await gateOf(gpu())?.settled();
}

function gateOf(rt: Runtime): FirstUseCheck | null {
  const gate = rt.tuning.gate;
  return gate instanceof FirstUseCheck ? gate : null;
}
