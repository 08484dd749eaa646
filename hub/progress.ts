/**
 * Download progress in the CLI's progress style (`train/progress.ts`): on a terminal one
 * redrawn bar per file with bytes, rate and ETA; elsewhere one line when each file is done.
 *
 * @module
 */

import type { DownloadProgress } from "./download.ts";

/** Where the bar is drawn (the CLI passes stderr). */
export interface ByteProgressSink {
  /** Whether it is a terminal (the bar is redrawn only there). */
  readonly isTerminal: boolean;
  /**
   * Writes text as is.
   *
   * @param text The text.
   */
  write(text: string): void;
}

/** 1536 → "1.5k", in tqdm's unit scale (powers of 1000, as huggingface_hub's bars). */
export function formatBytes(n: number): string {
  const units = ["", "k", "M", "G", "T"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)}${units[i]}`;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60
    ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
    : `${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * One progress line: `model.safetensors:  42%|██████████              | 12.3M/29.1M
 * [00:03<00:04, 4.10MB/s]`.
 *
 * @param p The progress.
 * @returns The line.
 * @example
 * ```ts
 * import { formatDownload } from "./progress.ts";
 * console.log(formatDownload({ path: "a.bin", done: 500, total: 1000, elapsed: 1,
 *   finished: false }));
 * // a.bin:  50%|████████████            | 500/1.00k [00:01<00:01, 500B/s]
 * ```
 */
export function formatDownload(p: DownloadProgress): string {
  const width = 24;
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(fraction * width);
  const rate = p.done / Math.max(p.elapsed, 1e-9);
  const eta = (p.total - p.done) / rate;
  return `${p.path}: ${String(Math.round(fraction * 100)).padStart(3)}%|${"█".repeat(filled)}${
    " ".repeat(width - filled)
  }| ${formatBytes(p.done)}/${formatBytes(p.total)} [${clock(p.elapsed)}<${clock(eta)}, ${
    formatBytes(rate)
  }B/s]`;
}

/**
 * A progress receiver for {@link HubClient.onProgress}: redraws at most 10 times a second.
 *
 * @param sink Where to draw.
 * @returns The receiver.
 */
export function progressPrinter(sink: ByteProgressSink): (p: DownloadProgress) => void {
  let last = 0;
  return (p) => {
    if (p.finished) {
      sink.write(`${sink.isTerminal ? "\r\x1b[2K" : ""}${formatDownload(p)}\n`);
      return;
    }
    if (!sink.isTerminal) return;
    const now = performance.now();
    if (now - last < 100) return;
    last = now;
    sink.write(`\r\x1b[2K${formatDownload(p)}`);
  };
}
