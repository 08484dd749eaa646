/**
 * The GradScaler follows torch.cuda.amp.GradScaler's documented rules; the expected scales
 * below are worked out by hand from them (defaults 2^16, ×2 after 2000 clean steps, ×0.5 after
 * an overflow, 1 when disabled).
 */
import assert from "node:assert/strict";
import { init } from "../tensor/runtime.ts";
import { AdamW } from "../tensor/adamw.ts";
import { mul, sum } from "../tensor/ops.ts";
import { Tensor } from "../tensor/tensor.ts";
import { GradScaler } from "./grad_scaler.ts";

await init();

Deno.test("GradScaler() starts at torch's defaults", () => {
  const scaler = new GradScaler();
  assert.equal(scaler.enabled, true);
  assert.equal(scaler.getScale(), 65536);
  assert.deepEqual(scaler.state(), { scale: 65536, growthTracker: 0 });
});

Deno.test("GradScaler.update() grows the scale after exactly growthInterval clean steps", () => {
  const scaler = new GradScaler();
  for (let i = 0; i < 1999; i++) scaler.update(false);
  assert.deepEqual(scaler.state(), { scale: 65536, growthTracker: 1999 });
  scaler.update(false);
  assert.deepEqual(scaler.state(), { scale: 131072, growthTracker: 0 });
  for (let i = 0; i < 2000; i++) scaler.update(false);
  assert.equal(scaler.getScale(), 262144);
});

Deno.test(
  "GradScaler.update() halves the scale on an overflow and " +
    "restarts the clean count",
  () => {
    const scaler = new GradScaler();
    for (let i = 0; i < 1999; i++) scaler.update(false);
    scaler.update(true);
    assert.deepEqual(scaler.state(), { scale: 32768, growthTracker: 0 });
    scaler.update(true);
    assert.deepEqual(scaler.state(), { scale: 16384, growthTracker: 0 });
    // 1999 clean steps after the overflow are not enough; the 2000th doubles.
    for (let i = 0; i < 1999; i++) scaler.update(false);
    assert.equal(scaler.getScale(), 16384);
    scaler.update(false);
    assert.deepEqual(scaler.state(), { scale: 32768, growthTracker: 0 });
  },
);

Deno.test(
  "GradScaler() takes torch's options: init_scale, " +
    "growth/backoff factors, interval",
  () => {
    const scaler = new GradScaler({
      initScale: 2 ** 24,
      growthFactor: 4,
      backoffFactor: 0.25,
      growthInterval: 3,
    });
    const seen: number[] = [];
    for (const overflow of [true, false, false, false, false, true, false]) {
      scaler.update(overflow);
      seen.push(scaler.getScale());
    }
    assert.deepEqual(seen, [2 ** 22, 2 ** 22, 2 ** 22, 2 ** 24, 2 ** 24, 2 ** 22, 2 ** 22]);
    assert.throws(() => new GradScaler({ backoffFactor: 1 }), /backoffFactor/);
    assert.throws(() => new GradScaler({ growthInterval: 0 }), /growthInterval/);
  },
);

Deno.test(
  "a disabled GradScaler passes the loss through, reports " +
    "scale 1 and never updates",
  async () => {
    const scaler = new GradScaler({ enabled: false });
    assert.equal(scaler.getScale(), 1);
    const loss = Tensor.from([3], [1]);
    assert.equal(scaler.scaleLoss(loss), loss);
    scaler.update(true);
    assert.deepEqual(scaler.state(), { scale: 65536, growthTracker: 0 });
    assert.deepEqual([...await loss.toArray()], [3]);
    loss.dispose();
  },
);

Deno.test("GradScaler.state() and loadState() round-trip, as a resumed run needs", () => {
  const a = new GradScaler();
  a.update(true);
  for (let i = 0; i < 7; i++) a.update(false);
  const b = new GradScaler();
  b.loadState(a.state());
  assert.deepEqual(b.state(), { scale: 32768, growthTracker: 7 });
});

Deno.test(
  "GradScaler: the scaled loss gives unscaled gradients, and " +
    "step() skips on an overflow",
  async () => {
    const scaler = new GradScaler({ initScale: 1024 });
    const w = Tensor.from([3, -4], [2], { requiresGrad: true });
    const opt = new AdamW([w], { lr: 0.1 });
    const scaled = scaler.scaleLoss(sum(mul(w, w)));
    assert.deepEqual([...await scaled.toArray()], [25 * 1024]);
    scaled.backward();
    // d(w·w)/dw = 2w = [6, -8]: norm 10 once the scale is divided out.
    const [coefficient, norm] = await scaler.unscaleAndClip(opt, 0).toArray();
    assert.ok(Math.abs(norm - 10) < 1e-4, `norm ${norm}`);
    // The update multiplies each gradient by this: no clipping, only the 1/scale of the unscale.
    assert.equal(coefficient, 1 / 1024);
    assert.equal(scaler.step(opt, true), false, "an overflow skips the step");
    assert.equal(opt.stepCount, 0);
    assert.deepEqual([...await w.toArray()], [3, -4]);
    assert.equal(scaler.step(opt, false), true);
    assert.equal(opt.stepCount, 1);
    const after = await w.toArray();
    assert.ok(Math.abs(after[0] - 2.9) < 1e-4 && Math.abs(after[1] + 3.9) < 1e-4, `${after}`);
    w.dispose();
  },
);
