import assert from "node:assert/strict";
import { findAliasing } from "./aliasing.ts";
import { backendCandidates, init } from "../runtime.ts";
import { gpu } from "../device.ts";
import { GpuBackend } from "../backend/gpu/gpu.ts";
import type { Backend } from "./backend.ts";
import { chooseBackend } from "../conformance.ts";
import { engine } from "./engine.ts";
import { AdamW } from "../ops/adamw.ts";
import { scope, Tensor } from "./tensor.ts";
import { makeViTConfig } from "../../models/vit/config.ts";
import { ViTForImageClassification } from "../../models/vit/modeling.ts";

await init();

/** Stand-ins for buffers: the check compares them by identity only. */
const bufferA = {} as GPUBuffer;
const bufferB = {} as GPUBuffer;
const range = (buffer: GPUBuffer, start: number, end: number) => ({
  buffer,
  byteOffset: start,
  byteLength: end - start,
});

Deno.test(
  "findAliasing() follows Dawn: overlapping writes and write-with-read of a buffer are conflicts",
  () => {
    const a = range(bufferA, 0, 64);
    const aTail = range(bufferA, 32, 96);
    const aFar = range(bufferA, 64, 128);
    const b = range(bufferB, 0, 64);
    assert.equal(
      findAliasing(["read_write", "read_write"], [a, aTail])?.reason.split(" (")[0],
      "are writable and overlap",
    );
    assert.equal(findAliasing(["read_write", "read_write"], [a, aFar]), null, "disjoint writes");
    assert.equal(findAliasing(["read", "read"], [a, aTail]), null, "overlapping reads");
    assert.equal(findAliasing(["read_write", "read_write"], [a, b]), null, "different buffers");
    const mixed = findAliasing(["read", "read_write", "read"], [b, a, aFar]);
    assert.deepEqual([mixed?.first, mixed?.second], [1, 2]);
    assert.match(mixed!.reason, /writable and read-only/, "even disjoint");
    assert.equal(
      findAliasing(["read_write", "read_write"], [a, range(bufferA, 0, 0)]),
      null,
      "empty",
    );
  },
);

Deno.test("findAliasing() rejects one texture view bound as a storage texture and sampled", () => {
  const view = {} as GPUTextureView;
  const other = {} as GPUTextureView;
  assert.ok(findAliasing(["texture", "storage_texture"], [view, view]));
  assert.equal(findAliasing(["texture", "storage_texture"], [other, view]), null);
  assert.equal(findAliasing(["texture", "texture"], [view, view]), null);
});

/** Runs `fn` with `backend` installed, then puts the runtime's own back. */
async function withBackend<T>(backend: Backend, fn: () => Promise<T>): Promise<T> {
  const own = gpu().backend;
  gpu().useBackend(backend);
  try {
    return await fn();
  } finally {
    gpu().useBackend(own);
  }
}

Deno.test(
  "every backend passes the start-up check and trains a ViT step with validation on",
  async () => {
    const before = engine().validate;
    engine().validate = true;
    const { profile } = gpu();
    // The GPU backend too, which this adapter would not pick: its tiled kernels and group rows.
    const candidates = [
      new GpuBackend(profile),
      ...backendCandidates({ ...profile, software: true }),
    ];
    try {
      for (const candidate of candidates) {
        await withBackend(candidate, async () => {
          const { reports } = await chooseBackend([candidate]);
          const failed = reports[0].families.filter((f) => !f.ok).map((f) => f.family);
          assert.deepEqual(failed, [], `${candidate.name}: ${failed.join(", ")}`);
          const config = makeViTConfig({
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 48,
            image_size: 32,
            patch_size: 16,
          }, "tiny");
          const model = new ViTForImageClassification(config, 7);
          const opt = new AdamW(model.parameters(), { lr: 1e-3 });
          const x = Tensor.from(new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i)), [
            2,
            3,
            32,
            32,
          ]);
          const loss = scope(() => {
            const l = model.forward(x, [0, 1]).loss!;
            l.backward();
            return l;
          });
          opt.clipGradNorm(1);
          opt.step();
          assert.ok(Number.isFinite(await loss.item()));
          loss.dispose();
          x.dispose();
          model.dispose();
        });
      }
    } finally {
      engine().validate = before;
    }
  },
);
