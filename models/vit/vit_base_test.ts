import assert from "node:assert/strict";
import { vitBase16 } from "./config.ts";
import { ViTForImageClassification } from "./modeling.ts";
import { scope, Tensor } from "../../tensor/tensor.ts";
import { engine } from "../../tensor/engine.ts";
import { init } from "../../tensor/runtime.ts";

await init();

Deno.test(
  "ViT-B/16 forward and backward at batch 2, 224 px, run within the adapter's limits",
  async () => {
    const t0 = performance.now();
    const model = new ViTForImageClassification(vitBase16({ num_labels: 3 }));
    const built = performance.now();
    const pixels = Tensor.from(
      new Float32Array(2 * 3 * 224 * 224).map((_, i) => Math.sin(i * 0.001)),
      [2, 3, 224, 224],
    );
    const loss = scope(() => {
      const out = model.forward(pixels, [0, 2]);
      out.loss!.backward();
      return out.loss!;
    });
    const value = await loss.item();
    const done = performance.now();
    assert.ok(Number.isFinite(value) && value > 0, `loss ${value}`);
    const g = await model.vit.embeddings.patchEmbeddings.projection.weight.grad!.toArray();
    assert.ok(g.some((v) => v !== 0) && g.every(Number.isFinite));
    console.log(
      `ViT-B/16 batch 2: build+init ${((built - t0) / 1000).toFixed(1)} s, ` +
        `forward+backward ${((done - built) / 1000).toFixed(1)} s, ` +
        `peak pool ${(engine().pool.stats.peakBytesInUse / 2 ** 20).toFixed(0)} MiB`,
    );
    model.dispose();
    pixels.dispose();
    loss.dispose();
  },
);
