/**
 * One layer of ViT-B/16 at its real width (hidden 768, 12 heads of 64, MLP 3072) at 224 px,
 * loaded through `fromPretrained`, against float64 PyTorch (`tests/fixtures/gen_vit_b_layer.py`):
 * logits, loss and every parameter's gradient, on the backend `init()` picks and on the GPU
 * backend (the tiled kernels a discrete GPU gets) forced onto this adapter. The 7.8M weights are
 * generated from each parameter's name by an integer hash on both sides, not stored.
 */
import assert from "node:assert/strict";
import { makeViTConfig } from "../models/vit/config.ts";
import { parseSafetensors, serializeSafetensors } from "../nn/safetensors.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { GpuBackend } from "../tensor/backend/gpu/gpu.ts";
import type { Backend } from "../tensor/core/backend.ts";
import { gpu } from "../tensor/device.ts";
import { init } from "../tensor/runtime.ts";
import { scope, Tensor } from "../tensor/tensor.ts";
import { testTempDir } from "../io/_test_util.ts";

await init();

const file = new URL("fixtures/vit_b_layer.safetensors", import.meta.url);
const { tensors, metadata } = parseSafetensors(await Deno.readFile(file), file.pathname);
const golden = (name: string): Float32Array => {
  const entry = tensors.get(name);
  assert.ok(entry, `the fixture has ${name}`);
  return entry.data;
};

/** FNV-1a of a name, as the generator's `fnv1a`. */
function fnv1a(name: string): number {
  let h = 2166136261;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

/** `n` values in [0, 1) from an integer hash of (index, seed), as the generator's `pattern`. */
function pattern(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = (Math.imul(i, 2654435761) + seed + 12345) >>> 0;
    for (let r = 0; r < 2; r++) {
      x = (x ^ (x >>> 16)) >>> 0;
      x = Math.imul(x, 0x45d9f3b) >>> 0;
    }
    out[i] = ((x ^ (x >>> 16)) >>> 0) / 4294967296;
  }
  return out;
}

/** A parameter's generated values, as the generator's `weight`. */
function weight(name: string, n: number): Float32Array {
  const u = pattern(n, fnv1a(name));
  const layerNorm = name.includes("layernorm") && name.endsWith(".weight");
  return Float32Array.from(
    u,
    (v) =>
      layerNorm
        ? 1 + 0.2 * (v - 0.5)
        : name.endsWith(".bias")
        ? 0.04 * (v - 0.5)
        : 2 * 0.02 * 3 ** 0.5 * (v - 0.5),
  );
}

/** Writes the generated model as a Hugging Face folder and loads it with fromPretrained. */
async function loadModel(dir: string): Promise<ViTForImageClassification> {
  const fields = JSON.parse(metadata.config);
  const shapes = new ViTForImageClassification(makeViTConfig(fields), 1);
  const entries = shapes.namedParameters().map(([name, t]) =>
    [name, { shape: t.shape, data: weight(name, t.size) }] as const
  );
  shapes.dispose();
  await Deno.writeTextFile(`${dir}/config.json`, metadata.config);
  await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(entries));
  const logs: string[] = [];
  const model = await ViTForImageClassification.fromPretrained(dir, { log: (m) => logs.push(m) });
  assert.deepEqual(logs, [], "every weight was found");
  return model;
}

const maxAbs = (v: ArrayLike<number>) =>
  Array.from(v).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

const KEY_BIAS = /attention\.attention\.key\.bias$/;

/** The model's largest gradient element (of the stored ones). */
const LARGEST = Math.max(
  ...[...tensors.keys()].filter((k) => /^(grad|rows)\./.test(k)).map((k) => maxAbs(golden(k))),
);

/**
 * Worst |actual − expected| over the tensor's largest expected magnitude: the measure the ViT
 * goldens bound.
 */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  return worst / (maxAbs(expected) || 1);
}

/** The summaries the fixture stores of a large gradient, computed in f64 from ours. */
function summaries(g: Float32Array, shape: readonly number[], name: string) {
  const cols = shape.length === 3 ? shape[2] : g.length / shape[0];
  const rows = g.length / cols;
  const rownorm = new Float64Array(rows);
  const colnorm = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const v = g[r * cols + c];
      s += v * v;
      colnorm[c] += v * v;
    }
    rownorm[r] = Math.sqrt(s);
  }
  colnorm.forEach((v, c) => colnorm[c] = Math.sqrt(v));
  const picks = [0, Math.floor(rows / 3), Math.floor(2 * rows / 3), rows - 1];
  const picked = picks.flatMap((r) => Array.from(g.subarray(r * cols, (r + 1) * cols)));
  const sign = pattern(g.length, (fnv1a(name) ^ 0x5bd1e995) >>> 0);
  let dot = 0;
  for (let i = 0; i < g.length; i++) dot += sign[i] < 0.5 ? -g[i] : g[i];
  return { rownorm, colnorm, rows: picked, dot: [dot] };
}

/**
 * Logits, loss, every full gradient, row and column norm and stored row within 2e-5 of the
 * tensor's largest magnitude; the signed sums, which cancel most of their terms, within 2e-4 of
 * their own size. The key bias's gradient is zero in exact arithmetic (softmax ignores a shift
 * of a query's scores), so it is rounding noise, held to 5e-8 of the largest gradient element.
 */
const BOUND = { general: 2e-5, dot: 2e-4, keyBias: 5e-8 };

/** Every comparison's error as a share of its bound (1 fails), worst first. */
async function errors(model: ViTForImageClassification): Promise<[string, number][]> {
  const px = pattern(3 * 224 * 224, 777).map((v) => Math.fround(v * 2 - 1));
  const { logits, loss } = scope(() => {
    const out = model.forward(Tensor.from(Float32Array.from(px), [1, 3, 224, 224]), [2]);
    out.loss!.backward();
    return out;
  });
  const found: [string, number][] = [
    ["logits", relativeError(await logits.toArray(), golden("logits")) / BOUND.general],
    ["loss", relativeError(await loss!.toArray(), golden("loss")) / BOUND.general],
  ];
  logits.dispose();
  loss!.dispose();
  for (const [name, param] of model.namedParameters()) {
    assert.ok(param.grad, `${name} has a gradient`);
    const g = await param.grad.toArray();
    param.grad.dispose();
    param.grad = null;
    if (tensors.has(`grad.${name}`)) {
      const expected = golden(`grad.${name}`);
      const error = relativeError(g, expected);
      found.push([
        name,
        KEY_BIAS.test(name)
          ? error * maxAbs(expected) / (BOUND.keyBias * LARGEST)
          : error / BOUND.general,
      ]);
      continue;
    }
    const ours = summaries(g, param.shape, name);
    for (const key of ["rownorm", "colnorm", "rows", "dot"] as const) {
      const error = relativeError(ours[key], golden(`${key}.${name}`));
      found.push([`${name} ${key}`, error / (key === "dot" ? BOUND.dot : BOUND.general)]);
    }
  }
  return found.sort((a, b) => b[1] - a[1]);
}

function check(found: [string, number][], label: string): void {
  console.log(`${label}: worst ${found.slice(0, 3).map(([n, e]) => `${n} ${e.toFixed(3)}`)}`);
  for (const [name, share] of found) {
    assert.ok(share <= 1, `${label}: ${name} off by ${share.toFixed(2)} times its bound`);
  }
}

const dir = await testTempDir();
const model = await loadModel(dir);

Deno.test("a ViT-B-width layer at 224 px: logits, loss, gradients equal PyTorch's", async () => {
  check(await errors(model), gpu().backend.name);
});

Deno.test("the same ViT-B-width layer on the GPU backend forced onto this adapter", async () => {
  const own = gpu().backend;
  const forced: Backend = new GpuBackend(gpu().profile);
  gpu().useBackend(forced);
  try {
    check(await errors(model), forced.name);
  } finally {
    gpu().useBackend(own);
  }
});

globalThis.addEventListener("unload", () => {
  model.dispose();
  Deno.removeSync(dir, { recursive: true });
});
