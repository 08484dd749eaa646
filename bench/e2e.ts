/**
 * `deno task bench --e2e`: a whole fine-tuning run, timed by phase, beside the same run in a
 * plain PyTorch loop (`bench/torch_step.py --e2e`), so that one table shows where the
 * whole-run ratio is lost. Two workloads: the default `deno task train` recipe on the generated
 * beans, and the second run (2,000 small grayscale digit JPEGs, 10 classes, 1,000 test
 * images, evaluation and checkpoints every 100 steps). `--quick` shortens both to 20 steps.
 *
 * @module
 */

import { loadDataset } from "../data/parquet.ts";
import { encodeJpeg } from "../data/jpeg.ts";
import { drawText } from "../data/font.ts";
import { exists } from "../io/files.ts";
import { engine } from "../tensor/engine.ts";
import { init } from "../tensor/runtime.ts";
import { Rng } from "../tensor/rng.ts";
import { BLOG_ARGUMENTS, makeTrainingArguments } from "../train/args.ts";
import { fineTune } from "../train/fine_tune.ts";
import { type PhaseTime, PhaseTimer } from "../train/phase_timer.ts";
import { DEFAULT_BEANS_DIR, makeBeans } from "../demo/make_beans.ts";
import { BUNDLED_MODEL_DIR } from "../demo/config.ts";

/** Options of {@link runE2e}. */
export interface E2eOptions {
  /** 20 steps per workload instead of the full runs. */
  quick: boolean;
  /** Which workloads: "default", "eval100" or "both". */
  workload: string;
  /** Wait for the GPU at every phase boundary (exact attribution, a sync each). */
  sync: boolean;
  /** Also run the PyTorch loop. */
  torch: boolean;
  /** Run only the PyTorch loop. */
  torchOnly?: boolean;
  /** The python3 with torch. */
  python?: string;
  /** The seed. */
  seed: number;
}

/** The rows of the table, in order; phases not listed are added before "other". */
const ROWS = [
  "start-up: process + imports",
  "start-up: runtime init (Tessera: incl. conformance check; PyTorch: import torch)",
  "start-up: load model",
  "decode+resize",
  "host-to-GPU copies",
  "forward",
  "backward",
  "optimizer",
  "readbacks/syncs",
  "evaluation",
  "checkpoint writing",
  "tensorboard",
  "plots",
];

/** One side's whole run. */
interface RunResult {
  phases: PhaseTime[];
  totalMs: number;
  accuracy: number | null;
  steps: number;
  syncs?: number;
}

/** A workload: where its data is and what the run's arguments are. */
interface Workload {
  name: string;
  data: string;
  args: Record<string, unknown>;
}

/**
 * Writes an ImageFolder of small grayscale digit JPEGs (5×7 glyphs at a random scale, place and
 * brightness, with noise), 10 classes.
 */
async function makeDigits(dir: string, counts: Record<string, number>): Promise<void> {
  if (await exists(`${dir}/done`)) return;
  const rng = new Rng(7);
  const side = 32;
  for (const [split, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++) {
      const digit = i % 10;
      const folder = `${dir}/${split}/${digit}`;
      await Deno.mkdir(folder, { recursive: true });
      const data = new Uint8Array(side * side * 3);
      for (let p = 0; p < side * side; p++) {
        const v = Math.floor(rng.next() * 60);
        data[3 * p] = data[3 * p + 1] = data[3 * p + 2] = v;
      }
      const scale = 2 + Math.floor(rng.next() * 3);
      const x = Math.floor(rng.next() * Math.max(1, side - 5 * scale));
      const y = Math.floor(rng.next() * Math.max(1, side - 7 * scale));
      const g = 150 + Math.floor(rng.next() * 105);
      const image = { width: side, height: side, data };
      drawText(image, String(digit), x, y, [g, g, g], scale);
      await Deno.writeFile(`${folder}/${i}.jpg`, encodeJpeg(image, 85));
    }
  }
  await Deno.writeTextFile(`${dir}/done`, "");
}

function workloads(quick: boolean, which: string): Workload[] {
  const short = quick ? { maxSteps: 20, evalSteps: 10, saveSteps: 10, loggingSteps: 10 } : {};
  const all: Workload[] = [
    { name: "default", data: DEFAULT_BEANS_DIR, args: { ...short } },
    {
      name: "eval100",
      data: quick ? ".cache/bench/digits-quick" : ".cache/bench/digits",
      args: { ...short },
    },
  ];
  return all.filter((w) => which === "both" || which === w.name);
}

async function runTessera(w: Workload, startup: PhaseTime[], opts: E2eOptions): Promise<RunResult> {
  const timer = new PhaseTimer(opts.sync ? () => engine().sync() : null);
  for (const p of startup) timer.add(p.phase, p.ms);
  const t0 = performance.now();
  const ds = await loadDataset(w.data);
  timer.add("start-up: load model", performance.now() - t0);
  const args = makeTrainingArguments({
    ...BLOG_ARGUMENTS,
    ...w.args,
    seed: opts.seed,
    outputDir: `.cache/bench/e2e-${w.name}`,
    overwriteOutputDir: true,
  });
  const result = await fineTune({
    model: BUNDLED_MODEL_DIR,
    args,
    trainDataset: ds.train,
    evalDataset: ds.validation ?? ds.test,
    log: () => {},
    hostname: "bench",
    phases: timer,
  });
  const startupMs = startup.reduce((s, p) => s + p.ms, 0);
  const totalMs = startupMs + performance.now() - t0;
  return {
    phases: timer.phases(),
    totalMs,
    accuracy: result.evalMetrics?.eval_accuracy ?? null,
    steps: result.state.global_step,
    syncs: timer.syncs,
  };
}

async function runTorch(w: Workload, opts: E2eOptions): Promise<RunResult> {
  const a = makeTrainingArguments({ ...BLOG_ARGUMENTS, ...w.args });
  const spec = {
    data: w.data,
    model: BUNDLED_MODEL_DIR,
    out: `.cache/bench/e2e-torch-${w.name}`,
    batch: a.perDeviceTrainBatchSize,
    eval_batch: a.perDeviceEvalBatchSize,
    epochs: a.numTrainEpochs,
    max_steps: a.maxSteps,
    lr: a.learningRate,
    eval_steps: a.evalSteps,
    save_steps: a.saveSteps,
    logging_steps: a.loggingSteps,
    save_total_limit: a.saveTotalLimit,
    seed: opts.seed,
  };
  const run = (python: string) =>
    new Deno.Command(python, {
      args: ["bench/torch_step.py", "--e2e", JSON.stringify(spec)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
  const t0 = performance.now();
  const out = opts.python ? await run(opts.python) : await run("/usr/bin/python3").catch(
    (error) => {
      if (error instanceof Deno.errors.NotFound) return run("python3");
      throw error;
    },
  );
  const wall = performance.now() - t0;
  if (!out.success) throw new Error(`bench/torch_step.py --e2e exited with ${out.code}`);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  // The process's own start (interpreter, before the first timestamp) counts as start-up.
  const phases = r.phases as PhaseTime[];
  phases.push({ phase: "start-up: process + imports", ms: wall - r.total_ms, count: 1 });
  return { phases, totalMs: wall, accuracy: r.eval_accuracy, steps: r.steps };
}

function table(name: string, tessera: RunResult, torch: RunResult | null): string[] {
  const names = [...ROWS];
  for (const r of [tessera, torch]) {
    for (const p of r?.phases ?? []) if (!names.includes(p.phase)) names.push(p.phase);
  }
  const ms = (r: RunResult | null, phase: string) =>
    r ? r.phases.filter((p) => p.phase === phase).reduce((s, p) => s + p.ms, 0) : NaN;
  const other = (r: RunResult | null) =>
    r ? r.totalMs - r.phases.reduce((s, p) => s + p.ms, 0) : NaN;
  const cell = (v: number, total: number) =>
    Number.isNaN(v) || Number.isNaN(total)
      ? "–"
      : `${(v / 1000).toFixed(2)} s ${(100 * v / total).toFixed(0)} %`;
  const lines = [
    `| ${name} | Tessera | PyTorch | Tessera / PyTorch speed |`,
    "| --- | ---: | ---: | ---: |",
  ];
  const row = (label: string, a: number, b: number) => {
    const ratio = a > 0 && b > 0 ? `${(b / a).toFixed(2)}×` : "–";
    lines.push(
      `| ${label} | ${cell(a, tessera.totalMs)} | ${
        torch ? cell(b, torch.totalMs) : "–"
      } | ${ratio} |`,
    );
  };
  for (const n of names.filter((n) => n !== "other")) row(n, ms(tessera, n), ms(torch, n));
  row("other (logging, callbacks, metrics, unmeasured)", other(tessera), other(torch));
  row("**total**", tessera.totalMs, torch?.totalMs ?? NaN);
  const acc = (r: RunResult | null) =>
    r?.accuracy == null ? "–" : `${(100 * r.accuracy).toFixed(1)} %`;
  lines.push(
    `| eval accuracy / steps | ${acc(tessera)} / ${tessera.steps} | ${acc(torch)} / ${
      torch?.steps ?? "–"
    } | |`,
  );
  return lines;
}

/**
 * Runs the workloads on both sides and prints the tables.
 *
 * @param opts What to run.
 * @param log Where lines go.
 * @returns The results, for `--json`.
 */
export async function runE2e(
  opts: E2eOptions,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const imports = performance.now();
  const t0 = performance.now();
  await init();
  const startup: PhaseTime[] = [
    { phase: "start-up: process + imports", ms: imports, count: 1 },
    {
      phase: "start-up: runtime init (Tessera: incl. conformance check; PyTorch: import torch)",
      ms: performance.now() - t0,
      count: 1,
    },
  ];
  if (!(await exists(DEFAULT_BEANS_DIR))) await makeBeans(DEFAULT_BEANS_DIR, { log });
  await makeDigits(".cache/bench/digits", { train: 2000, test: 1000 });
  await makeDigits(".cache/bench/digits-quick", { train: 320, test: 160 });
  const out: Record<string, unknown> = {};
  for (const w of workloads(opts.quick, opts.workload)) {
    const label = `${w.name}${opts.quick ? " (quick)" : ""}`;
    if (opts.torchOnly) {
      log(`e2e ${w.name}: PyTorch…`);
      const torch = await runTorch(w, opts);
      const empty: RunResult = { phases: [], totalMs: NaN, accuracy: null, steps: 0 };
      for (const line of table(label, empty, torch)) log(line);
      out[w.name] = { torch };
      continue;
    }
    log(`e2e ${w.name}: Tessera…`);
    const tessera = await runTessera(w, startup, opts);
    if (opts.torch) {
      // Printed now too, in case the PyTorch run is cut short.
      for (const line of table(label, tessera, null)) log(line);
    }
    let torch: RunResult | null = null;
    if (opts.torch) {
      log(`e2e ${w.name}: PyTorch…`);
      try {
        torch = await runTorch(w, opts);
      } catch (error) {
        log(`PyTorch is not available (${(error as Error).message})`);
      }
    }
    log("");
    for (const line of table(label, tessera, torch)) {
      log(line);
    }
    if (opts.sync) {
      log(
        `(Tessera's phases waited for the GPU at each boundary: ${tessera.syncs} syncs, ` +
          "counted in the phases; --e2e-no-sync times the run without them)",
      );
    }
    log("");
    out[w.name] = { tessera, torch };
  }
  return out;
}
