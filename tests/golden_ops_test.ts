/**
 * Every primitive against PyTorch: the fixtures come from tests/fixtures/gen.py (torch, f64,
 * stored as f32). Tolerances: outputs within atol 2e-5 + rtol 2e-4, gradients within atol 1e-4
 * + rtol 1e-3 (f32 kernels against an f64 reference rounded once).
 */
import * as ops from "../tensor/ops.ts";
import { scope, Tensor } from "../tensor/tensor.ts";
import { parseSafetensors, type SafetensorsEntry } from "../nn/safetensors.ts";
import { assertClose, type Tolerance } from "../tensor/_test_util.ts";
import { init } from "../tensor/runtime.ts";

await init();

const FORWARD: Tolerance = { atol: 2e-5, rtol: 2e-4 };
const BACKWARD: Tolerance = { atol: 1e-4, rtol: 1e-3 };
const FILE = new URL("./fixtures/ops.safetensors", import.meta.url);

function attention(
  [x, wqkv, bqkv, wo, bo, g, b]: Tensor[],
): Tensor {
  const [n, t, c] = x.shape;
  const heads = 2;
  const d = c / heads;
  const h = ops.layerNorm(x, g, b, 1e-12);
  const qkv = ops.matmul(h, wqkv, { transB: true, bias: bqkv }).view([n, t, 3, heads, d]);
  const split = ops.permute(qkv, [2, 0, 3, 1, 4]); // [3, n, heads, t, d]
  const q = ops.slice(split, 0, 0, 1).view([n * heads, t, d]);
  const k = ops.slice(split, 0, 1, 2).view([n * heads, t, d]);
  const v = ops.slice(split, 0, 2, 3).view([n * heads, t, d]);
  const att = ops.softmax(ops.matmul(q, k, { transB: true, alpha: d ** -0.5 }));
  const y = ops.permute(ops.matmul(att, v).view([n, heads, t, d]), [0, 2, 1, 3]).view([n, t, c]);
  return ops.add(x, ops.gelu(ops.matmul(y, wo, { transB: true, bias: bo })));
}

const GPU: Record<string, (xs: Tensor[]) => Tensor> = {
  add_broadcast: ([a, b]) => ops.add(a, b),
  sub_broadcast: ([a, b]) => ops.sub(a, b),
  mul_broadcast: ([a, b]) => ops.mul(a, b),
  div_broadcast: ([a, b]) => ops.div(a, b),
  exp: ([x]) => ops.exp(x),
  log: ([x]) => ops.log(x),
  sqrt: ([x]) => ops.sqrt(x),
  rsqrt: ([x]) => ops.rsqrt(x),
  tanh: ([x]) => ops.tanh(x),
  relu: ([x]) => ops.relu(x),
  gelu: ([x]) => ops.gelu(x),
  sum_axis1: ([x]) => ops.sum(x, 1),
  mean_last: ([x]) => ops.mean(x, -1),
  max_axis0: ([x]) => ops.max(x, 0),
  permute_0213: ([x]) => ops.permute(x, [0, 2, 1, 3]),
  slice_axis1: ([x]) => ops.slice(x, 1, 3, 8),
  concat_axis0: (xs) => ops.concat(xs, 0),
  gather_rows: ([x]) => ops.gatherRows(x, [5, 0, 5, 3]),
  softmax_last: ([x]) => ops.softmax(x),
  "layernorm_1e-12": ([x, w, b]) => ops.layerNorm(x, w, b, 1e-12),
  cross_entropy: ([x]) => ops.crossEntropy(x, [4, 0, 1, 1, 3, 2, 0, 4, 2]),
  matmul_nn: ([a, b]) => ops.matmul(a, b),
  matmul_nt_bias: ([a, w, b]) => ops.matmul(a, w, { transB: true, bias: b }),
  matmul_tn: ([a, b]) => ops.matmul(a, b, { transA: true }),
  matmul_tt: ([a, b]) => ops.matmul(a, b, { transA: true, transB: true }),
  matmul_batched: ([a, b]) => ops.matmul(a, b),
  attention_block: attention,
};

Deno.test("every op matches PyTorch's outputs and gradients", async (t) => {
  const { tensors } = parseSafetensors(await Deno.readFile(FILE), FILE.pathname);
  const names = [
    ...new Set(
      [...tensors.keys()].filter((k) => !k.startsWith("adamw.")).map((k) =>
        k.slice(0, k.lastIndexOf("."))
      ),
    ),
  ];
  const get = (key: string): SafetensorsEntry => {
    const entry = tensors.get(key);
    if (!entry) throw new Error(`fixture ${key} is missing`);
    return entry;
  };
  for (const name of Object.keys(GPU)) {
    if (!names.includes(name)) throw new Error(`no fixture for ${name}: rerun gen.py`);
  }
  for (const name of names) {
    await t.step(name, async () => {
      const fn = GPU[name];
      if (!fn) throw new Error(`fixture ${name} has no GPU counterpart`);
      const inputs: Tensor[] = [];
      for (let i = 0; tensors.has(`${name}.in${i}`); i++) {
        const e = get(`${name}.in${i}`);
        inputs.push(Tensor.from(e.data, e.shape, { requiresGrad: true }));
      }
      const gout = get(`${name}.gout`);
      const out = scope(() => {
        const y = fn(inputs);
        y.backward(Tensor.from(gout.data, y.shape));
        return y;
      });
      const expected = get(`${name}.out`);
      if (out.shape.join() !== expected.shape.join()) {
        throw new Error(`${name}: shape [${out.shape}] != torch's [${expected.shape}]`);
      }
      assertClose(await out.toArray(), expected.data, FORWARD, `${name} output`);
      for (const [i, input] of inputs.entries()) {
        assertClose(
          await input.grad!.toArray(),
          get(`${name}.grad${i}`).data,
          BACKWARD,
          `${name} grad${i}`,
        );
        input.grad!.dispose();
        input.dispose();
      }
      out.dispose();
    });
  }
});

const EDGE_FILE = new URL("./fixtures/edge.safetensors", import.meta.url);
const POWERS = [2, 3, -1, -2, 0.5, -0.5, 1.5, 0, 1, 5, -3, 2.5];

/** Edge cases of tests/fixtures/gen_edge.py, with tolerances where the defaults do not fit. */
const EDGE: Record<string, { fn: (xs: Tensor[]) => Tensor; tol?: [Tolerance, Tolerance] }> = {
  ...Object.fromEntries(POWERS.map((p) => [`pow_${p}`, { fn: ([x]: Tensor[]) => ops.pow(x, p) }])),
  exp_range: { fn: ([x]) => ops.exp(x) },
  log_domain: { fn: ([x]) => ops.log(x) },
  sqrt_domain: { fn: ([x]) => ops.sqrt(x) },
  rsqrt_domain: { fn: ([x]) => ops.rsqrt(x) },
  // Relative only: an absolute 2e-5 would accept any tanh of 1e-6. The gradient 1 - y² loses
  // digits where y is near 1 (f32 steps of 6e-8 in y against 1 - y² of 1e-2 at 3).
  tanh_range: {
    fn: ([x]) => ops.tanh(x),
    tol: [{ atol: 0, rtol: 1e-6 }, { atol: 1e-7, rtol: 1e-5 }],
  },
  div_signs: { fn: ([a, b]) => ops.div(a, b) },
  softmax_extreme: { fn: ([x]) => ops.softmax(x) },
  softmax_masked_row: { fn: ([x]) => ops.softmax(x) },
  softmax_inf_logit: { fn: ([x]) => ops.softmax(x) },
  cross_entropy_extreme: { fn: ([x]) => ops.crossEntropy(x, [0, 1, 1, 3, 2]) },
  cross_entropy_masked_row: { fn: ([x]) => ops.crossEntropy(x, [0, 2]) },
  cross_entropy_target_at_minus_inf: { fn: ([x]) => ops.crossEntropy(x, [1]) },
  // A row of mean 1e3 holds f32 steps of 6e-5 against a spread of 1, which an f32 mean cannot
  // resolve better; a one-pass variance E[x²] - E[x]² is off by a fifth there.
  layernorm_constant_and_offset: {
    fn: ([x, w, b]) => ops.layerNorm(x, w, b, 1e-5),
    tol: [{ atol: 1e-4, rtol: 1e-3 }, { atol: 1e-3, rtol: 1e-3 }],
  },
  sum_single_axis: { fn: ([x]) => ops.sum(x, 1) },
  mean_single_axis: { fn: ([x]) => ops.mean(x, 1) },
  max_single_axis: { fn: ([x]) => ops.max(x, 1) },
  sum_all_single: { fn: ([x]) => ops.sum(x) },
  mean_all_single: { fn: ([x]) => ops.mean(x) },
  sum_empty_axis: { fn: ([x]) => ops.sum(x, 1) },
  mean_empty_axis: { fn: ([x]) => ops.mean(x, 1) },
  sum_of_empty: { fn: ([x]) => ops.sum(x, 1) },
  sum_all_empty: { fn: ([x]) => ops.sum(x) },
  mean_all_empty: { fn: ([x]) => ops.mean(x) },
};

/**
 * Like {@link assertClose}, but NaN must meet NaN and an infinity the same infinity: a kernel
 * that turns torch's NaN row into zeros, or its inf into a large finite number, fails.
 */
function assertCloseOrSame(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  label: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    if (Number.isFinite(e) ? !Number.isFinite(a) : !Object.is(a, e) && !(a === e)) {
      throw new Error(`${label}: NOT OK at [${i}]: got ${a}, expected ${e} exactly`);
    }
  }
  const finite = (xs: ArrayLike<number>) =>
    Array.from(expected, (e, i) => (Number.isFinite(e) ? xs[i] : 0));
  assertClose(finite(actual), finite(expected), tol, label);
}

Deno.test("each op matches PyTorch at edges: NaN and inf exact, others in tolerance", async (t) => {
  const { tensors } = parseSafetensors(await Deno.readFile(EDGE_FILE), EDGE_FILE.pathname);
  const get = (key: string): SafetensorsEntry => {
    const entry = tensors.get(key);
    if (!entry) throw new Error(`fixture ${key} is missing: rerun gen_edge.py`);
    return entry;
  };
  const names = new Set(
    [...tensors.keys()].filter((k) => !k.startsWith("schedule.")).map((k) =>
      k.slice(0, k.lastIndexOf("."))
    ),
  );
  for (const name of Object.keys(EDGE)) {
    if (!names.has(name)) throw new Error(`no fixture for ${name}: rerun gen_edge.py`);
  }
  for (const name of names) {
    await t.step(name, async () => {
      const edge = EDGE[name];
      if (!edge) throw new Error(`fixture ${name} has no GPU counterpart`);
      const [forward, backward] = edge.tol ?? [FORWARD, BACKWARD];
      const inputs: Tensor[] = [];
      for (let i = 0; tensors.has(`${name}.in${i}`); i++) {
        const e = get(`${name}.in${i}`);
        inputs.push(Tensor.from(e.data, e.shape, { requiresGrad: true }));
      }
      const gout = get(`${name}.gout`);
      const out = scope(() => {
        const y = edge.fn(inputs);
        y.backward(Tensor.from(gout.data, y.shape));
        return y;
      });
      const expected = get(`${name}.out`);
      if (out.shape.join() !== expected.shape.join()) {
        throw new Error(`${name}: shape [${out.shape}] != torch's [${expected.shape}]`);
      }
      assertCloseOrSame(await out.toArray(), expected.data, forward, `${name} output`);
      for (const [i, input] of inputs.entries()) {
        assertCloseOrSame(
          input.grad ? await input.grad.toArray() : new Float32Array(input.size),
          get(`${name}.grad${i}`).data,
          backward,
          `${name} grad${i}`,
        );
        input.grad?.dispose();
        input.dispose();
      }
      out.dispose();
    });
  }
});
