/**
 * Bounded, seeded fuzzing of the parsers that read untrusted files: safetensors headers and
 * JPEG/PNG images. Every mutated input must either parse or fail with the parser's typed
 * error, within a time bound and without unbounded allocation (decoders run with a 1-megapixel
 * limit). `deno run --allow-read=. tests/fuzz.ts [cases]` runs a larger campaign.
 *
 * @module
 */

import { parseSafetensors, SafetensorsError, serializeSafetensors } from "../nn/safetensors.ts";
import { decodeImage, ImageDecodeError } from "../data/image.ts";
import { encodeJpeg } from "../data/jpeg.ts";
import { encodePng } from "../data/png.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import { Rng } from "../tensor/rng.ts";

/** Outcome counts of a campaign. */
export interface FuzzReport {
  /** Cases run. */
  cases: number;
  /** Inputs that parsed. */
  ok: number;
  /** Inputs refused with the typed error. */
  refused: number;
  /** Slowest case in milliseconds. */
  slowestMs: number;
  /** Failures: untyped errors or cases over the time bound. */
  failures: string[];
}

function mutate(bytes: Uint8Array, rng: Rng, headerEnd: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  const kind = Math.floor(rng.next() * 6);
  const pick = (limit = out.length) => Math.floor(rng.next() * Math.max(1, limit));
  if (kind === 0) {
    for (let i = 0, n = 1 + pick(8); i < n; i++) out[pick(headerEnd)] ^= 1 << pick(8);
  } else if (kind === 1) {
    return out.subarray(0, pick());
  } else if (kind === 2) {
    for (let i = 0, n = 1 + pick(4); i < n; i++) out[pick(headerEnd)] = pick(256);
  } else if (kind === 3) {
    const at = pick();
    const extra = Uint8Array.from({ length: 1 + pick(16) }, () => pick(256));
    const grown = new Uint8Array(out.length + extra.length);
    grown.set(out.subarray(0, at));
    grown.set(extra, at);
    grown.set(out.subarray(at), at + extra.length);
    return grown;
  } else if (kind === 4) {
    for (let i = 0, n = 1 + pick(32); i < n; i++) out[pick()] ^= 1 << pick(8);
  } else {
    const a = pick();
    const b = pick();
    out.copyWithin(a, b, b + 1 + pick(64));
  }
  return out;
}

function run(
  cases: number,
  seed: number,
  inputs: { bytes: Uint8Array; headerEnd: number }[],
  parse: (bytes: Uint8Array) => unknown,
  typed: (e: unknown) => boolean,
  boundMs: number,
): FuzzReport {
  const rng = new Rng(seed);
  const report: FuzzReport = { cases, ok: 0, refused: 0, slowestMs: 0, failures: [] };
  for (let c = 0; c < cases; c++) {
    const base = inputs[c % inputs.length];
    const bytes = mutate(base.bytes, rng, base.headerEnd);
    const t0 = performance.now();
    try {
      parse(bytes);
      report.ok++;
    } catch (error) {
      if (typed(error)) report.refused++;
      else {report.failures.push(
          `case ${c}: ${(error as Error)?.name}: ${(error as Error)?.message}`,
        );}
    }
    const ms = performance.now() - t0;
    report.slowestMs = Math.max(report.slowestMs, ms);
    if (ms > boundMs) {
      report.failures.push(`case ${c}: took ${ms.toFixed(0)} ms (bound ${boundMs})`);
    }
  }
  return report;
}

/** Mutated safetensors files: header bytes, the length field, offsets, truncation. */
export function fuzzSafetensors(cases: number, seed = 1): FuzzReport {
  const valid = serializeSafetensors([
    ["a.weight", { shape: [3, 4], data: new Float32Array(12).fill(1) }],
    ["a.bias", { shape: [4], data: new Float32Array(4) }],
    ["b", { shape: [2, 1, 2], data: new Float32Array([1, 2, 3, 4]) }],
  ], { dtype: "F16" });
  const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
  return run(
    cases,
    seed,
    [{ bytes: valid, headerEnd }],
    (b) => parseSafetensors(b, "fuzz.safetensors"),
    (e) => e instanceof SafetensorsError,
    200,
  );
}

/** Mutated JPEG and PNG files (headers and entropy-coded data). */
export function fuzzImages(cases: number, seed = 2): FuzzReport {
  const img = renderBeanLeaf(1, 3, 24);
  const inputs = [
    { bytes: encodeJpeg(img, 80), headerEnd: 620 },
    { bytes: encodePng(img), headerEnd: 60 },
  ];
  return run(
    cases,
    seed,
    inputs,
    (b) => decodeImage(b, { name: "fuzz", maxPixels: 1 << 20 }),
    (e) => e instanceof ImageDecodeError,
    2000,
  );
}

if (import.meta.main) {
  const cases = Number(Deno.args[0] ?? 20000);
  for (const [name, fn] of [["safetensors", fuzzSafetensors], ["images", fuzzImages]] as const) {
    const t0 = performance.now();
    const r = fn(cases, 12345);
    console.log(
      `${name}: ${r.cases} cases, ${r.ok} parsed, ${r.refused} refused with a typed error, ` +
        `${r.failures.length} failures, slowest ${r.slowestMs.toFixed(1)} ms, ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    for (const f of r.failures.slice(0, 10)) console.log(`  ${f}`);
  }
}
