/**
 * The runtime object, which holds every piece of mutable state of the engine: the adapter and
 * device, the backend, the engine (command stream, buffer pool, texture cache, compiled
 * pipelines), the tuning overrides and autotuned table, the dropout seed and counter, the
 * autocast flag, the ops that `backward()` needs and the start-up reports.
 *
 * One process-wide record, {@link defaults}, says which runtime is active (the one new tensors
 * and ops use) and what a runtime not yet made starts with. Nothing else in the engine keeps
 * state between calls, so two runtimes on two devices share nothing.
 *
 * @module
 */

import type { Backend } from "./backend.ts";
import { Tuning } from "./overrides.ts";
import { type AdapterProfile, describeProfile } from "./profile.ts";
import { Engine } from "./command_engine.ts";

/** The adapter, the device, what they can do and the backend that uses them. */
export interface GpuContext {
  /** The adapter the device was requested from. */
  readonly adapter: GPUAdapter;
  /** The device every kernel runs on. */
  readonly device: GPUDevice;
  /** What the adapter can do. */
  readonly profile: AdapterProfile;
  /** @internal The kernels and choices for this adapter. */
  readonly backend: Backend;
}

/** The adapter and device, before a backend is chosen for them. */
export type Device = Omit<GpuContext, "backend">;

/** Thrown when WebGPU has no adapter; its message names the driver to install. */
export class NoGpuAdapterError extends Error {
  /**
   * Creates the error.
   *
   * @param detail What the WebGPU runtime said, if anything.
   */
  constructor(detail = "") {
    super(
      "no WebGPU adapter found" + (detail ? ` (${detail})` : "") +
        ". On Linux without a GPU install Mesa's software Vulkan driver: " +
        "`apt-get install mesa-vulkan-drivers`; elsewhere, install your GPU's Vulkan, Metal or " +
        "D3D12 driver.",
    );
    this.name = "NoGpuAdapterError";
  }
}

/** Thrown by the first tensor operation when the runtime was never started. */
export class NotStartedError extends Error {
  /** Creates the error. */
  constructor() {
    super("Tessera has not started: call `await init()` before the first tensor operation");
    this.name = "NotStartedError";
  }
}

/**
 * What `backward()` needs from the ops (gradient seeds, accumulation); `init()` wires the ops'
 * own into each runtime, so that the tensor module does not depend on the ops module.
 */
export interface GradOps<T> {
  /** Adds `grad` into `target` in place. */
  accumulate(target: T, grad: T): void;
  /** `a + b` as a new tensor. */
  add(a: T, b: T): T;
  /** A tensor of ones. */
  ones(shape: readonly number[]): T;
  /** A copy. */
  clone(t: T): T;
}

/** One kernel family's result in the start-up check. */
export interface FamilyCheck {
  /** The family, for example `matmul texturetn` or `softmax vec4`. */
  readonly family: string;
  /** Largest error against the reference, scaled by the tolerance (pass below 1). */
  readonly error: number;
  /** Whether it matched. */
  readonly ok: boolean;
}

/** What the start-up check found for one backend. */
export interface ConformanceReport {
  /** Each family's result. */
  readonly families: readonly FamilyCheck[];
  /** Wall time of the check, in milliseconds. */
  readonly ms: number;
}

/** The dropout layers' seed and running call counter. */
export interface DropoutState {
  /** The seed. */
  seed: number;
  /** Calls since the seed was set. */
  calls: number;
}

/**
 * A started Tessera runtime: one device and everything the engine keeps for it. Tensors remember
 * the runtime they were made on; ops run on the active one ({@link Runtime.run} makes another
 * active for a while).
 */
export class Runtime implements GpuContext {
  /** The adapter the device was requested from. */
  readonly adapter: GPUAdapter;
  /** The device every kernel runs on. */
  readonly device: GPUDevice;
  /** What the adapter can do. */
  readonly profile: AdapterProfile;
  /** @internal Overrides of the backend's choices and the autotuned table. */
  readonly tuning: Tuning = new Tuning();
  /** The dropout layers' seed and counter. */
  readonly dropout: DropoutState = { seed: 0, calls: 0 };
  /** Whether matmuls round their inputs to f16 (inside `autocast(true, ...)`). */
  autocastHalf = false;
  /** What the start-up check found: one report per backend tried, the chosen one last. */
  reports: readonly ConformanceReport[] = [];
  #backend: Backend | null = null;
  #engine: Engine | null = null;
  #gradOps: GradOps<unknown> | null = null;

  /**
   * Wraps a device (use `init()` or `createRuntime()` rather than calling this).
   *
   * @param device The adapter, the device and the profile.
   */
  constructor(device: Device) {
    this.adapter = device.adapter;
    this.device = device.device;
    this.profile = device.profile;
  }

  /** @internal The kernels and choices for this adapter. */
  get backend(): Backend {
    if (!this.#backend) throw new Error("the runtime's backend is not chosen yet");
    return this.#backend;
  }

  /**
   * @internal Makes `backend` this runtime's (start-up tries each candidate in turn; tests swap
   * one in).
   *
   * @param backend The backend.
   */
  useBackend(backend: Backend): void {
    this.#backend = backend;
  }

  /** @internal The engine that records this runtime's dispatches, made on first use. */
  get engine(): Engine {
    return this.#engine ??= new Engine(this.device, this.profile, defaults.validate);
  }

  /** @internal The ops `backward()` uses; `init()` wires them. */
  get gradOps(): GradOps<unknown> {
    if (!this.#gradOps) throw new Error("autograd ops are not wired: start with init()");
    return this.#gradOps;
  }

  /**
   * @internal Wires the ops that `backward()` needs (done by `init()` and `createRuntime()`).
   *
   * @param ops The ops.
   */
  wireGradOps(ops: GradOps<unknown>): void {
    this.#gradOps = ops;
  }

  /**
   * Runs `fn` with this runtime active: the tensors it makes and the ops it records are this
   * runtime's. Meant for synchronous work; the runtime active before is restored after.
   *
   * @param fn The work.
   * @returns What `fn` returns.
   * @example
   * ```ts
   * import { createRuntime } from "../runtime.ts";
   * import { Tensor } from "./tensor.ts";
   * const rt = await createRuntime();
   * const t = rt.run(() => Tensor.from([1, 2], [2]));
   * console.log(t.runtime === rt); // true
   * ```
   */
  run<T>(fn: () => T): T {
    const before = defaults.active;
    if (before === this) return fn();
    defaults.active = this;
    try {
      return fn();
    } finally {
      defaults.active = before;
    }
  }
}

/**
 * The one process-wide record: the active runtime (or why start-up failed), `init()`'s start,
 * and the engine validation that runtimes not yet made start with.
 */
const defaults: {
  active: Runtime | null;
  failure: unknown;
  starting: Promise<Runtime> | null;
  validate: boolean;
} = { active: null, failure: null, starting: null, validate: false };

/**
 * Makes a started runtime the active one, or remembers why start-up failed, for the first
 * operation to throw.
 *
 * @param started The runtime, or the error that stopped it.
 */
export function installContext(started: Runtime | { error: unknown }): void {
  if ("error" in started) defaults.failure = started.error;
  else {
    defaults.active = started;
    defaults.failure = null;
  }
}

/**
 * The start of the default runtime: made by the first call, the same promise after.
 *
 * @param start Starts the runtime.
 * @returns The promise of the first call.
 */
export function startOnce(start: () => Promise<Runtime>): Promise<Runtime> {
  return defaults.starting ??= start();
}

/**
 * Sets whether engines check every dispatch's bindings: the active runtime's and those of
 * runtimes made later.
 *
 * @param on Whether dispatches check their bindings.
 */
export function setDefaultValidation(on: boolean): void {
  defaults.validate = on;
  if (defaults.active) defaults.active.engine.validate = on;
}

/**
 * Returns the active runtime. Throws {@link NoGpuAdapterError} when start-up found no adapter,
 * and {@link NotStartedError} when `init()` was never called.
 *
 * @returns The runtime: adapter, device, profile, backend, engine and tuning.
 * @example
 * ```ts
 * import { init } from "../runtime.ts";
 * import { gpu } from "./context.ts";
 * await init();
 * console.log(gpu().device.limits.maxStorageBufferBindingSize);
 * ```
 */
export function gpu(): Runtime {
  const active = defaults.active;
  if (active) return active;
  const failure = defaults.failure;
  if (failure instanceof Error) throw failure;
  if (failure !== null) throw new NoGpuAdapterError(String(failure));
  throw new NotStartedError();
}

/**
 * The active runtime, or null before one started (no error).
 *
 * @returns The runtime or null.
 */
export function activeRuntime(): Runtime | null {
  return defaults.active;
}

/**
 * Describes the adapter in one line: what it says of itself (or that it says nothing), software
 * or hardware, and f16.
 *
 * @returns For example `vendor 0x10005, llvmpipe (LLVM 15.0.6, 256 bits), software, shader-f16`.
 * @example
 * ```ts
 * import { init } from "../runtime.ts";
 * import { describeAdapter } from "./context.ts";
 * await init();
 * console.log(describeAdapter());
 * ```
 */
export function describeAdapter(): string {
  return describeProfile(gpu().profile);
}
