/// <reference lib="dom" />
/**
 * The page side of `bench/browser_peft.ts`: starts WebGPU in the tab and runs the same
 * measurement as `deno task bench --peft-memory` ({@link peftMemory}), leaving its entries (or
 * the error) in `globalThis.result` and a summary in the document.
 *
 * @module
 */

import { describeAdapter, init } from "../browser.ts";
import { peftMemory, type PeftMemoryEntry } from "./peft_memory.ts";

const query = new URLSearchParams(location.search);
const lines: string[] = [];
const show = (line: string) => {
  lines.push(line);
  document.body.textContent = lines.join("\n");
  console.log(line);
};

/** What the page leaves for the driver. */
export type BrowserPeftResult =
  | { adapter: string; entries: PeftMemoryEntry[]; jsHeapMb: number | null }
  | { error: string };

(globalThis as { result?: Promise<BrowserPeftResult> }).result = (async () => {
  await init();
  show(`WebGPU: ${describeAdapter()}`);
  const entries = await peftMemory({
    batch: Number(query.get("batch") ?? 2),
    steps: Number(query.get("steps") ?? 2),
    modes: (query.get("modes") ?? "lora-r16+checkpointing").split(","),
    log: show,
  });
  // Chromium's non-standard heap figure, where it has it: the tab's JavaScript side.
  const memory = (performance as { memory?: { usedJSHeapSize: number } }).memory;
  const jsHeapMb = memory ? memory.usedJSHeapSize / 2 ** 20 : null;
  if (jsHeapMb !== null) show(`JS heap in use ${jsHeapMb.toFixed(0)} MiB`);
  return { adapter: describeAdapter(), entries, jsHeapMb };
})().catch((error) => {
  show(`error: ${error?.stack ?? error}`);
  return { error: String(error?.stack ?? error) };
});
