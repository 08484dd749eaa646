/**
 * Finite-difference checks of composite graphs on the GPU: the gradients that backward()
 * assembles from many primitives must match central differences of the forward in f32
 * (h = 1e-2; tolerance atol 2e-3 + rtol 2e-2, which covers the O(h²) truncation and the f32
 * rounding of the differences).
 */
import * as ops from "../ops.ts";
import { noGrad, scope, Tensor } from "../core/tensor.ts";
import { assertClose, rng, uniform } from "../_test_util.ts";
import { init } from "../runtime.ts";

await init();

const H = 1e-2;
const TOL = { atol: 2e-3, rtol: 2e-2 };

async function gradcheck(
  name: string,
  shapes: number[][],
  f: (xs: Tensor[]) => Tensor,
  seed: number,
  samplesPerInput = 12,
): Promise<void> {
  const random = rng(seed);
  const values = shapes.map((s) => uniform(random, s.reduce((a, b) => a * b, 1)));
  const inputs = values.map((v, i) => Tensor.from(v, shapes[i], { requiresGrad: true }));
  scope(() => f(inputs).backward());
  const evaluate = async (which: number, data: Float32Array): Promise<number> => {
    const xs = inputs.map((t, j) => (j === which ? Tensor.from(data, shapes[j]) : t));
    const loss = noGrad(() => scope(() => f(xs)));
    const value = await loss.item();
    loss.dispose();
    xs[which].dispose();
    return value;
  };
  for (const [i, input] of inputs.entries()) {
    const analytic = await input.grad!.toArray();
    const picks = Array.from(
      { length: Math.min(samplesPerInput, values[i].length) },
      () => Math.floor(random() * values[i].length),
    );
    const numeric: number[] = [];
    for (const p of picks) {
      const plus = values[i].slice();
      const minus = values[i].slice();
      plus[p] += H;
      minus[p] -= H;
      numeric.push(((await evaluate(i, plus)) - (await evaluate(i, minus))) / (2 * H));
    }
    assertClose(picks.map((p) => analytic[p]), numeric, TOL, `${name}: input ${i}`);
  }
  for (const t of inputs) {
    t.grad?.dispose();
    t.dispose();
  }
}

Deno.test("an MLP block's gradients match finite differences", async () => {
  await gradcheck(
    "layerNorm→linear→gelu→linear→mean",
    [[3, 4, 6], [6], [6], [10, 6], [10], [5, 10]],
    ([x, g, b, w1, b1, w2]) => {
      const h = ops.layerNorm(x, g, b, 1e-12);
      const y = ops.matmul(ops.gelu(ops.matmul(h, w1, { transB: true, bias: b1 })), w2, {
        transB: true,
      });
      return ops.mean(ops.mul(y, y));
    },
    11,
  );
});

Deno.test("an attention head with cross-entropy matches finite differences", async () => {
  await gradcheck(
    "attention→CLS gather→cross-entropy",
    [[2, 5, 4], [4, 4], [4, 4], [4, 4], [3, 4]],
    ([x, wq, wk, wv, wc]) => {
      const q = ops.matmul(x, wq, { transB: true });
      const k = ops.matmul(x, wk, { transB: true });
      const v = ops.matmul(x, wv, { transB: true });
      const att = ops.softmax(ops.matmul(q, k, { transB: true, alpha: 0.5 }));
      const y = ops.matmul(att, v).view([10, 4]);
      const cls = ops.gatherRows(y, [0, 5]);
      return ops.crossEntropy(ops.matmul(ops.tanh(cls), wc, { transB: true }), [2, 0]);
    },
    12,
  );
});

Deno.test(
  "layer norm composed from primitives matches finite differences and the fused op",
  async () => {
    const manual = ([x, w, b]: Tensor[]) => {
      const mu = ops.mean(x, -1, { keepDim: true });
      const centred = ops.sub(x, mu);
      const variance = ops.mean(ops.mul(centred, centred), -1, { keepDim: true });
      const normed = ops.mul(centred, ops.rsqrt(ops.add(variance, 1e-5)));
      return ops.add(ops.mul(normed, w), b);
    };
    await gradcheck(
      "manual layer norm",
      [[4, 7], [7], [7]],
      (xs) => ops.sum(ops.mul(manual(xs), ops.exp(manual(xs)))),
      13,
    );
    const random = rng(5);
    const xs = [[4, 7], [7], [7]].map((s) =>
      Tensor.from(uniform(random, s.reduce((a, b) => a * b)), s)
    );
    const [a, b] = scope(() => [manual(xs), ops.layerNorm(xs[0], xs[1], xs[2], 1e-5)]);
    assertClose(
      await a.toArray(),
      await b.toArray(),
      { atol: 1e-5, rtol: 1e-4 },
      "fused vs manual",
    );
  },
);

Deno.test("a ConvNeXt block's gradients match finite differences", async () => {
  await gradcheck(
    "depthwise 7x7→layerNorm→linear→gelu→linear→layer scale→residual",
    [[2, 4, 5, 3], [3, 1, 7, 7], [3], [3], [3], [6, 3], [3, 6], [3]],
    ([x, w, b, g, beta, w1, w2, gamma]) => {
      const h = ops.layerNorm(ops.depthwiseConv2d(x, w, b, 3), g, beta, 1e-6);
      const y = ops.matmul(ops.gelu(ops.matmul(h, w1, { transB: true })), w2, { transB: true });
      const out = ops.add(x, ops.mul(y, gamma));
      return ops.mean(ops.mul(out, out));
    },
    14,
  );
});
