/**
 * Every primitive against PyTorch: the fixtures come from tests/fixtures/gen.py (torch, f64,
 * stored as f32). Tolerances: outputs within atol 2e-5 + rtol 2e-4, gradients within atol 1e-4
 * + rtol 1e-3 (f32 kernels against an f64 reference rounded once).
 */
import * as ops from "../tensor/ops.ts";
import { scope, Tensor } from "../tensor/tensor.ts";
import { parseSafetensors, type SafetensorsEntry } from "../nn/safetensors.ts";
import { assertClose, type Tolerance } from "../tensor/_test_util.ts";

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
