import assert from "node:assert/strict";
import { applyLora } from "./lora.ts";
import { freezeBackbone } from "./freeze.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { backend } from "../tensor/core/backend.ts";
import type { MatmulCall } from "../tensor/core/backend.ts";
import { scope, Tensor } from "../tensor/tensor.ts";
import { init } from "../tensor/runtime.ts";
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

Deno.test("frozen weights get no gradient buffer and no weight-gradient product", async () => {
  const be = backend();
  const original = be.matmul;
  const originalGrads = be.linearGrads;
  for (const mode of ["full", "lora", "frozen"] as const) {
    const m = model(0);
    if (mode === "lora") {
      applyLora(m, {
        r: 4,
        loraAlpha: 8,
        loraDropout: 0,
        targetModules: ["query", "value"],
        modulesToSave: ["classifier"],
      });
    }
    if (mode === "frozen") freezeBackbone(m, (n) => ViTForImageClassification.isHead(n));
    const frozenShapes = new Set(
      m.namedParameters().filter(([, t]) => !t.requiresGrad && t.rank === 2).map(([, t]) =>
        t.shape.join("x")
      ),
    );
    // The backbone's weight shapes, and the packed q/k/v weight [96, 32] the attention uses.
    const weightShapes = new Set(["96x32"]);
    for (const [n, t] of m.namedParameters()) {
      if (t.rank === 2 && !n.includes("lora_") && !n.startsWith("classifier")) {
        weightShapes.add(t.shape.join("x"));
      }
    }
    let products = 0;
    let inBackward = false;
    be.matmul = (call: MatmulCall) => {
      if (inBackward && weightShapes.has(call.out.shape.join("x"))) products++;
      return original.call(be, call);
    };
    be.linearGrads = (g, x, alpha, half) => {
      if (inBackward && weightShapes.has(`${g.shape.at(-1)}x${x.shape.at(-1)}`)) products++;
      return originalGrads.call(be, g, x, alpha, half);
    };
    try {
      scope(() => {
        const out = m.forward(Tensor.from(PIXELS, [2, 3, 32, 32]), [0, 2]);
        inBackward = true;
        out.loss!.backward();
        inBackward = false;
      });
    } finally {
      be.matmul = original;
      be.linearGrads = originalGrads;
    }
    for (const [name, t] of m.namedParameters()) {
      assert.equal(t.grad !== null, t.requiresGrad, `${mode}: ${name} has a gradient buffer`);
    }
    if (mode === "full") {
      assert.equal(frozenShapes.size, 0);
      // q/k/v (packed), attention output, MLP in, MLP out, in each of the 3 layers.
      assert.equal(products, 4 * 3, "full fine-tune's weight-gradient products");
    } else assert.equal(products, 0, `${mode}: ${products} weight-gradient products`);
    m.dispose();
  }
  await Promise.resolve();
});

Deno.test("freezeBackbone() trains only the head and keeps the backbone in evaluation mode", () => {
  const m = model();
  const n = freezeBackbone(m, (name) => ViTForImageClassification.isHead(name));
  assert.equal(n, 3 * 32 + 3);
  m.train();
  assert.equal(m.training, true);
  assert.equal(m.classifier.training, true);
  assert.ok(m.namedModules().filter(([k]) => k.startsWith("vit")).every(([, x]) => !x.training));
  m.dispose();
});
