/**
 * The Tensor: a shape over a region of a pooled GPU buffer, with explicit lifetime and a tape
 * for reverse-mode autograd.
 *
 * @module
 */

import { activeRuntime, gpu, type GradOps, type Runtime } from "./context.ts";
import type { Storage } from "./command_engine.ts";
import { fromF16Bits, toF16Bits } from "./f16.ts";

/** Element type of a tensor's storage. */
export type DType = "f32" | "f16";

/** Options of {@link Tensor.from}. */
export interface FromOptions {
  /** Track gradients for this tensor (makes it a leaf of the tape). */
  requiresGrad?: boolean;
  /** Storage type; `f16` needs an adapter with `shader-f16`. */
  dtype?: DType;
}

/** A backward function: maps the output's gradient to one gradient per input (or null). */
export type BackwardFn = (grad: Tensor) => (Tensor | null)[];

interface TapeNode {
  inputs: Tensor[];
  backward: BackwardFn;
  name: string;
}

/** Shared, reference-counted backing of a tensor and its views. */
class Backing implements Storage {
  refs = 1;
  constructor(
    public buffer: GPUBuffer,
    public byteOffset: number,
    public byteLength: number,
    public readonly pooled: boolean,
  ) {}
}

const scopes: Set<Tensor>[] = [];
let gradEnabled = true;

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Contiguous row-major strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Bytes per element of a dtype. */
export function bytesPerElement(dtype: DType): number {
  return dtype === "f16" ? 2 : 4;
}

/**
 * An n-dimensional array in GPU memory. Operations record GPU work without waiting; only
 * {@link Tensor.toArray} reads back. Free GPU memory with {@link Tensor.dispose} or {@link scope}.
 *
 * @example
 * ```ts
 * import { Tensor } from "./tensor.ts";
 * import { mul, sum } from "../ops.ts";
 * const x = Tensor.from(new Float32Array([1, 2, 3]), [3], { requiresGrad: true });
 * const y = sum(mul(x, x));
 * y.backward();
 * console.log(await x.grad!.toArray()); // Float32Array [2, 4, 6]
 * ```
 */
export class Tensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Whether gradients flow to this tensor. */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after {@link Tensor.backward}. */
  grad: Tensor | null = null;
  #backing: Backing | null;
  readonly #runtime: Runtime;
  #node: TapeNode | null = null;
  #released = false;

  private constructor(
    backing: Backing,
    shape: readonly number[],
    dtype: DType,
    grad: boolean,
    runtime: Runtime,
  ) {
    this.#backing = backing;
    this.#runtime = runtime;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.requiresGrad = grad;
    scopes.at(-1)?.add(this);
  }

  /**
   * Uploads host data as a new tensor.
   *
   * @param data Values in row-major order.
   * @param shape Dimensions; their product must equal `data.length`.
   * @param options Gradient tracking and storage type.
   * @returns The tensor.
   */
  static from(
    data: Float32Array | readonly number[],
    shape: readonly number[],
    options: FromOptions = {},
  ): Tensor {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    if (sizeOf(shape) !== values.length) {
      throw new Error(`Tensor.from: ${values.length} values do not fill shape [${shape}]`);
    }
    const dtype = options.dtype ?? "f32";
    const t = Tensor.empty(shape, dtype);
    const bytes = dtype === "f16" ? toF16Bits(values) : values;
    if (bytes.byteLength > 0) {
      // queue.writeBuffer needs a multiple of 4 bytes; pad odd-length f16 data.
      const padded = bytes.byteLength % 4 === 0
        ? bytes
        : new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4).fill(0);
      if (padded !== bytes) {
        (padded as Uint8Array).set(
          new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        );
      }
      t.#runtime.engine.write(t.storage, padded);
    }
    t.requiresGrad = options.requiresGrad ?? false;
    return t;
  }

  /**
   * Uploads 32-bit integers bit for bit (index and label buffers for kernels that read
   * `array<u32>` or `array<i32>`). The tensor's nominal dtype is f32; do not use it in
   * arithmetic.
   *
   * @param data The integers.
   * @param shape Dimensions.
   * @returns The tensor.
   */
  static fromBits(data: Uint32Array | Int32Array, shape: readonly number[]): Tensor {
    if (sizeOf(shape) !== data.length) {
      throw new Error(`Tensor.fromBits: ${data.length} values do not fill shape [${shape}]`);
    }
    const t = Tensor.empty(shape);
    if (data.byteLength > 0) t.#runtime.engine.write(t.storage, data);
    return t;
  }

  /**
   * Allocates an uninitialised tensor from the buffer pool.
   *
   * @param shape Dimensions.
   * @param dtype Element type.
   * @returns The tensor; its contents are whatever the pooled buffer held.
   */
  static empty(shape: readonly number[], dtype: DType = "f32"): Tensor {
    const byteLength = Math.max(4, Math.ceil((sizeOf(shape) * bytesPerElement(dtype)) / 4) * 4);
    const runtime = gpu();
    const buffer = runtime.engine.pool.acquire(byteLength);
    return new Tensor(new Backing(buffer, 0, byteLength, true), shape, dtype, false, runtime);
  }

  /**
   * Wraps a region of a caller-owned buffer (for example a parameter arena) without copying.
   * Disposing the tensor does not free the buffer.
   *
   * @param storage The buffer region; its offset must respect the storage-offset alignment.
   * @param shape Dimensions.
   * @param dtype Element type.
   * @returns The tensor.
   */
  static fromStorage(storage: Storage, shape: readonly number[], dtype: DType = "f32"): Tensor {
    const b = new Backing(storage.buffer, storage.byteOffset, storage.byteLength, false);
    return new Tensor(b, shape, dtype, false, gpu());
  }

  /**
   * Overwrites this tensor's values in place (its identity and memory stay the same, so
   * optimiser arenas and views keep working).
   *
   * @param data New values, as many as the tensor has elements.
   */
  assign(data: Float32Array): void {
    if (data.length !== this.size) {
      throw new Error(`assign: ${data.length} values for a tensor of shape [${this.shape}]`);
    }
    if (this.dtype !== "f32") throw new Error("assign: only f32 tensors can be assigned");
    if (data.length > 0) this.#runtime.engine.write(this.storage, data);
  }

  /** A tensor of zeros. */
  static zeros(shape: readonly number[], options: FromOptions = {}): Tensor {
    const t = Tensor.empty(shape, options.dtype ?? "f32");
    t.#runtime.engine.clear(t.storage);
    t.requiresGrad = options.requiresGrad ?? false;
    return t;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True once the tensor's memory has been given back. */
  get disposed(): boolean {
    return this.#backing === null;
  }

  /**
   * @internal The GPU region backing this tensor; throws if it was disposed, or if its runtime
   * is not the active one (an op would record it on another device).
   */
  get storage(): Storage {
    if (!this.#backing) throw new Error(`tensor [${this.shape}] was used after dispose()`);
    if (this.#runtime !== activeRuntime()) {
      throw new Error(
        `tensor [${this.shape}] belongs to another runtime: run its ops inside runtime.run()`,
      );
    }
    return this.#backing;
  }

  /** The runtime this tensor was made on: its memory, and the device its ops run on. */
  get runtime(): Runtime {
    return this.#runtime;
  }

  /** True for tensors that no operation produced (parameters and inputs). */
  get isLeaf(): boolean {
    return this.#node === null && !this.#released;
  }

  /**
   * @internal Moves this tensor's data into `storage` (for example a slot of a parameter
   * arena) and makes that region its backing; the old memory is freed. Views made earlier keep
   * the old memory.
   */
  _adopt(storage: Storage): void {
    const old = this.storage;
    const bytes = Math.ceil((this.size * bytesPerElement(this.dtype)) / 4) * 4;
    if (bytes > storage.byteLength) throw new Error("_adopt: target region is too small");
    const engine = this.#runtime.engine;
    if (bytes > 0) engine.copy(old, storage, bytes);
    const backing = this.#backing!;
    if (--backing.refs === 0 && backing.pooled) engine.pool.release(backing.buffer);
    this.#backing = new Backing(storage.buffer, storage.byteOffset, storage.byteLength, false);
  }

  /** @internal Attaches the tape node that produced this tensor. */
  _setNode(inputs: Tensor[], backward: BackwardFn, name: string): void {
    this.#node = { inputs, backward, name };
    this.requiresGrad = true;
  }

  /** @internal The tape node, if any. */
  _node(): TapeNode | null {
    return this.#node;
  }

  /** @internal Drops the tape node and with it the tensors its backward saved. */
  _releaseNode(): void {
    this.#node = null;
    this.#released = true;
  }

  /**
   * A view with a new shape over the same memory (no copy). One dimension may be -1.
   *
   * @param shape The new dimensions.
   * @returns The view; it records a backward that reshapes the gradient back.
   */
  view(shape: readonly number[]): Tensor {
    const resolved = resolveShape(shape, this.size, this.shape);
    const backing = this.#backing;
    if (!backing) throw new Error(`tensor [${this.shape}] was used after dispose()`);
    backing.refs++;
    const out = new Tensor(backing, resolved, this.dtype, false, this.#runtime);
    if (gradEnabled && this.requiresGrad) {
      const from = this.shape;
      out._setNode([this], (g) => [g.view(from)], "reshape");
    }
    return out;
  }

  /** Frees this tensor's memory (shared memory is freed when its last view goes). */
  dispose(): void {
    const backing = this.#backing;
    if (!backing) return;
    this.#backing = null;
    // The tape node stays: a backward that does not need this tensor's values can still
    // flow through it (as when a scope freed the intermediates of a graph).
    scopes.at(-1)?.delete(this);
    if (--backing.refs === 0 && backing.pooled) this.#runtime.engine.pool.release(backing.buffer);
  }

  /**
   * Reads the values back to the host (the only call that waits for the GPU).
   *
   * @returns The values, as f32, in row-major order.
   */
  async toArray(): Promise<Float32Array> {
    const backing = this.#backing;
    if (!backing) throw new Error(`tensor [${this.shape}] was used after dispose()`);
    const bytes = await this.#runtime.engine.read(
      backing,
      Math.ceil((this.size * bytesPerElement(this.dtype)) / 4) * 4,
    );
    // A product variant that failed its first-use check leaves no value to trust.
    await this.#runtime.tuning.gate?.verify();
    if (this.dtype === "f16") return fromF16Bits(new Uint16Array(bytes, 0, this.size));
    return new Float32Array(bytes, 0, this.size);
  }

  /** Reads back a one-element tensor as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs one element, tensor has [${this.shape}]`);
    return (await this.toArray())[0];
  }

  /**
   * Computes gradients of this tensor with respect to every leaf that requires them, adding
   * them into each leaf's `.grad`. Intermediate gradients are freed as soon as they are used,
   * and the tape is released.
   *
   * @param grad Gradient of this tensor; defaults to ones for a one-element tensor.
   * @param options `release`: also free each intermediate once its backward has run (all its
   * consumers ran before it), for graphs whose intermediates nothing else holds (a
   * recomputed checkpoint).
   */
  backward(grad?: Tensor, options: { release?: boolean } = {}): void {
    // The gradients are recorded on the device the graph lives on.
    this.#runtime.run(() => backward(this, grad, options.release ?? false));
  }
}

function resolveShape(
  shape: readonly number[],
  size: number,
  from: readonly number[],
): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (unknown >= 0) {
    const known = out.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    out[unknown] = known === 0 ? 0 : size / known;
  }
  if (sizeOf(out) !== size || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`cannot reshape [${from}] to [${shape}]`);
  }
  return out;
}

/** Whether operations currently record the tape. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` without recording the tape (for evaluation and optimiser updates).
 *
 * @param fn The work to run.
 * @returns What `fn` returns.
 * @example
 * ```ts
 * import { noGrad, Tensor } from "./tensor.ts";
 * const y = noGrad(() => Tensor.from([1], [1], { requiresGrad: true }).view([1, 1]));
 * console.log(y.requiresGrad); // false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/**
 * Runs `fn` recording the tape even inside {@link noGrad} (a backward that re-runs a forward, as
 * gradient checkpointing does).
 *
 * @param fn The work to run.
 * @returns What `fn` returns.
 * @example
 * ```ts
 * import { enableGrad, noGrad, Tensor } from "./tensor.ts";
 * const x = Tensor.from([1], [1], { requiresGrad: true });
 * console.log(noGrad(() => enableGrad(() => x.view([1, 1]))).requiresGrad); // true
 * ```
 */
export function enableGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

/**
 * Records `out` on the tape as produced from `inputs` when any input requires a gradient.
 *
 * @param out The result of a primitive.
 * @param inputs The tensors it was computed from.
 * @param backward Maps the gradient of `out` to one gradient per input.
 * @param name The primitive's name, for error messages.
 * @returns `out`.
 */
export function record(
  out: Tensor,
  inputs: Tensor[],
  backward: BackwardFn,
  name: string,
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) out._setNode(inputs, backward, name);
  return out;
}

function collect(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (value instanceof Tensor) into.add(value);
  else if (depth < 4 && Array.isArray(value)) value.forEach((v) => collect(v, into, depth + 1));
  else if (depth < 4 && value && typeof value === "object" && !ArrayBuffer.isView(value)) {
    for (const v of Object.values(value)) collect(v, into, depth + 1);
  }
}

function endScope(tracked: Set<Tensor>, result: unknown): void {
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of tracked) {
    if (keep.has(t)) continue;
    t.dispose();
  }
  const parent = scopes.at(-1);
  if (parent) { for (const t of keep) if (tracked.has(t)) parent.add(t); }
}

/**
 * Runs `fn` and then disposes every tensor created inside it, except those it returns (found
 * in arrays and plain objects too) and those passed to {@link keep}. Gradients that
 * `backward()` stores on leaves are kept automatically.
 *
 * @param fn Synchronous work.
 * @returns What `fn` returns.
 * @example
 * ```ts
 * import { scope, Tensor } from "./tensor.ts";
 * import { add } from "../ops.ts";
 * const a = Tensor.from([1, 2], [2]);
 * const c = scope(() => add(add(a, a), a)); // the inner sum is freed
 * console.log(await c.toArray()); // Float32Array [3, 6]
 * ```
 */
export function scope<T>(fn: () => T): T {
  const tracked = new Set<Tensor>();
  scopes.push(tracked);
  let result: T | undefined;
  try {
    result = fn();
    return result;
  } finally {
    scopes.pop();
    endScope(tracked, result);
  }
}

/**
 * The asynchronous form of {@link scope}. Do not run two of these concurrently: tensors are
 * tracked by the innermost scope open at the time they are made.
 *
 * @param fn Asynchronous work.
 * @returns What `fn` resolves to.
 * @example
 * ```ts
 * import { scopeAsync, Tensor } from "./tensor.ts";
 * const v = await scopeAsync(async () => await Tensor.from([4], [1]).item());
 * console.log(v); // 4
 * ```
 */
export async function scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
  const tracked = new Set<Tensor>();
  scopes.push(tracked);
  let result: T | undefined;
  try {
    result = await fn();
    return result;
  } finally {
    const index = scopes.lastIndexOf(tracked);
    if (index >= 0) scopes.splice(index, 1);
    endScope(tracked, result);
  }
}

/**
 * Takes a tensor out of the enclosing scope, so that it outlives it.
 *
 * @param t The tensor to keep.
 * @returns `t`.
 */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = top[0]._node()?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order;
}

function backward(root: Tensor, seed?: Tensor, release = false): void {
  if (!root.requiresGrad) throw new Error("backward() on a tensor that does not require grad");
  if (!seed && root.size !== 1) {
    throw new Error(`backward() without a gradient needs one element, got [${root.shape}]`);
  }
  const ops = root.runtime.gradOps as GradOps<Tensor>;
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    grads.set(root, seed ?? ops.ones(root.shape));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t._node();
      if (!node && !t.isLeaf) {
        throw new Error(
          "backward() reached a graph whose tape was already freed by an earlier backward(); " +
            "run the forward again",
        );
      }
      if (!node) {
        if (t.grad) {
          ops.accumulate(t.grad, g);
          if (g !== seed) g.dispose();
        } else {
          t.grad = keep(g === seed ? ops.clone(g) : g);
        }
        continue;
      }
      const inputGrads = node.backward(g);
      t._releaseNode();
      if (release) t.dispose();
      node.inputs.forEach((input, j) => {
        let ig = inputGrads[j];
        if (!ig) return;
        // A backward may hand its incoming gradient through; own it as a separate view.
        if (ig === g) ig = g.view(g.shape);
        if (!input.requiresGrad) {
          ig.dispose();
          return;
        }
        const previous = grads.get(input);
        if (previous) {
          grads.set(input, ops.add(previous, ig));
          previous.dispose();
          ig.dispose();
        } else {
          grads.set(input, ig);
        }
      });
      if (g !== seed) g.dispose();
    }
  });
}
