/**
 * The computations the browser test runs twice, in Chromium through the bundle of `browser.ts`
 * and in Deno through `mod.ts`: a 2-layer tiny ViT's forward, backward and AdamW step on fixed
 * pixels, and a DataLoader's batches of an in-memory PNG. They take the library as an argument,
 * so that both sides run this one source.
 *
 * @module
 */

import type * as Tessera from "../../browser.ts";

/** A ViT small enough for a quick test: 2 layers, 32 px images in 16 px patches. */
export const TINY_VIT: Record<string, unknown> = {
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 48,
  image_size: 32,
  patch_size: 16,
  id2label: { "0": "a", "1": "b", "2": "c" },
};

/** What {@link trainTinyViT} measured. */
export interface StepsReport {
  /** `describeAdapter()`. */
  adapter: string;
  /** The backend the runtime picked. */
  backend: string;
  /** The loss before each step's update. */
  losses: number[];
  /** The first step's logits, [batch, labels] row-major. */
  firstLogits: number[];
  /** Wall time of each step (forward, backward, update, loss read back), in milliseconds. */
  stepMs: number[];
}

/** Pixels in [-1, 1) from a fixed sequence: the same on every run and on both sides. */
export function fixedPixels(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) / 2 ** 23 - 1;
  }
  return out;
}

/**
 * Starts Tessera and trains a ViT built from `config` with seed 7 for `steps` AdamW steps on one
 * fixed batch.
 *
 * @param t The library (`mod.ts`, or the bundle of `browser.ts`).
 * @param steps Number of steps.
 * @param config ViT config fields (Hugging Face's names); {@link TINY_VIT} by default.
 * @param batch Images per step.
 * @returns Losses, the first logits and step times.
 * @example
 * ```ts ignore
 * import * as tessera from "../../mod.ts";
 * import { trainTinyViT } from "./tiny_vit_steps.ts";
 * console.log((await trainTinyViT(tessera, 3)).losses);
 * ```
 */
export async function trainTinyViT(
  t: typeof Tessera,
  steps: number,
  config: Record<string, unknown> = TINY_VIT,
  batch = 4,
): Promise<StepsReport> {
  const rt = await t.init();
  const vit = t.makeViTConfig({ ...TINY_VIT, ...config }, "browser test");
  const model = new t.ViTForImageClassification(vit, 7);
  const opt = new t.AdamW(model.parameters(), { lr: 1e-3 });
  const size = vit.image_size;
  const labelCount = Object.keys(vit.id2label).length;
  const labels = Array.from({ length: batch }, (_, i) => i % labelCount);
  const pixels = t.keep(
    t.Tensor.from(fixedPixels(batch * 3 * size * size), [batch, 3, size, size]),
  );
  const report: StepsReport = {
    adapter: t.describeAdapter(),
    backend: rt.backend.name,
    losses: [],
    firstLogits: [],
    stepMs: [],
  };
  for (let step = 0; step < steps; step++) {
    const start = performance.now();
    const [loss, logits] = t.scope(() => {
      const out = model.forward(pixels, labels);
      out.loss!.backward();
      return [out.loss!, out.logits];
    });
    opt.step();
    opt.zeroGrad();
    report.losses.push(await loss.item());
    report.stepMs.push(performance.now() - start);
    if (step === 0) report.firstLogits = [...await logits.toArray()];
    loss.dispose();
    logits.dispose();
  }
  pixels.dispose();
  return report;
}

/** A 6×5 RGB PNG (`encodePng` of bytes `(i * 37) % 256`). */
const PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAYAAAAFCAIAAADpOgqxAAAAaklEQVR4XgFfAKD/" +
  "AAAlSm+Uud4DKE1yl7zhBitQdQCav+QJLlN4ncLnDDFWe6DF6g8ANFl+o8jtEjdc" +
  "gabL8BU6X4SpAM7zGD1ih6zR9htAZYqv1PkeQwBojbLX/CFGa5C12v8kSW6TuN3F" +
  "kyzaxNTEdgAAAABJRU5ErkJggg==";

/** What {@link loadBatches} saw. */
export interface LoaderReport {
  /** Each batch's pixel values, flattened, in order. */
  pixels: number[][];
  /** Each batch's labels. */
  labels: number[][];
  /** The loader's warnings. */
  warnings: string[];
}

/**
 * Loads three in-memory copies of one PNG through a DataLoader that asks for two worker
 * threads: Deno runs them; a browser bundle prepares the samples on its own thread.
 *
 * @param t The library (`mod.ts`, or the bundle of `browser.ts`).
 * @returns The batches and the warnings.
 */
export async function loadBatches(t: typeof Tessera): Promise<LoaderReport> {
  await t.init();
  const bytes = Uint8Array.from(atob(PNG_BASE64), (c) => c.charCodeAt(0));
  const rows = [0, 1, 2].map((i) => ({ image: { path: `leaf${i}.png`, bytes }, labels: i % 2 }));
  const ds = new t.Dataset(rows, new t.ClassLabel(["a", "b"]));
  const warnings: string[] = [];
  const loader = new t.DataLoader(ds, new t.ViTImageProcessor({ size: 8 }).config, {
    batchSize: 2,
    numWorkers: 2,
    log: (m) => warnings.push(m),
  });
  const report: LoaderReport = { pixels: [], labels: [], warnings };
  try {
    for await (const batch of loader.batches(0)) {
      report.pixels.push([...await batch.pixelValues.toArray()]);
      report.labels.push(batch.labels);
      batch.pixelValues.dispose();
    }
  } finally {
    loader.close();
  }
  return report;
}
