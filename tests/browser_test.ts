/**
 * The library in a real browser: headless Chromium (WebGPU on SwiftShader here) trains a tiny
 * ViT for a few steps from the browser bundle of `browser.ts` (tests/browser/harness.ts), and a
 * DataLoader that asks for worker threads loads the same batches as in Deno. Chromium's
 * WebGPU (Dawn) validates what Deno's wgpu lets through, so its console must stay free of
 * validation errors; the first step must match the same computation in Deno, and so must a
 * 20-step Trainer run (tests/browser/trainer_steps.ts), step by step and weight by weight.
 *
 * Needs: --allow-run (deno for the bundle, /usr/bin/chromium), --allow-net=127.0.0.1 (the page
 * server and the DevTools socket), --allow-read=/usr/bin/chromium (puppeteer checks it exists),
 * --allow-env (puppeteer's `debug` dependency lists the whole environment when it loads) and
 * writes under .cache/test (bundles and Chromium's profile).
 *
 * @module
 */

import assert from "node:assert/strict";
import * as tessera from "../mod.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { CHROMIUM, exists, runInChromium, WEBGPU_ERROR } from "./browser/harness.ts";
import { loadBatches, type StepsReport, trainTinyViT } from "./browser/tiny_vit_steps.ts";
import { TRAINER_STEPS, type TrainerReport, trainWithTrainer } from "./browser/trainer_steps.ts";

const STEPS = 4;

// How far Chromium's Trainer run may stray from Deno's. Both run f32 throughout with the same
// data order, dropout masks and schedule; only the adapters' summation orders differ. Measured
// (SwiftShader against lavapipe): losses within 1.2e-7 (one f32 step at 1.0) at every step,
// gradient norms within 2.2e-7 relative, every weight within 1.1e-6 of its tensor's largest
// magnitude; the bounds leave about ten times that. A one-sided bug moves them by far more:
// clipping skipped in Chromium, 3.9e-3 in the third loss; AdamW's second bias correction a step
// behind from step 2, 1.4e-2 in the third; other dropout masks, 1.5e-2 in the first.
const TRAINER_TOLERANCE = { loss: 1e-6, gradNorm: 2e-6, weights: 1e-5 };

/**
 * The key projections' biases have no true gradient (softmax ignores a shift shared by all keys),
 * so AdamW turns their rounding noise into steps of either sign. They are bounded, not compared.
 */
const NOISE_ONLY = /attention\.key\.bias$/;

/** Asserts that two Trainer runs agree step by step and weight by weight. */
function assertSameRun(browser: TrainerReport, deno: TrainerReport): void {
  const tol = TRAINER_TOLERANCE;
  assert.equal(browser.losses.length, TRAINER_STEPS);
  assert.equal(deno.losses.length, TRAINER_STEPS);
  assert.ok(deno.losses.at(-1)! < deno.losses[0] * 0.6, `Deno learned: ${deno.losses}`);
  for (let i = 0; i < TRAINER_STEPS; i++) {
    const [b, d] = [browser.losses[i], deno.losses[i]];
    assert.ok(Math.abs(b - d) <= tol.loss, `loss at step ${i + 1}: Chromium ${b}, Deno ${d}`);
    const [bn, dn] = [browser.gradNorms[i], deno.gradNorms[i]];
    assert.ok(
      Math.abs(bn - dn) <= tol.gradNorm * dn,
      `gradient norm at step ${i + 1}: Chromium ${bn}, Deno ${dn}`,
    );
  }
  // The schedule is plain JavaScript on both sides: the same doubles.
  assert.deepEqual(browser.learningRates, deno.learningRates, "learning rates");
  assert.deepEqual(Object.keys(browser.weights), Object.keys(deno.weights));
  for (const [name, d] of Object.entries(deno.weights)) {
    const b = browser.weights[name];
    assert.equal(b.length, d.length, name);
    const largest = Math.max(...d.map(Math.abs));
    if (NOISE_ONLY.test(name)) {
      assert.ok(largest < 1e-4 && Math.max(...b.map(Math.abs)) < 1e-4, `${name} stays ~0`);
      continue;
    }
    let worst = 0;
    for (let i = 0; i < d.length; i++) worst = Math.max(worst, Math.abs(b[i] - d[i]));
    assert.ok(
      worst <= tol.weights * largest,
      `${name}: Chromium and Deno differ by ${worst} (largest magnitude ${largest})`,
    );
  }
}

const summary = (r: StepsReport) =>
  `${r.adapter}; backend ${r.backend}; losses ${r.losses.map((l) => l.toFixed(5)).join(" ")}; ` +
  `step ms ${r.stepMs.map((t) => t.toFixed(0)).join(" ")}`;

const available = exists(CHROMIUM);
if (!available) {
  console.log(`tests/browser_test.ts: ${CHROMIUM} is missing, so the real-browser test is ignored`);
}

Deno.test({
  name: available
    ? "headless Chromium runs a DataLoader and 20 Trainer steps equal to Deno's, no WebGPU errors"
    : `a tiny ViT trains in headless Chromium (ignored: ${CHROMIUM} is missing)`,
  ignore: !available,
  // puppeteer keeps sockets and timers of its own past browser.close().
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { report, loader, trainer, log } = await runInChromium({ steps: STEPS });
    console.log(`Chromium: ${summary(report)}`);
    if (log.length > 0) console.log(`Chromium console:\n  ${log.join("\n  ")}`);
    assert.deepEqual(log.filter((line) => WEBGPU_ERROR.test(line)), [], "WebGPU errors");

    assert.equal(report.losses.length, STEPS);
    for (const [i, loss] of report.losses.entries()) {
      assert.ok(Number.isFinite(loss), `loss ${i} is ${loss}`);
      if (i > 0) assert.ok(loss < report.losses[i - 1], `loss rose at step ${i}: ${report.losses}`);
    }

    const deno = await trainTinyViT(tessera, 1);
    console.log(`Deno: ${summary(deno)}`);
    // Both in f32 throughout; the two adapters' kernels may add in different orders.
    assertClose(report.firstLogits, deno.firstLogits, { atol: 1e-4, rtol: 1e-3 }, "first logits");
    assertClose(report.losses.slice(0, 1), deno.losses, { atol: 1e-4, rtol: 1e-4 }, "first loss");

    // A DataLoader asking for worker threads: Deno runs them, the bundle prepares on its thread.
    const denoLoader = await loadBatches(tessera);
    assert.deepEqual(denoLoader.warnings, []);
    assert.deepEqual(loader.labels, [[0, 1], [0]]);
    assert.deepEqual(loader.labels, denoLoader.labels);
    assert.equal(loader.pixels[0].length, 2 * 3 * 8 * 8);
    assert.deepEqual(loader.pixels, denoLoader.pixels, "the same decoding and resizing");
    assert.deepEqual(loader.warnings.length, 1);
    assert.match(loader.warnings[0], /numWorkers 2: worker threads need Deno/);

    // The Trainer's 20 steps (dropout, clipping, warmup and decay): every step, every weight.
    const denoTrainer = await trainWithTrainer(tessera);
    console.log(
      `Trainer, ${TRAINER_STEPS} steps: Chromium ${trainer.ms.toFixed(0)} ms, ` +
        `Deno ${denoTrainer.ms.toFixed(0)} ms; losses ` +
        trainer.losses.map((l) => l.toFixed(5)).join(" "),
    );
    assertSameRun(trainer, denoTrainer);
  },
});
