/**
 * `deno task bench [--json]`: matmul GFLOP/s for ViT shapes (every candidate variant, so the
 * per-adapter choice is visible), and softmax and layer-norm throughput, on this adapter.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  describeAdapter,
  engine,
  layerNorm,
  matmulCandidates,
  matmulVariantFor,
  noGrad,
  softmax,
  Tensor,
} from "../mod.ts";
import type { MatmulShape, MatmulVariant } from "../mod.ts";
import { dispatchMatmul } from "../tensor/ops_matmul.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: deno task bench [--json] [--quick]\n" +
      "  --json   print one JSON object\n  --quick  only the default variant of each shape",
  );
  Deno.exit(0);
}

const log = values.json ? () => {} : console.log;

async function time(fn: () => void, reps: number): Promise<number> {
  fn();
  await engine().sync();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    await engine().sync();
    best = Math.min(best, performance.now() - t0);
  }
  return best / 1000;
}

function label(v: MatmulVariant): string {
  return `${v.family} ${v.tm}x${v.tn}/${v.workgroup}`;
}

const SHAPES: (MatmulShape & { name: string })[] = [
  { name: "qkv/out proj", batch: 1, m: 3152, k: 768, n: 768, transA: false, transB: true },
  { name: "mlp up", batch: 1, m: 3152, k: 768, n: 3072, transA: false, transB: true },
  { name: "mlp down", batch: 1, m: 3152, k: 3072, n: 768, transA: false, transB: true },
  { name: "attn QKᵀ", batch: 192, m: 197, k: 64, n: 197, transA: false, transB: true },
  { name: "attn PV", batch: 192, m: 197, k: 197, n: 64, transA: false, transB: false },
];

const adapter = describeAdapter();
log(`adapter: ${adapter}`);
const matmul: {
  m: number;
  k: number;
  n: number;
  batch: number;
  variant: string;
  gflops: number;
}[] = [];
for (const s of SHAPES) {
  const a = Tensor.zeros([s.batch * s.m * s.k]);
  const b = Tensor.zeros([s.batch * s.k * s.n]);
  const out = Tensor.empty([s.batch * s.m * s.n]);
  const chosen = matmulVariantFor(s);
  const variants = values.quick ? [chosen] : matmulCandidates(s);
  for (const v of variants) {
    const seconds = await time(() => dispatchMatmul(v, s, a, b, out, 1), 3);
    const gflops = (2 * s.batch * s.m * s.n * s.k) / seconds / 1e9;
    matmul.push({ m: s.m, k: s.k, n: s.n, batch: s.batch, variant: label(v), gflops });
    log(
      `matmul ${s.name.padEnd(12)} ${s.batch}×${s.m}×${s.k}×${s.n} ${label(v).padEnd(18)} ` +
        `${gflops.toFixed(1).padStart(6)} GFLOP/s${v === chosen ? "  (default)" : ""}`,
    );
  }
  a.dispose();
  b.dispose();
  out.dispose();
}

const bandwidth: { op: string; shape: number[]; gbps: number }[] = [];
await noGrad(async () => {
  const scores = Tensor.zeros([16 * 12 * 197, 197]);
  const s = await time(() => softmax(scores).dispose(), 3);
  bandwidth.push({
    op: "softmax",
    shape: [...scores.shape],
    gbps: (2 * scores.size * 4) / s / 1e9,
  });
  const x = Tensor.zeros([3152, 768]);
  const w = Tensor.zeros([768]);
  const l = await time(() => layerNorm(x, w, w).dispose(), 3);
  bandwidth.push({ op: "layernorm", shape: [...x.shape], gbps: (2 * x.size * 4) / l / 1e9 });
  scores.dispose();
  x.dispose();
  w.dispose();
});
for (const b of bandwidth) log(`${b.op.padEnd(10)} [${b.shape}] ${b.gbps.toFixed(2)} GB/s`);

if (values.json) {
  console.log(JSON.stringify({ adapter, matmul, bandwidth, train_step: [] }));
}
