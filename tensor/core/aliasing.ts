/**
 * WebGPU's rules on what one dispatch may bind, checked in TypeScript: browsers (Dawn) reject a
 * dispatch that breaks them, while Deno's wgpu runs it and lets the writes race.
 *
 * Within one dispatch (a compute pass's usage scope):
 *
 * - two writable storage bindings of one buffer must not overlap (Dawn: "Writable storage
 *   buffer binding aliasing found between …");
 * - a buffer bound writable must not also be bound read-only, whatever the ranges, because
 *   usages are tracked per buffer (Dawn: "usage (Storage(read-write)|Storage(read-only))
 *   includes writable usage and another usage in the same synchronization scope");
 * - a texture bound as a storage texture must not also be bound as a sampled texture.
 *
 * Read-only bindings may overlap each other freely.
 *
 * @module
 */

import type { BindingAccess } from "../../kernels/kernel.ts";

/** A storage binding as the check sees it: a buffer and a byte range. */
export interface BoundRange {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Start of the range in bytes. */
  byteOffset: number;
  /** Length of the range in bytes. */
  byteLength: number;
}

/** Two bindings of one dispatch that WebGPU forbids together. */
export interface AliasingConflict {
  /** Index of the first binding. */
  first: number;
  /** Index of the second binding. */
  second: number;
  /** Why WebGPU rejects the pair. */
  reason: string;
}

/** Thrown by a dispatch whose bindings break WebGPU's aliasing rules (validation mode). */
export class BindingAliasingError extends Error {
  /** The kernel's cache key. */
  readonly kernel: string;
  /** The offending pair of bindings. */
  readonly conflict: AliasingConflict;

  /**
   * Creates the error.
   *
   * @param kernel The kernel's cache key.
   * @param conflict The offending pair.
   */
  constructor(kernel: string, conflict: AliasingConflict) {
    super(
      `kernel ${kernel}: bindings ${conflict.first} and ${conflict.second} ${conflict.reason}`,
    );
    this.name = "BindingAliasingError";
    this.kernel = kernel;
    this.conflict = conflict;
  }
}

function isRange(b: BoundRange | GPUTextureView): b is BoundRange {
  return "buffer" in b;
}

function describe(r: BoundRange): string {
  return `bytes ${r.byteOffset}..${r.byteOffset + r.byteLength}`;
}

/**
 * Finds the first pair of bindings that one WebGPU dispatch may not hold together.
 *
 * @param access How the kernel binds each resource.
 * @param bound What is bound, in binding order: buffer ranges, or texture views (one view per
 *   texture, as the texture cache makes them).
 * @returns The conflict, or null when the bindings are valid together.
 * @example
 * ```ts
 * import { findAliasing } from "./aliasing.ts";
 * const buffer = {} as GPUBuffer; // only its identity matters
 * const x = { buffer, byteOffset: 0, byteLength: 64 };
 * const y = { buffer, byteOffset: 64, byteLength: 64 };
 * console.log(findAliasing(["read_write", "read_write"], [x, y])); // null: disjoint writes
 * console.log(findAliasing(["read", "read_write"], [x, y])?.reason); // writable and read-only
 * ```
 */
export function findAliasing(
  access: readonly BindingAccess[],
  bound: readonly (BoundRange | GPUTextureView)[],
): AliasingConflict | null {
  for (let i = 0; i < bound.length; i++) {
    const a = bound[i];
    for (let j = i + 1; j < bound.length; j++) {
      const b = bound[j];
      const writeA = access[i] === "read_write" || access[i] === "storage_texture";
      const writeB = access[j] === "read_write" || access[j] === "storage_texture";
      if (!writeA && !writeB) continue;
      if (!isRange(a) || !isRange(b)) {
        if (a === b) {
          return { first: i, second: j, reason: "bind one texture as storage and another way" };
        }
        continue;
      }
      if (a.buffer !== b.buffer) continue;
      if (writeA !== writeB) {
        return {
          first: i,
          second: j,
          reason: `bind one buffer writable and read-only (${describe(a)} and ${describe(b)})`,
        };
      }
      const overlap = a.byteOffset < b.byteOffset + b.byteLength &&
        b.byteOffset < a.byteOffset + a.byteLength;
      if (overlap && a.byteLength > 0 && b.byteLength > 0) {
        return {
          first: i,
          second: j,
          reason: `are writable and overlap (${describe(a)} and ${describe(b)})`,
        };
      }
    }
  }
  return null;
}
