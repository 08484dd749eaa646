import assert from "node:assert/strict";
import { AdamW } from "./adamw.ts";
import { engine } from "../core/engine.ts";
import { add, crossEntropy, gelu, matmul, mul, sum } from "../ops.ts";
import { scope, scopeAsync, Tensor } from "../core/tensor.ts";
import { parseSafetensors } from "../../nn/safetensors.ts";
import { assertClose, rng, uniform } from "../_test_util.ts";
import { init } from "../runtime.ts";

await init();

const FIXTURES = new URL("../../tests/fixtures/ops.safetensors", import.meta.url);

Deno.test("AdamW with weight decay and clipping matches torch.optim.AdamW", async () => {
  const { tensors } = parseSafetensors(await Deno.readFile(FIXTURES), FIXTURES.pathname);
  const get = (k: string) => tensors.get(k)!;
  const p0 = Tensor.from(get("adamw.p0.init").data, [5, 3], { requiresGrad: true });
  const p1 = Tensor.from(get("adamw.p1.init").data, [7], { requiresGrad: true });
  // A tiny chunk limit splits the arena, so the multi-buffer path is exercised too.
  const opt = new AdamW([p0, p1], {
    lr: 1e-2,
    weightDecay: 0.1,
    noDecay: (i) => i === 1,
    maxChunkBytes: 256,
  });
  for (let step = 0; step < 3; step++) {
    opt.zeroGrad();
    scope(() => {
      const l = add(
        sum(mul(p0, Tensor.from(get(`adamw.p0.grad${step}`).data, [5, 3]))),
        sum(mul(p1, Tensor.from(get(`adamw.p1.grad${step}`).data, [7]))),
      );
      l.backward();
    });
    const clip = opt.clipGradNorm(0.5);
    assertClose(
      [(await clip.toArray())[1]],
      get(`adamw.norm${step}`).data,
      { atol: 1e-6, rtol: 1e-5 },
      `grad norm at step ${step}`,
    );
    opt.step();
  }
  const tol = { atol: 1e-6, rtol: 1e-5 };
  assertClose(await p0.toArray(), get("adamw.p0.final").data, tol, "p0");
  assertClose(await p1.toArray(), get("adamw.p1.final").data, tol, "p1");
});

Deno.test("AdamW matches the formula on two parameters of one arena chunk", async () => {
  // Arena chunks are whole multiples of 64 elements, so CPU adapters always take the vec4 kernel;
  // here the second parameter starts at element 64 of one 128-element chunk.
  const random = rng(11);
  const init = [uniform(random, 8), uniform(random, 4)];
  const grads = [0, 1].map(() => [uniform(random, 8), uniform(random, 4)]);
  const ps = init.map((x) => Tensor.from(x, [x.length], { requiresGrad: true }));
  const [lr, wd, b1, b2, eps] = [1e-2, 0.1, 0.9, 0.999, 1e-8];
  const opt = new AdamW(ps, { lr, weightDecay: wd });
  const host = init.map((x) => ({
    p: Float64Array.from(x),
    m: new Float64Array(x.length),
    v: new Float64Array(x.length),
  }));
  for (let step = 0; step < 2; step++) {
    opt.zeroGrad();
    scope(() =>
      add(
        ...ps.map((p, i) => sum(mul(p, Tensor.from(grads[step][i], [p.size])))) as [Tensor, Tensor],
      ).backward()
    );
    opt.step();
    const t = step + 1;
    host.forEach((h, i) => {
      for (let j = 0; j < h.p.length; j++) {
        const g = grads[step][i][j];
        h.p[j] *= 1 - lr * wd;
        h.m[j] = b1 * h.m[j] + (1 - b1) * g;
        h.v[j] = b2 * h.v[j] + (1 - b2) * g * g;
        h.p[j] -= lr * (h.m[j] / (1 - b1 ** t)) / (Math.sqrt(h.v[j] / (1 - b2 ** t)) + eps);
      }
    });
  }
  for (const [i, p] of ps.entries()) {
    assertClose(await p.toArray(), host[i].p, { atol: 1e-6, rtol: 1e-5 }, `parameter ${i}`);
  }
});

Deno.test("AdamW updates many parameters in one dispatch per arena buffer", () => {
  const params = Array.from(
    { length: 40 },
    (_, i) => Tensor.zeros([i + 1], { requiresGrad: true }),
  );
  const opt = new AdamW(params);
  const before = engine().dispatches;
  opt.step();
  assert.equal(engine().dispatches - before, 1, "dispatches recorded by one step");
});

Deno.test("an MLP learns a toy problem and the buffer pool stops growing", async () => {
  // Two interleaved spirals of 64 points: not linearly separable.
  const random = rng(3);
  const n = 64;
  const xs = new Float32Array(n * 2);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const r = 0.2 + 0.8 * (i / n);
    const angle = 3 * r * Math.PI + label * Math.PI;
    xs[2 * i] = r * Math.cos(angle) + 0.02 * (random() - 0.5);
    xs[2 * i + 1] = r * Math.sin(angle) + 0.02 * (random() - 0.5);
    labels.push(label);
  }
  const w1 = Tensor.from(uniform(random, 64 * 2, -0.7, 0.7), [64, 2], { requiresGrad: true });
  const b1 = Tensor.zeros([64], { requiresGrad: true });
  const w2 = Tensor.from(uniform(random, 64 * 64, -0.12, 0.12), [64, 64], { requiresGrad: true });
  const b2 = Tensor.zeros([64], { requiresGrad: true });
  const w3 = Tensor.from(uniform(random, 2 * 64, -0.12, 0.12), [2, 64], { requiresGrad: true });
  const b3 = Tensor.zeros([2], { requiresGrad: true });
  const opt = new AdamW([w1, b1, w2, b2, w3, b3], { lr: 1e-2 });
  const pool = engine().pool.stats;
  let createdAt10 = -1;
  let first = NaN;
  let last = NaN;
  for (let step = 1; step <= 300; step++) {
    const loss = await scopeAsync(async () => {
      const x = Tensor.from(xs, [n, 2]);
      const h1 = gelu(matmul(x, w1, { transB: true, bias: b1 }));
      const h2 = gelu(matmul(h1, w2, { transB: true, bias: b2 }));
      const l = crossEntropy(matmul(h2, w3, { transB: true, bias: b3 }), labels);
      l.backward();
      opt.clipGradNorm(1.0);
      opt.step();
      opt.zeroGrad();
      return step === 1 || step % 10 === 0 ? await l.item() : NaN;
    });
    if (step === 1) first = loss;
    if (step === 10) createdAt10 = pool.created;
    if (step === 100) {
      assert.equal(pool.created, createdAt10, "no GPU buffer is created between step 10 and 100");
    }
    if (step % 10 === 0) last = loss;
  }
  assert.ok(first > 0.6, `initial loss ${first} is near ln 2`);
  assert.ok(last < 0.05, `final loss ${last} is low`);
});
