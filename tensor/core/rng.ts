/**
 * A small seeded random generator shared by initialisers, shuffles and data generators.
 *
 * @module
 */

/** A seeded generator of uniform values in [0, 1) (mulberry32). */
export class Rng {
  #state: number;

  /**
   * Creates a generator.
   *
   * @param seed Any integer.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next value in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A standard normal value (Box–Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** The generator's state, to save and restore. */
  get state(): number {
    return this.#state;
  }

  set state(value: number) {
    this.#state = value >>> 0;
  }
}
