import assert from "node:assert/strict";
import { checkpointed, enableGradientCheckpointing } from "./gradient_checkpointing.ts";
import { applyLora } from "./lora.ts";
import { setDropoutSeed } from "./layers.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { scope, Tensor } from "../tensor/tensor.ts";
import { init } from "../tensor/runtime.ts";
import { engine } from "../tensor/engine.ts";
import { rng, uniform } from "../tensor/_test_util.ts";

await init();

function model(dropout = 0.1): ViTForImageClassification {
  return new ViTForImageClassification(
    makeViTConfig({
      hidden_size: 32,
      num_hidden_layers: 3,
      num_attention_heads: 2,
      intermediate_size: 64,
      image_size: 32,
      patch_size: 8,
      num_labels: 3,
      hidden_dropout_prob: dropout,
      attention_probs_dropout_prob: dropout,
    }, "test"),
    7,
  );
}

const PIXELS = uniform(rng(5), 2 * 3 * 32 * 32);

/** One training step's loss backward; the gradients of every trainable parameter by name. */
async function gradients(m: ViTForImageClassification): Promise<Map<string, Float32Array>> {
  setDropoutSeed(11);
  scope(() => {
    const out = m.forward(Tensor.from(PIXELS, [2, 3, 32, 32]), [0, 2]);
    out.loss!.backward();
  });
  const grads = new Map<string, Float32Array>();
  for (const [name, t] of m.namedParameters()) {
    if (t.grad) grads.set(name, await t.grad.toArray());
    t.grad?.dispose();
    t.grad = null;
  }
  return grads;
}

Deno.test("gradient checkpointing matches the plain run bit for bit, with dropout", async () => {
  for (const lora of [false, true]) {
    const m = model();
    if (lora) {
      applyLora(m, {
        r: 4,
        loraAlpha: 8,
        loraDropout: 0.1,
        targetModules: ["query", "value"],
        modulesToSave: ["classifier"],
        seed: 3,
      });
      // Non-zero lora_B, so that gradients reach lora_A too.
      for (const [n, t] of m.namedParameters()) {
        if (n.endsWith("lora_B.weight")) t.assign(uniform(rng(9), t.size, -0.5, 0.5));
      }
    }
    m.train();
    const plain = await gradients(m);
    assert.equal(enableGradientCheckpointing(m), 1);
    const recomputed = await gradients(m);
    assert.deepEqual([...recomputed.keys()], [...plain.keys()]);
    assert.equal(plain.size, lora ? 14 : m.parameters().length);
    for (const [name, g] of plain) {
      assert.deepEqual(recomputed.get(name), g, `${lora ? "LoRA " : ""}${name}`);
      assert.ok(g.some((v) => v !== 0), `${name} has a gradient`);
    }
    m.dispose();
  }
});

Deno.test("checkpointed() keeps only the block's output between forward and backward", () => {
  const m = model(0);
  const layer = m.vit.encoder.layer.items[0];
  const x = Tensor.from(uniform(rng(3), 2 * 17 * 32), [2, 17, 32], { requiresGrad: true });
  const stats = engine().pool.stats;
  const held = (fn: () => Tensor) =>
    scope(() => {
      const before = stats.bytesInUse;
      const out = fn();
      return { bytes: stats.bytesInUse - before, out: out.size * 4 };
    });
  const plain = held(() => layer.forward(x));
  const recomputed = held(() => checkpointed((t) => layer.forward(t), x, layer));
  // The plain layer holds its intermediates for backward; the checkpointed one its output.
  assert.ok(
    recomputed.bytes <= 2 * recomputed.out,
    `checkpointed layer holds ${recomputed.bytes} B`,
  );
  assert.ok(plain.bytes > 10 * recomputed.out, `plain layer holds ${plain.bytes} B`);
  x.dispose();
  m.dispose();
});
