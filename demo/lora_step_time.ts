/**
 * Seconds per training step of the bundled model at `deno task train`'s settings (batch 16 at
 * its 120 px, fp16 autocast where the Trainer uses it, AdamW on the trainable parameters), full fine-tuning against LoRA
 * as PEFT's ViT example (r 16, alpha 16, dropout 0.1, query and value, classifier saved). The two
 * models take turns, step by step, in one process, so that a busy machine slows both alike: the
 * ratio is what `demo/lora_vs_full.sh`'s same-wall-time LoRA run rests on.
 *
 *   deno run --allow-read=. --allow-env --preload=cli/_runtime_dir.ts demo/lora_step_time.ts
 *     [ROUNDS]
 *
 * @module
 */

import { AutoModelForImageClassification } from "../models/auto.ts";
import { autocast, concat } from "../tensor/ops.ts";
import { init } from "../tensor/runtime.ts";
import { gpu } from "../tensor/device.ts";
import { noGrad, scopeAsync, Tensor } from "../tensor/tensor.ts";
import { createOptimizer } from "../train/trainer.ts";
import { prepareParameterEfficient } from "../train/parameter_efficient.ts";
import { BUNDLED_MODEL_DIR } from "./config.ts";
import { halfPrecision } from "../train/half_precision.ts";

await init();
const rounds = Number(Deno.args[0] ?? 10);
const batch = 16;
// As the Trainer decides: f32 on a software adapter, f16 matmuls on a GPU with shader-f16.
const half = halfPrecision(true, gpu().profile).half;
const setups = [];
for (const peft of [null, "lora"] as const) {
  const model = await AutoModelForImageClassification.fromPretrained(BUNDLED_MODEL_DIR, {
    numLabels: 3,
    log: () => {},
  });
  const line = prepareParameterEfficient(model, {
    peft,
    loraR: 16,
    loraAlpha: 16,
    loraDropout: 0.1,
    loraTargetModules: ["query", "value"],
    modulesToSave: ["classifier"],
    freezeBackbone: false,
    gradientCheckpointing: false,
  });
  model.train();
  const optimizer = createOptimizer(model, { lr: 2e-4, weightDecay: 0 });
  setups.push({ name: peft ?? "full", model, optimizer, line, ms: [] as number[] });
}
const size = setups[0].model.config.image_size as number;
const pixels = Tensor.from(
  new Float32Array(batch * 3 * size * size).map((_, i) => Math.sin(i)),
  [batch, 3, size, size],
);
const labels = Array.from({ length: batch }, (_, i) => i % 3);
for (let round = 0; round <= rounds; round++) {
  for (const s of setups) {
    const t0 = performance.now();
    await scopeAsync(async () => {
      const { loss } = autocast(half, () => s.model.forward(pixels, labels));
      autocast(half, () => loss!.backward());
      const clip = s.optimizer.clipGradNorm(1);
      s.optimizer.step();
      s.optimizer.zeroGrad();
      await noGrad(() => concat([loss!.view([1]), clip], 0)).toArray();
    });
    // Round 0 warms the pipelines up and is not counted.
    if (round > 0) s.ms.push(performance.now() - t0);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const s of setups) {
  console.log(
    `${s.name}: median ${median(s.ms).toFixed(0)} ms a step over ${s.ms.length} ` +
      `(${s.ms.map((t) => t.toFixed(0)).join(", ")}); ${s.line}`,
  );
}
console.log(
  `LoRA step / full step: ${(median(setups[1].ms) / median(setups[0].ms)).toFixed(3)} ` +
    `(${half ? "fp16" : "f32"}, batch ${batch}, ${size} px)`,
);
pixels.dispose();
for (const s of setups) s.model.dispose();
