/**
 * `deno task bench [--json]`: matmul GFLOP/s for ViT shapes (every candidate variant, so the
 * per-adapter choice is visible), and softmax and layer-norm throughput, on this adapter.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  AdamW,
  concat,
  DataLoader,
  describeAdapter,
  init,
  layerNorm,
  loadImageFolder,
  makeViTConfig,
  noGrad,
  scopeAsync,
  softmax,
  Tensor,
  ViTForImageClassification,
  ViTImageProcessor,
} from "../mod.ts";
import {
  backend,
  dispatchMatmul,
  encodeJpeg,
  engine,
  matmulCandidates,
  matmulVariantFor,
} from "../internals.ts";
import { DEMO_CONFIG } from "../demo/config.ts";
import { renderBeanLeaf } from "../demo/synthetic_beans.ts";
import type { MatmulShape, MatmulVariant } from "../internals.ts";
import { matmul as product } from "../tensor/ops_matmul.ts";
import { peftMemory } from "./peft_memory.ts";
import { startupChecks } from "../tensor/runtime.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    compare: { type: "boolean", default: false },
    python: { type: "string" },
    out: { type: "string" },
    profile: { type: "boolean", default: false },
    "peft-memory": { type: "boolean", default: false },
    startup: { type: "boolean", default: false },
    batch: { type: "string" },
    modes: { type: "string" },
    e2e: { type: "boolean", default: false },
    "e2e-no-sync": { type: "boolean", default: false },
    "e2e-tessera-only": { type: "boolean", default: false },
    "e2e-torch-only": { type: "boolean", default: false },
    workload: { type: "string", default: "both" },
    seed: { type: "string", default: "42" },
    help: { type: "boolean", default: false },
  },
});
/** Writes `--out`; `deno task bench` may write only under .cache/, which the message says. */
async function writeOut(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.NotFound)) {
      throw error;
    }
    console.error(
      `bench: cannot write --out ${path}: ${
        error instanceof Deno.errors.NotCapable
          ? "deno task bench writes only under .cache/ (for example --out .cache/bench.json)"
          : "its folder does not exist"
      }`,
    );
    Deno.exit(1);
  }
}

if (values.help) {
  console.log(
    "usage: deno task bench [--json] [--quick] [--compare [--python PATH]]\n" +
      "  --json     print one JSON object\n" +
      "  --quick    only the default variant of each shape\n" +
      "  --compare  also time the same steps in PyTorch (bench/torch_step.py), on the GPU when\n" +
      "             this adapter is one; PyTorch runs without OPENBLAS_CORETYPE and\n" +
      "             OPENBLAS_L2_SIZE, as a user's would, and the BLAS kernels it ran are shown\n" +
      "  --python   the python3 that has torch (default /usr/bin/python3, then python3)\n" +
      "  --out      also write the JSON object to this file (under .cache/)\n" +
      "  --startup  only start-up: init()'s time and its conformance check's\n" +
      "  --profile  after each train step's timing, one more step with every kernel timed " +
      "on the\n" +
      "             GPU (timestamp queries): the kernels that take the most time\n" +
      "  --peft-memory  only ViT-B/16 training memory and step time: full, LoRA r16, LoRA with\n" +
      "             gradient checkpointing, frozen backbone (--batch N, default 16;\n" +
      "             --modes full,lora-r16,lora-r16+checkpointing,frozen-backbone)\n" +
      "  --e2e      a whole fine-tuning run by phase, beside the same run in PyTorch\n" +
      "             (bench/torch_step.py --e2e); --workload default|eval100|both,\n" +
      "             --quick for 20 steps each, --seed N; --e2e-no-sync: no GPU waits per phase;\n" +
      "             --e2e-tessera-only, --e2e-torch-only: one side; TORCH_BLAS_PRELOAD=LIB\n" +
      "             loads that BLAS (e.g. OpenBLAS's libblas.so.3) before torch",
  );
  Deno.exit(0);
}
if (values.e2e || values["e2e-no-sync"] || values["e2e-torch-only"]) {
  const { runE2e } = await import("./e2e.ts");
  const result = await runE2e({
    quick: values.quick,
    workload: values.workload!,
    sync: !values["e2e-no-sync"],
    torch: !values["e2e-tessera-only"],
    torchOnly: values["e2e-torch-only"],
    python: values.python,
    seed: Number(values.seed),
  }, values.json ? () => {} : console.log);
  if (values.json) console.log(JSON.stringify(result));
  if (values.out) await writeOut(values.out, JSON.stringify(result) + "\n");
  Deno.exit(0);
}

// Start-up: the adapter, the device and the conformance check of the chosen backend.
const startT0 = performance.now();
await init();
const startup = {
  init_ms: Math.round(performance.now() - startT0),
  check_ms: Math.round(startupChecks().reduce((t, r) => t + r.ms, 0)),
};
const log = values.json ? () => {} : console.log;
if (values.startup) {
  if (values.json) console.log(JSON.stringify({ adapter: describeAdapter(), startup }));
  else {log(
      `start-up: init() ${startup.init_ms} ms, of which the conformance check ${startup.check_ms} ms`,
    );}
  Deno.exit(0);
}
if (values["peft-memory"]) {
  const entries = await peftMemory({
    batch: Number(values.batch ?? 16),
    steps: 1,
    log,
    modes: values.modes?.split(","),
  });
  if (values.json) console.log(JSON.stringify({ adapter: describeAdapter(), peft: entries }));
  Deno.exit(0);
}
const onCpu = backend().name === "software";

/**
 * Seconds per call of `fn`: the best of three rounds of `reps` calls between two GPU syncs, so
 * that the sync (about 11 ms on lavapipe) is shared by the calls instead of added to each.
 */
async function time(fn: () => void, reps: number): Promise<number> {
  fn();
  await engine().sync();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    await engine().sync();
    best = Math.min(best, (performance.now() - t0) / reps);
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
  { name: "grad input", batch: 1, m: 3152, k: 768, n: 768, transA: false, transB: false },
  { name: "grad weight", batch: 1, m: 768, k: 3152, n: 768, transA: true, transB: false },
  { name: "attn QKᵀ", batch: 192, m: 197, k: 64, n: 197, transA: false, transB: true },
  { name: "attn PV", batch: 192, m: 197, k: 197, n: 64, transA: false, transB: false },
];

const adapter = describeAdapter();
log(`adapter: ${adapter}`);
log(
  `start-up: init() ${startup.init_ms} ms, of which the conformance check ${startup.check_ms} ms`,
);
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
  // What matmul() does by default. On CPU adapters the texture families time their operand
  // packing with the product; a large NN product too big for textures runs as NT on a
  // transposed copy of B (timed with the copy, through the public function).
  const asNT = backend().runsAsNT(s);
  const chosen = asNT ? null : matmulVariantFor(s);
  const candidates = values.quick ? (chosen ? [chosen] : []) : matmulCandidates(s);
  // Each call packs its operands afresh, as a train step's products mostly do: the texture
  // cache would otherwise find both already packed and time the kernel alone.
  const forget = (t: Tensor) =>
    engine().textures.invalidate(
      t.storage.buffer,
      t.storage.byteOffset,
      t.storage.byteOffset + t.storage.byteLength,
    );
  const runs: [string, () => void, boolean][] = candidates.map((v) => [
    label(v),
    () => {
      forget(a);
      forget(b);
      dispatchMatmul({ variant: v, shape: s, a, b, out, alpha: 1 });
    },
    v === chosen,
  ]);
  if (asNT) {
    const a2 = a.view([s.m, s.k]);
    const b2 = b.view([s.k, s.n]);
    const nt = { ...s, transB: true };
    runs.unshift([
      `${label(matmulVariantFor(nt))} on Bᵀ`,
      () => noGrad(() => product(a2, b2)).dispose(),
      true,
    ]);
  }
  const flops = 2 * s.batch * s.m * s.n * s.k;
  for (const [name, run, isDefault] of runs) {
    // A GPU runs these products in about a millisecond: more calls per sync there. On a CPU,
    // enough calls for about 10 GFLOP, so that the 11 ms sync adds little to small products.
    const seconds = await time(run, onCpu ? Math.max(3, Math.ceil(1e10 / flops)) : 20);
    const gflops = flops / seconds / 1e9;
    matmul.push({ m: s.m, k: s.k, n: s.n, batch: s.batch, variant: name, gflops });
    log(
      `matmul ${s.name.padEnd(12)} ${s.batch}×${s.m}×${s.k}×${s.n} ${name.padEnd(18)} ` +
        `${gflops.toFixed(1).padStart(6)} GFLOP/s${isDefault ? "  (default)" : ""}`,
    );
  }
  a.dispose();
  b.dispose();
  out.dispose();
}

const bandwidth: { op: string; shape: number[]; gbps: number }[] = [];
await noGrad(async () => {
  const scores = Tensor.zeros([16 * 12 * 197, 197]);
  // About a millisecond each on a GPU, where a sync costs several: more calls per sync there.
  const reps = onCpu ? 3 : 50;
  const s = await time(() => softmax(scores).dispose(), reps);
  bandwidth.push({
    op: "softmax",
    shape: [...scores.shape],
    gbps: (2 * scores.size * 4) / s / 1e9,
  });
  const x = Tensor.zeros([3152, 768]);
  const w = Tensor.zeros([768]);
  const l = await time(() => layerNorm(x, w, w).dispose(), reps);
  bandwidth.push({ op: "layernorm", shape: [...x.shape], gbps: (2 * x.size * 4) / l / 1e9 });
  scores.dispose();
  x.dispose();
  w.dispose();
});
for (const b of bandwidth) log(`${b.op.padEnd(10)} [${b.shape}] ${b.gbps.toFixed(2)} GB/s`);

const TRAIN_CONFIGS: { name: string; fields: Record<string, unknown>; batch: number }[] = [
  { name: "demo", fields: DEMO_CONFIG, batch: 16 },
  {
    name: "vit-tiny-16-224",
    fields: { hidden_size: 192, num_attention_heads: 3, intermediate_size: 768 },
    batch: 16,
  },
  // Batch 2 on a software adapter, where one batch-16 step takes minutes.
  { name: "vit-base-16-224", fields: {}, batch: onCpu ? 2 : 16 },
];
const trainStep: Record<string, unknown>[] = [];
for (const c of TRAIN_CONFIGS) {
  if (values.quick && c.name === "vit-base-16-224") continue;
  const config = makeViTConfig({ ...c.fields, num_labels: 3 }, c.name);
  const model = new ViTForImageClassification(config, 0);
  const opt = new AdamW(model.parameters(), { lr: 1e-4 });
  const size = config.image_size;
  const pixels = Tensor.from(
    new Float32Array(c.batch * 3 * size * size).map((_, i) => Math.sin(i)),
    [
      c.batch,
      3,
      size,
      size,
    ],
  );
  const labels = Array.from({ length: c.batch }, (_, i) => i % 3);
  const step = async () => {
    await scopeAsync(async () => {
      const { loss } = model.forward(pixels, labels);
      loss!.backward();
      const clip = opt.clipGradNorm(1);
      opt.step();
      opt.zeroGrad();
      await noGrad(() => concat([loss!.view([1]), clip], 0)).toArray();
    });
  };
  // Scratch textures left by earlier sections would count in this step's peak.
  engine().trim();
  await step();
  engine().pool.resetPeak();
  const reps = !onCpu ? 10 : c.name === "vit-base-16-224" ? 1 : 3;
  let best = Infinity;
  const [dispatches0, submits0] = [engine().dispatches, engine().submits];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await step();
    best = Math.min(best, performance.now() - t0);
  }
  // Deterministic, unlike the times: what fusing and caching change shows here first.
  const dispatches = (engine().dispatches - dispatches0) / reps;
  const submits = (engine().submits - submits0) / reps;
  const arenaBytes = model.numParameters() * 4 * 4;
  const entry = {
    name: c.name,
    hidden_size: config.hidden_size,
    num_hidden_layers: config.num_hidden_layers,
    num_attention_heads: config.num_attention_heads,
    intermediate_size: config.intermediate_size,
    image_size: config.image_size,
    patch_size: config.patch_size,
    batch_size: c.batch,
    step_ms: best,
    dispatches_per_step: dispatches,
    submits_per_step: submits,
    images_per_s: (c.batch / best) * 1000,
    // The scratch textures of CPU matmuls (all that the step has used so far) count in full.
    peak_mb: (engine().pool.stats.peakBytesInUse + arenaBytes + engine().textures.bytes) /
      2 ** 20,
  };
  if (values.profile) {
    engine().profileStart();
    await step();
    const kernels = await engine().profileEnd();
    const total = kernels.reduce((sum, k) => sum + k.ms, 0);
    Object.assign(entry, { profile: kernels });
    log(`  GPU time of one ${c.name} step by kernel (${total.toFixed(0)} ms in all):`);
    for (const k of kernels.slice(0, 15)) {
      log(
        `  ${k.ms.toFixed(1).padStart(8)} ms ${(100 * k.ms / total).toFixed(1).padStart(5)} %` +
          ` ${String(k.count).padStart(4)}× ${k.key}`,
      );
    }
  }
  trainStep.push(entry);

  log(
    `train step ${c.name.padEnd(16)} batch ${c.batch}: ${best.toFixed(0)} ms, ` +
      `${entry.images_per_s.toFixed(2)} images/s, peak ${entry.peak_mb.toFixed(0)} MiB, ` +
      `${dispatches} dispatches and ${submits} submits a step`,
  );
  pixels.dispose();
  model.dispose();
}

let loader: Record<string, number> | null = null;
if (!values.quick) {
  const dir = ".cache/bench/jpeg500";
  try {
    await Deno.stat(dir);
  } catch {
    await Deno.mkdir(`${dir}/train/a`, { recursive: true });
    for (let i = 0; i < 64; i++) {
      await Deno.writeFile(`${dir}/train/a/${i}.jpg`, encodeJpeg(renderBeanLeaf(i % 3, i, 500)));
    }
  }
  const ds = (await loadImageFolder(dir)).train;
  const processor = new ViTImageProcessor();
  loader = {};
  for (const workers of [0, 2]) {
    const dl = new DataLoader(ds, processor.config, { batchSize: 16, numWorkers: workers });
    const t0 = performance.now();
    for await (const b of dl.batches(0)) b.pixelValues.dispose();
    const rate = ds.length / ((performance.now() - t0) / 1000);
    dl.close();
    loader[`workers_${workers}`] = rate;
    log(`data loader: ${rate.toFixed(1)} images/s (500×500 JPEG → 224, ${workers} workers)`);
  }
}

let torch: unknown = null;
if (values.compare) {
  try {
    // Debian's python3 (with python3-torch) rather than another python3 first in PATH. It is
    // run, not stat'ed: the task may read only the repository.
    const run = (python: string) =>
      new Deno.Command(python, {
        args: [
          "bench/torch_step.py",
          ...(values.quick ? ["--quick"] : []),
          ...(onCpu ? [] : ["--device", "cuda"]),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
    const out = values.python ? await run(values.python) : await run("/usr/bin/python3").catch(
      (error) => {
        if (error instanceof Deno.errors.NotFound) return run("python3");
        throw error;
      },
    );
    if (!out.success) throw new Error(`bench/torch_step.py exited with ${out.code}`);
    torch = JSON.parse(new TextDecoder().decode(out.stdout));
    const t = torch as {
      train_step: { name: string; step_ms: number; precision?: string }[];
      torch: string;
      device: string;
      threads: number;
      blas?: {
        library: string;
        version: string | null;
        kernel: string | null;
        source: string;
        unset_env: string[];
      };
    };
    log(`PyTorch ${t.torch} (${t.device === "cpu" ? `CPU, ${t.threads} threads` : t.device}):`);
    if (t.blas) {
      // Which kernels the CPU matmuls ran: an environment override can pin old ones.
      const b = t.blas;
      log(
        `  BLAS: ${b.library}${b.version ? ` ${b.version}` : ""}` +
          `${b.kernel ? `, ${b.kernel} kernels` : ""} (from ${b.source})` +
          (b.unset_env.length ? `; unset for PyTorch: ${b.unset_env.join(", ")}` : ""),
      );
    }
    for (const r of t.train_step) {
      const mine = trainStep.find((e) => e.name === r.name) as { step_ms: number } | undefined;
      log(
        `  ${r.name.padEnd(16)} ${(r.precision ?? "fp32").padEnd(4)} ${r.step_ms.toFixed(1)} ms` +
          (mine ? `  → Tessera/PyTorch speed ${(r.step_ms / mine.step_ms).toFixed(2)}×` : ""),
      );
    }
  } catch (error) {
    log(`--compare: PyTorch is not available (${(error as Error).message})`);
  }
}

const report = JSON.stringify({
  adapter,
  startup,
  matmul,
  bandwidth,
  train_step: trainStep,
  loader,
  torch,
});
if (values.json) console.log(report);
if (values.out) await writeOut(values.out, report + "\n");
