/**
 * Console progress: on a terminal, one redrawn bar with step/total, epoch, loss, lr, it/s and
 * ETA; otherwise plain log lines only.
 *
 * @module
 */

import type { ProgressInfo } from "./trainer.ts";

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60
    ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
    : `${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/** A progress display for training. */
export class Progress {
  readonly #tty: boolean;
  #bar = "";
  readonly #encoder = new TextEncoder();

  /**
   * Creates the display.
   *
   * @param tty Draw a bar (defaults to whether stdout is a terminal).
   */
  constructor(tty = Deno.stdout.isTerminal()) {
    this.#tty = tty;
  }

  /** The bar text for a progress report. */
  static format(p: ProgressInfo): string {
    const width = 24;
    const filled = Math.round((p.step / p.maxSteps) * width);
    const rate = p.stepsThisRun / Math.max(p.elapsed, 1e-9);
    const eta = (p.maxSteps - p.step) / rate;
    return `${String(Math.round((p.step / p.maxSteps) * 100)).padStart(3)}%|${"█".repeat(filled)}${
      " ".repeat(width - filled)
    }| ${p.step}/${p.maxSteps} [${clock(p.elapsed)}<${clock(eta)}, ${rate.toFixed(2)}it/s] ` +
      `epoch ${p.epoch.toFixed(2)} loss ${p.loss.toFixed(4)} lr ${p.learningRate.toExponential(2)}`;
  }

  /** Shows a step's progress. */
  update(p: ProgressInfo): void {
    if (!this.#tty) return;
    this.#bar = Progress.format(p);
    Deno.stdout.writeSync(this.#encoder.encode(`\r\x1b[2K${this.#bar}`));
  }

  /** Prints a line above the bar. */
  log(line: string): void {
    if (this.#tty && this.#bar) Deno.stdout.writeSync(this.#encoder.encode("\r\x1b[2K"));
    console.log(line);
    if (this.#tty && this.#bar) Deno.stdout.writeSync(this.#encoder.encode(this.#bar));
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.#tty && this.#bar) Deno.stdout.writeSync(this.#encoder.encode("\n"));
    this.#bar = "";
  }
}
