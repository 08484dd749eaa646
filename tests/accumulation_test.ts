/**
 * Gradient accumulation in the Trainer: N micro-batches of B images accumulated into one step
 * train exactly as one batch of N·B (the loader's micro-batches are consecutive slices of the
 * same permutation), and the step counts that logging, the schedule and the metrics use are
 * optimiser steps, not micro-batches.
 */
import assert from "node:assert/strict";
import { ViTImageProcessor } from "../data/processor.ts";
import { makeTrainingArguments } from "../train/args.ts";
import { parameterValues } from "../train/checkpoint.ts";
import { Trainer } from "../train/trainer.ts";
import { init } from "../tensor/runtime.ts";
import { testTempDir } from "../io/_test_util.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { config, fixtureDataset, fixtureModel, recipe } from "./_trajectory.ts";

await init();

interface Run {
  trainer: Trainer;
  /** Each step's loss and learning rate, from onStepEnd. */
  loss: number[];
  learningRate: number[];
  weights: Map<string, Float32Array>;
  metrics: Record<string, number>;
}

/** Two epochs of the 24 fixture images: 6 steps of 8 images in every run. */
async function train(batch: number, accumulation: number): Promise<Run> {
  const model = fixtureModel();
  const dir = await testTempDir();
  const args = makeTrainingArguments({
    outputDir: dir,
    perDeviceTrainBatchSize: batch,
    gradientAccumulationSteps: accumulation,
    numTrainEpochs: 2,
    learningRate: recipe.lr,
    weightDecay: recipe.weight_decay,
    maxGradNorm: recipe.max_grad_norm,
    seed: recipe.seed,
    saveStrategy: "no",
    loggingSteps: 2,
    reportTo: "none",
    dataloaderNumWorkers: 0,
  });
  const run = { loss: [], learningRate: [] } as unknown as Run;
  run.trainer = new Trainer({
    model,
    args,
    processor: new ViTImageProcessor({ size: config.image_size }),
    trainDataset: fixtureDataset(),
    log: () => {},
    callbacks: [{
      onStepEnd(_args, _state, _control, progress) {
        run.loss.push(progress.loss);
        run.learningRate.push(progress.learningRate);
      },
    }],
  });
  try {
    run.metrics = (await run.trainer.train()).metrics;
    run.weights = await parameterValues(model, run.trainer.optimizer!);
  } finally {
    run.trainer.close();
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
  return run;
}

const whole = await train(8, 1);

for (const [batch, accumulation] of [[4, 2], [2, 4]]) {
  Deno.test(`${accumulation} micro-batches of ${batch} train as one batch of 8 does`, async () => {
    const run = await train(batch, accumulation);
    assert.equal(run.loss.length, 6, "one onStepEnd per optimiser step");
    // Sums of the same per-image terms in another order: f32 rounding apart.
    assertClose(run.loss, whole.loss, { atol: 0, rtol: 2e-6 }, "step losses");
    for (const [name, expected] of whole.weights) {
      // Adam divides by each element's RMS, so the key biases (zero gradient in exact
      // arithmetic: softmax ignores a shift) move by rounding noise times the learning rate.
      const atol = name.endsWith("attention.attention.key.bias") ? 6 * recipe.lr : 2e-6;
      assertClose(run.weights.get(name)!, expected, { atol, rtol: 0 }, name);
    }
  });

  Deno.test(`with ${accumulation} micro-batches, logs, schedule, metrics count steps`, async () => {
    const run = await train(batch, accumulation);
    const state = run.trainer.state;
    assert.equal(state.global_step, 6);
    assert.equal(state.max_steps, 6);
    assert.equal(state.epoch, 2);
    // The schedule advances once per step: the same rates as without accumulation.
    assert.deepEqual(run.learningRate, whole.learningRate);
    assert.deepEqual(run.learningRate, [0, 1, 2, 3, 4, 5].map((s) => recipe.lr * (6 - s) / 6));
    const logged = (r: Run) =>
      r.trainer.state.log_history.filter((e) => "loss" in e) as Record<string, number>[];
    const entries = logged(run);
    assert.deepEqual(entries.map((e) => [e.step, e.epoch, e.learning_rate]), [
      [2, 0.6667, recipe.lr * 4 / 6],
      [4, 1.3333, recipe.lr * 2 / 6],
      [6, 2, 0],
    ]);
    assertClose(
      entries.map((e) => e.loss),
      logged(whole).map((e) => e.loss),
      { atol: 1e-4, rtol: 0 },
      "logged losses (4 decimals)",
    );
    assert.equal(run.metrics.total_flos, whole.metrics.total_flos);
    // 48 images went through: 2 epochs of 24, whatever the micro-batch size.
    const samples = run.metrics.train_samples_per_second * run.metrics.train_runtime;
    assert.ok(Math.abs(samples - 48) < 0.5, `train_samples_per_second × runtime = ${samples}`);
  });
}
