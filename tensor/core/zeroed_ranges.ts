/**
 * Which byte ranges of which buffers hold zeros because the engine cleared them and nothing has
 * written them since. Gradient accumulation asks it: a parameter's gradient that is still zero
 * takes a copy of the incoming gradient instead of an add kernel that reads both.
 *
 * @module
 */

/**
 * Cleared ranges per buffer, split as writes land in them. Ranges are half-open byte
 * intervals, kept sorted and disjoint.
 *
 * @example
 * ```ts
 * import { ZeroedRanges } from "./zeroed_ranges.ts";
 * const ranges = new ZeroedRanges<object>();
 * const buffer = {};
 * ranges.cleared(buffer, 0, 1024);
 * ranges.written(buffer, 256, 512);
 * console.log(ranges.isZero(buffer, 0, 256), ranges.isZero(buffer, 0, 512)); // true false
 * ```
 */
export class ZeroedRanges<B extends object> {
  readonly #ranges = new WeakMap<B, [number, number][]>();

  /**
   * Notes that `[start, end)` of `buffer` was cleared.
   *
   * @param buffer The buffer.
   * @param start First byte.
   * @param end One past the last byte.
   */
  cleared(buffer: B, start: number, end: number): void {
    if (end <= start) return;
    // Ranges that touch or overlap the new one merge into it; the others stay.
    const kept: [number, number][] = [];
    let [lo, hi] = [start, end];
    for (const [s, e] of this.#ranges.get(buffer) ?? []) {
      if (e < start || s > end) kept.push([s, e]);
      else [lo, hi] = [Math.min(lo, s), Math.max(hi, e)];
    }
    kept.push([lo, hi]);
    kept.sort((a, b) => a[0] - b[0]);
    this.#ranges.set(buffer, kept);
  }

  /**
   * Notes that `[start, end)` of `buffer` was written (or may have been).
   *
   * @param buffer The buffer.
   * @param start First byte.
   * @param end One past the last byte.
   */
  written(buffer: B, start: number, end: number): void {
    const ranges = this.#ranges.get(buffer);
    if (!ranges || end <= start) return;
    const left: [number, number][] = [];
    for (const [s, e] of ranges) {
      if (e <= start || s >= end) {
        left.push([s, e]);
        continue;
      }
      if (s < start) left.push([s, start]);
      if (e > end) left.push([end, e]);
    }
    if (left.length > 0) this.#ranges.set(buffer, left);
    else this.#ranges.delete(buffer);
  }

  /**
   * Whether all of `[start, end)` of `buffer` is known to hold zeros.
   *
   * @param buffer The buffer.
   * @param start First byte.
   * @param end One past the last byte.
   * @returns True when one cleared range covers it.
   */
  isZero(buffer: B, start: number, end: number): boolean {
    return (this.#ranges.get(buffer) ?? []).some(([s, e]) => s <= start && end <= e);
  }
}
