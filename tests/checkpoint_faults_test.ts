/**
 * Faults inside saving. A file system that dies at a chosen operation (the operation itself left
 * half done, as a SIGKILL leaves it: half a temporary file, half of a folder's files deleted, and
 * nothing at all afterwards, not even the error path's clean-up) stops a training run at every
 * file operation of a checkpoint save and its rotation in turn. After each: every folder named
 * like a checkpoint loads, and a resume picks the newest complete one and ends with exactly the
 * weights of a run that was never stopped. A corrupted newest checkpoint fails the resume in one
 * line that names the file and the checkpoint before it.
 */
import assert from "node:assert/strict";
import { ViTImageProcessor } from "../data/processor.ts";
import {
  type DirEntry,
  type FileInfo,
  type FileSystem,
  fileSystem,
  useFileSystem,
} from "../io/files.ts";
import { testTempDir } from "../io/_test_util.ts";
import { makeTrainingArguments } from "../train/args.ts";
import { loadCheckpoint, parameterValues } from "../train/checkpoint.ts";
import { Trainer } from "../train/trainer.ts";
import { init } from "../tensor/runtime.ts";
import { config, fixtureDataset, fixtureModel } from "./_trajectory.ts";

await init();

/** The process was killed: thrown by every operation from the chosen one on. */
class Killed extends Error {}

/** Deno's file system, until operation number `killAt` (counting only those that write). */
class DyingFileSystem implements FileSystem {
  readonly inner: FileSystem = fileSystem();
  /** Writing operations so far, with what they did; markers for the step ends. */
  readonly log: string[] = [];
  writes = 0;
  killAt = Infinity;
  dead = false;

  #alive(): void {
    if (this.dead) throw new Killed("the process is dead");
  }

  async #write(what: string, halfDone: () => Promise<void>, op: () => Promise<void>) {
    this.#alive();
    this.writes++;
    this.log.push(what);
    if (this.writes === this.killAt) {
      this.dead = true;
      await halfDone();
      throw new Killed(`killed during ${what}`);
    }
    await op();
  }

  readFile(path: string): Promise<Uint8Array> {
    this.#alive();
    return this.inner.readFile(path);
  }
  readDir(path: string): Promise<DirEntry[]> {
    this.#alive();
    return this.inner.readDir(path);
  }
  stat(path: string): Promise<FileInfo | null> {
    this.#alive();
    return this.inner.stat(path);
  }
  writeFile(path: string, data: Uint8Array): Promise<void> {
    // Deno's writeFile goes through a temporary file: a kill leaves part of that behind.
    const temp = `${path.slice(0, path.lastIndexOf("/"))}/.killed.tmp-${this.writes}`;
    return this.#write(
      `write ${path}`,
      () => Deno.writeFile(temp, data.subarray(0, data.length >> 1)),
      () => this.inner.writeFile(path, data),
    );
  }
  appendFile(path: string, data: Uint8Array): Promise<void> {
    return this.#write(
      `append ${path}`,
      () => this.inner.appendFile(path, data.subarray(0, data.length >> 1)),
      () => this.inner.appendFile(path, data),
    );
  }
  mkdir(path: string): Promise<void> {
    return this.#write(`mkdir ${path}`, async () => {}, () => this.inner.mkdir(path));
  }
  rename(from: string, to: string): Promise<void> {
    return this.#write(`rename ${from} ${to}`, async () => {}, () => this.inner.rename(from, to));
  }
  remove(path: string): Promise<void> {
    // A recursive delete cut short: the first half of the folder's files are gone.
    const halfDone = async () => {
      const info = await this.inner.stat(path);
      if (!info?.isDirectory) return;
      const names = (await this.inner.readDir(path)).map((e) => e.name).sort();
      for (const name of names.slice(0, names.length >> 1)) {
        await this.inner.remove(`${path}/${name}`);
      }
    };
    return this.#write(`remove ${path}`, halfDone, () => this.inner.remove(path));
  }
}

const CHECKPOINT = /^checkpoint-(\d+)$/;

/** 6 steps of the small ViT, a checkpoint every 2 steps, at most `keep` kept. */
function trainer(
  outputDir: string,
  resume: boolean,
  logs: string[],
  fs?: DyingFileSystem,
  keep = 1,
) {
  const args = makeTrainingArguments({
    outputDir,
    perDeviceTrainBatchSize: 8,
    maxSteps: 6,
    learningRate: 2e-3,
    saveSteps: 2,
    saveTotalLimit: keep,
    loggingSteps: 1000,
    reportTo: "none",
    dataloaderNumWorkers: 0,
    resumeFromCheckpoint: resume ? true : null,
  });
  const model = fixtureModel();
  const t = new Trainer({
    model,
    args,
    processor: new ViTImageProcessor({ size: config.image_size }),
    trainDataset: fixtureDataset(),
    log: (l) => logs.push(l),
    callbacks: fs
      ? [{ onStepEnd: (_a, state) => void fs.log.push(`step ${state.global_step}`) }]
      : [],
  });
  return { t, model };
}

/** Trains to the end (resuming when asked) and returns the final weights. */
async function finish(outputDir: string, resume: boolean, logs: string[] = [], keep = 1) {
  const { t, model } = trainer(outputDir, resume, logs, undefined, keep);
  try {
    await t.train();
    return await parameterValues(model, t.optimizer!);
  } finally {
    t.close();
    model.dispose();
  }
}

const root = await testTempDir();
const reference = `${root}/reference`;
// Two checkpoints kept (4 and 6), for the corruption test.
const finalWeights = await finish(reference, false, [], 2);

/** The writing operations of the save at step 4 of an uninterrupted run, and their numbers. */
async function saveAtFour(): Promise<{ log: string[]; first: number; last: number }> {
  const fs = new DyingFileSystem();
  const { t, model } = trainer(`${root}/count`, false, [], fs);
  useFileSystem(fs);
  try {
    await t.train();
  } finally {
    useFileSystem(null);
    t.close();
    model.dispose();
  }
  // Operation numbers are 1-based and skip the step markers.
  const numbered: [number, string][] = [];
  let n = 0;
  for (const entry of fs.log) numbered.push([entry.startsWith("step ") ? n : ++n, entry]);
  const after4 = numbered.findIndex(([, e]) => e === "step 4");
  const after5 = numbered.findIndex(([, e]) => e === "step 5");
  const ops = numbered.slice(after4 + 1, after5).filter(([, e]) => !e.startsWith("step "));
  return { log: ops.map(([, e]) => e), first: ops[0][0], last: ops.at(-1)![0] };
}

Deno.test("a run killed at any file operation of a checkpoint save resumes from the newest complete checkpoint and loses nothing", async () => {
  const { log, first, last } = await saveAtFour();
  // The save writes its files, renames its folder into place and deletes checkpoint-2.
  assert.ok(log.some((e) => /^rename .*checkpoint-4\.tmp-\d+ .*checkpoint-4$/.test(e)), log.join());
  assert.ok(log.some((e) => /^remove .*checkpoint-2/.test(e)), log.join());
  const renamed = first + log.findIndex((e) => /^rename .*checkpoint-4\.tmp/.test(e));
  for (let killAt = first; killAt <= last; killAt++) {
    const what = log[killAt - first];
    const out = `${root}/killed-${killAt}`;
    const fs = new DyingFileSystem();
    fs.killAt = killAt;
    const { t, model } = trainer(out, false, [], fs);
    useFileSystem(fs);
    try {
      const error = await t.train().then(() => null, (e: Error) => e);
      // Whatever wrapped it, the kill ended the run at that operation.
      assert.ok(fs.dead && error, `the run was not killed during ${what}`);
    } finally {
      useFileSystem(null);
      t.close();
      model.dispose();
    }
    // Every folder under a checkpoint's name loads, whatever the kill interrupted.
    const names = [...Deno.readDirSync(out)].map((e) => e.name);
    for (const name of names.filter((n) => CHECKPOINT.test(n))) {
      const probe = fixtureModel();
      try {
        const { state } = await loadCheckpoint(`${out}/${name}`, probe, null);
        assert.equal(`checkpoint-${state.global_step}`, name);
      } catch (error) {
        throw new Error(`killed during ${what}: ${name} does not load: ${error}`);
      } finally {
        probe.dispose();
      }
    }
    const logs: string[] = [];
    const weights = await finish(out, true, logs);
    const expected = killAt > renamed ? 4 : 2;
    assert.ok(
      logs.some((l) => l.includes(`checkpoint-${expected} at step ${expected}`)),
      `killed during ${what}: resumed as ${logs.find((l) => l.startsWith("resuming"))}`,
    );
    for (const [name, values] of finalWeights) {
      assert.deepEqual(weights.get(name), values, `killed during ${what}: ${name} differs`);
    }
    // The resumed run's saves clear what the killed one left half done.
    const left = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => !CHECKPOINT.test(n));
    assert.deepEqual(left, [], `killed during ${what}`);
  }
});

Deno.test("resuming from a corrupted newest checkpoint fails in one line that names the file and the checkpoint before it", async () => {
  const cases: [string, (bytes: Uint8Array) => Uint8Array][] = [
    ["model.safetensors", (b) => b.subarray(0, b.length >> 1)],
    ["optimizer.safetensors", (b) => b.subarray(0, 100)],
    ["trainer_state.json", (b) => b.subarray(0, b.length - 10)],
  ];
  for (const [file, corrupt] of cases) {
    const out = `${root}/corrupt-${file}`;
    await Deno.mkdir(out);
    for (const name of ["checkpoint-4", "checkpoint-6"]) {
      await Deno.mkdir(`${out}/${name}`);
      for (const e of Deno.readDirSync(`${reference}/${name}`)) {
        await Deno.copyFile(`${reference}/${name}/${e.name}`, `${out}/${name}/${e.name}`);
      }
    }
    const path = `${out}/checkpoint-6/${file}`;
    await Deno.writeFile(path, corrupt(await Deno.readFile(path)));
    const error = await finish(out, true).then(() => null, (e: Error) => e);
    assert.ok(error, `a truncated ${file} was accepted`);
    assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
    assert.ok(error.message.includes(path), `names ${path}: ${error.message}`);
    assert.ok(
      error.message.includes(`the checkpoint before it is ${out}/checkpoint-4 `),
      `names the previous: ${error.message}`,
    );
  }
});
