/**
 * A whole training run against PyTorch (`tests/fixtures/gen_trajectory.py`): 30 Trainer steps
 * of a small ViT with the loader's seeded order, AdamW with weight decay on HF's groups,
 * clipping at 1.0 and a linear decay; the loss and gradient norm of every step, and every weight
 * after steps 1, 3, 10 and 30. In f32 against float64 torch; in fp16 against torch with Tessera's
 * autocast emulated (f16 matmul operands) and GradScaler's state machine, where the first two
 * steps overflow and are skipped.
 */
import assert from "node:assert/strict";
import { DataLoader } from "../data/loader.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { makeTrainingArguments } from "../train/args.ts";
import { parameterValues } from "../train/checkpoint.ts";
import { Trainer } from "../train/trainer.ts";
import { gpu } from "../tensor/device.ts";
import { init } from "../tensor/runtime.ts";
import { testTempDir } from "../io/_test_util.ts";
import { config, fixture, fixtureDataset, fixtureModel, recipe, tensors } from "./_trajectory.ts";

await init();

const SNAPSHOTS = [1, 3, 10, 30];

interface Run {
  loss: number[];
  gradNorm: number[];
  learningRate: number[];
  weights: Map<number, Map<string, Float32Array>>;
  logs: string[];
}

async function train(fp16: boolean): Promise<Run> {
  const model = fixtureModel();
  const dir = await testTempDir();
  const args = makeTrainingArguments({
    outputDir: dir,
    perDeviceTrainBatchSize: recipe.batch,
    maxSteps: recipe.steps,
    learningRate: recipe.lr,
    weightDecay: recipe.weight_decay,
    maxGradNorm: recipe.max_grad_norm,
    lrSchedulerType: "linear",
    seed: recipe.seed,
    fp16,
    saveStrategy: "no",
    loggingSteps: 1,
    reportTo: "none",
    dataloaderNumWorkers: 0,
  });
  const run: Run = { loss: [], gradNorm: [], learningRate: [], weights: new Map(), logs: [] };
  const trainer: Trainer = new Trainer({
    model,
    args,
    processor: new ViTImageProcessor({ size: config.image_size }),
    trainDataset: fixtureDataset(),
    log: (line) => run.logs.push(line),
    initialLossScale: recipe.init_scale,
    fp16OnSoftware: true,
    callbacks: [{
      onLog(_args, _state, _control, logs) {
        if ("loss" in logs) run.gradNorm.push(logs.grad_norm);
      },
      async onStepEnd(_args, state, _control, progress) {
        run.loss.push(progress.loss);
        run.learningRate.push(progress.learningRate);
        if (SNAPSHOTS.includes(state.global_step)) {
          run.weights.set(state.global_step, await parameterValues(model, trainer.optimizer!));
        }
      },
    }],
  });
  try {
    await trainer.train();
  } finally {
    trainer.close();
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
  return run;
}

/** Largest |a - e| / (atol + rtol·|e|) over the elements: at most 1 passes. */
function worst(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number) {
  let ratio = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    const r = d === 0 ? 0 : d / (atol + rtol * Math.abs(expected[i]));
    if (!(r <= ratio)) [ratio, at] = [r, i];
  }
  return { ratio, at };
}

function assertWithin(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const { ratio, at } = worst(actual, expected, atol, rtol);
  assert.ok(
    ratio <= 1,
    `${label}: [${at}] is ${actual[at]}, PyTorch ${expected[at]} (atol ${atol}, rtol ${rtol})`,
  );
}

/**
 * Every weight after the snapshot steps. AdamW moves each weight by about the learning rate at
 * most per applied step, whatever its gradient, so two runs whose gradient for a weight is
 * rounding noise can drift apart by up to twice the summed rates (a sign that flips). That is
 * the bound for the key biases in both modes (softmax ignores a shift of a query's scores, so
 * their gradient is zero in exact arithmetic) and for every weight in fp16, where f16 operands
 * make such noise; fp16 also holds all but a share `outliers` of the weights within a tenth of
 * the summed rates. Other f32 weights agree element by element within `atol`.
 */
function assertWeights(
  run: Run,
  mode: string,
  tol: { atol: number } | { outliers: number },
): void {
  for (const step of SNAPSHOTS) {
    const weights = run.weights.get(step);
    assert.ok(weights, `weights after step ${step} were read`);
    let lrSum = 0;
    for (let i = 0; i < step; i++) {
      if (!fixture(`${mode}.skipped`)[i]) lrSum += fixture(`${mode}.lr`)[i];
    }
    let far = 0;
    for (const [name, values] of weights) {
      const expected = fixture(`${mode}.step${step}.${name}`);
      const label = `${mode} after step ${step}: ${name}`;
      if ("atol" in tol && !name.endsWith("attention.attention.key.bias")) {
        assertWithin(values, expected, tol.atol, 0, label);
      } else {
        assertWithin(values, expected, 2 * lrSum * 1.001, 0, label);
        far += values.filter((v, i) => Math.abs(v - expected[i]) > lrSum / 10).length;
      }
    }
    if ("outliers" in tol) {
      const total = [...weights.values()].reduce((n, v) => n + v.length, 0);
      assert.ok(far <= tol.outliers * total, `${mode} after step ${step}: ${far} of ${total} far`);
    }
  }
}

Deno.test("the loader's shuffle gives the permutation the PyTorch reference used", () => {
  const orders = tensors.get("orders")!;
  const [epochs, n] = orders.shape;
  const loader = new DataLoader(fixtureDataset(), new ViTImageProcessor({ size: 16 }).config, {
    batchSize: recipe.batch,
    shuffle: true,
    seed: recipe.seed,
  });
  for (let e = 0; e < epochs; e++) {
    assert.deepEqual([...loader.order(e)], [...orders.data.subarray(e * n, (e + 1) * n)]);
  }
  loader.close();
});

Deno.test("30 f32 Trainer steps follow PyTorch: each loss, weights at 1, 3, 10, 30", async () => {
  const run = await train(false);
  assertWithin(run.learningRate, fixture("fp32.lr"), 0, 1e-6, "learning rate");
  assertWithin(run.loss, fixture("fp32.loss"), 0, 5e-5, "loss");
  assertWithin(run.gradNorm, fixture("fp32.grad_norm"), 0, 5e-5, "gradient norm");
  assertWeights(run, "fp32", { atol: 5e-6 });
});

Deno.test({
  name: "30 fp16 Trainer steps follow autocast with GradScaler: two skips, every loss, all weights",
  ignore: !gpu().profile.f16,
  async fn() {
    const run = await train(true);
    const skipped = [...fixture("fp16.skipped")].map((s, i) => s ? i + 1 : 0).filter((s) => s);
    assert.deepEqual(skipped, [1, 2]);
    // The Trainer logs each skip with the halved scale.
    const scales = fixture("fp16.scale");
    assert.deepEqual(
      run.logs.filter((l) => l.startsWith("Gradient overflow")),
      skipped.map((s) =>
        `Gradient overflow at step ${s}: skipping it and reducing the loss scale to ${
          scales[s - 1]
        }`
      ),
    );
    assertWithin(run.learningRate, fixture("fp16.lr"), 0, 1e-6, "learning rate");
    assertWithin(run.loss, fixture("fp16.loss"), 0, 3e-4, "loss");
    // The gradient norm is of the unscaled gradients; a skipped step's is not finite.
    const norms = fixture("fp16.grad_norm");
    for (const s of skipped) assert.ok(!Number.isFinite(run.gradNorm[s - 1]), `step ${s} norm`);
    const finite = [...norms.keys()].filter((i) => Number.isFinite(norms[i]));
    assertWithin(finite.map((i) => run.gradNorm[i]), finite.map((i) => norms[i]), 0, 3e-3, "norm");
    // A skipped step leaves every weight as it was, to the bit.
    for (const [name, values] of run.weights.get(1)!) {
      assert.deepEqual(values, fixture(`init.${name}`), `${name} after the skipped step 1`);
    }
    assertWeights(run, "fp16", { outliers: 5e-3 });
  },
});
