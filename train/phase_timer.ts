/**
 * Wall-clock time of a training run by phase, for `deno task bench --e2e`: the Trainer, the
 * fine-tune sequence and the DataLoader open and close named spans on it when one is given
 * (and do nothing extra when none is). Spans nest; each phase gets its own time, not its
 * children's. With a sync function, every span boundary waits for the GPU first, so that the
 * GPU work recorded in a span is counted in it rather than in the span that reads it back.
 *
 * @module
 */

/** Time spent in one phase. */
export interface PhaseTime {
  /** The phase's name. */
  phase: string;
  /** Milliseconds, excluding nested phases. */
  ms: number;
  /** Times the phase was entered. */
  count: number;
}

/** What the Trainer and the DataLoader call: a span opens with `begin` and closes with `end`. */
export interface PhaseSpans {
  /** Opens a span of `phase` (nested in the open one, if any). */
  begin(phase: string): Promise<void>;
  /** Closes the innermost open span. */
  end(): Promise<void>;
}

interface _Open {
  phase: string;
  t0: number;
  children: number;
}

/**
 * Adds up wall-clock time by phase.
 *
 * @example
 * ```ts
 * import { PhaseTimer } from "./phase_timer.ts";
 * const timer = new PhaseTimer();
 * await timer.span("work", async () => {
 *   await timer.span("inner", () => Promise.resolve());
 * });
 * console.log(timer.phases().map((p) => p.phase)); // ["inner", "work"]
 * ```
 */
export class PhaseTimer implements PhaseSpans {
  readonly #totals = new Map<string, PhaseTime>();
  readonly #open: _Open[] = [];
  readonly #sync: (() => Promise<void>) | null;
  #syncs = 0;

  /**
   * Creates a timer.
   *
   * @param sync Waits for outstanding GPU work at every span boundary (none by default).
   */
  constructor(sync: (() => Promise<void>) | null = null) {
    this.#sync = sync;
  }

  /** GPU syncs the span boundaries made (each costs a little). */
  get syncs(): number {
    return this.#syncs;
  }

  async #boundary(): Promise<number> {
    if (this.#sync) {
      this.#syncs++;
      await this.#sync();
    }
    return performance.now();
  }

  /**
   * Opens a span.
   *
   * @param phase The phase's name.
   */
  async begin(phase: string): Promise<void> {
    const t0 = await this.#boundary();
    this.#open.push({ phase, t0, children: 0 });
  }

  /** Closes the innermost open span and adds its own time to its phase. */
  async end(): Promise<void> {
    const t1 = await this.#boundary();
    const open = this.#open.pop();
    if (!open) throw new Error("PhaseTimer.end() without an open span");
    const elapsed = t1 - open.t0;
    this.add(open.phase, elapsed - open.children);
    const parent = this.#open.at(-1);
    if (parent) parent.children += elapsed;
  }

  /**
   * Runs `fn` in a span of `phase`.
   *
   * @param phase The phase's name.
   * @param fn The work.
   * @returns What `fn` returns.
   */
  async span<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    await this.begin(phase);
    try {
      return await fn();
    } finally {
      await this.end();
    }
  }

  /**
   * Adds time measured elsewhere to a phase.
   *
   * @param phase The phase's name.
   * @param ms Milliseconds.
   */
  add(phase: string, ms: number): void {
    const t = this.#totals.get(phase) ?? { phase, ms: 0, count: 0 };
    t.ms += ms;
    t.count++;
    this.#totals.set(phase, t);
  }

  /**
   * The phases in the order they were first closed.
   *
   * @returns One entry per phase.
   */
  phases(): PhaseTime[] {
    return [...this.#totals.values()].map((t) => ({ ...t }));
  }
}
