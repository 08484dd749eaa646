/**
 * Console progress: on a terminal, one redrawn bar with step/total, epoch, loss, lr, it/s and
 * ETA; otherwise plain log lines only. Where the bar goes is a {@link ProgressSink} that the
 * caller gives (the CLI passes Deno's stdout), so the display runs anywhere.
 *
 * @module
 */

import type { ProgressInfo } from "./trainer.ts";

/** Where a progress bar is drawn. */
export interface ProgressSink {
  /** Whether it is a terminal (the bar is drawn only there). */
  readonly isTerminal: boolean;
  /**
   * Writes text as is (with `\r` and ANSI erase codes).
   *
   * @param text The text.
   */
  write(text: string): void;
}

/** No terminal: log lines only. */
const NO_TERMINAL: ProgressSink = { isTerminal: false, write: () => {} };

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
  readonly #sink: ProgressSink;
  readonly #tty: boolean;
  readonly #log: (line: string) => void;
  #bar = "";

  /**
   * Creates the display.
   *
   * @param sink Where the bar is drawn (none by default: log lines only).
   * @param log Where log lines go (console.log by default).
   */
  constructor(sink: ProgressSink = NO_TERMINAL, log = (line: string): void => console.log(line)) {
    this.#sink = sink;
    this.#tty = sink.isTerminal;
    this.#log = log;
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
    this.#sink.write(`\r\x1b[2K${this.#bar}`);
  }

  /** Prints a line above the bar. */
  log(line: string): void {
    if (this.#tty && this.#bar) this.#sink.write("\r\x1b[2K");
    this.#log(line);
    if (this.#tty && this.#bar) this.#sink.write(this.#bar);
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.#tty && this.#bar) this.#sink.write("\n");
    this.#bar = "";
  }
}
