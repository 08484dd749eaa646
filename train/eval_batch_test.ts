import assert from "node:assert/strict";
import { evalBatchSize } from "./eval_batch.ts";

const TINY = {
  image_size: 120,
  patch_size: 12,
  hidden_size: 128,
  intermediate_size: 256,
  num_attention_heads: 4,
  num_hidden_layers: 4,
};
const BASE = {
  image_size: 224,
  patch_size: 16,
  hidden_size: 768,
  intermediate_size: 3072,
  num_attention_heads: 12,
  num_hidden_layers: 12,
};

Deno.test("evalBatchSize() evaluates the bundled small ViT at a larger batch than asked", () => {
  const b = evalBatchSize(TINY, 8);
  assert.ok(b > 8 && b <= 256, `batch ${b}`);
});

Deno.test("evalBatchSize() keeps ViT-B's activations within the budget", () => {
  // About 170 MiB of activations per ViT-B image: a 256 MiB budget fits 1, so the asked 8 stays.
  assert.deepEqual(evalBatchSize(BASE, 8), 8);
  const big = evalBatchSize(BASE, 1, { budgetBytes: 4 * 2 ** 30 });
  assert.ok(big > 8 && big < 64, `batch ${big}`);
});

Deno.test("evalBatchSize() keeps the attention scores within the binding limit", () => {
  // 4 heads × 102² tokens × 4 bytes = 166 464 bytes per image: 10 images in 1.6 MiB.
  assert.deepEqual(evalBatchSize(TINY, 1, { budgetBytes: 2 ** 40, maxBindingBytes: 1664640 }), 10);
});

Deno.test("evalBatchSize() keeps the asked batch when the config lacks the fields", () => {
  assert.deepEqual(evalBatchSize({ image_size: 32 }, 8), 8);
  assert.deepEqual(evalBatchSize(TINY, 300), 300);
});
