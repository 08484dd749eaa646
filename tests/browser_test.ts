/**
 * The library in a real browser: headless Chromium (WebGPU on SwiftShader here) trains a tiny
 * ViT for a few steps from the browser bundle of `browser.ts` (tests/browser/harness.ts), and a
 * DataLoader that asks for worker threads loads the same batches as in Deno. Chromium's
 * WebGPU (Dawn) validates what Deno's wgpu lets through, so its console must stay free of
 * validation errors; the first step must match the same computation in Deno.
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

const STEPS = 4;

const summary = (r: StepsReport) =>
  `${r.adapter}; backend ${r.backend}; losses ${r.losses.map((l) => l.toFixed(5)).join(" ")}; ` +
  `step ms ${r.stepMs.map((t) => t.toFixed(0)).join(" ")}`;

const available = exists(CHROMIUM);
if (!available) {
  console.log(`tests/browser_test.ts: ${CHROMIUM} is missing, so the real-browser test is ignored`);
}

Deno.test({
  name: available
    ? "a tiny ViT trains and a DataLoader loads in headless Chromium from the browser bundle as in Deno, with no WebGPU errors"
    : `a tiny ViT trains in headless Chromium (ignored: ${CHROMIUM} is missing)`,
  ignore: !available,
  // puppeteer keeps sockets and timers of its own past browser.close().
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { report, loader, log } = await runInChromium({ steps: STEPS });
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
  },
});
