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
import { useFileSystem } from "../io/files.ts";
import { testTempDir } from "../io/_test_util.ts";
import { loadCheckpoint, parameterValues } from "../train/checkpoint.ts";
import { init } from "../tensor/runtime.ts";
import { DyingFileSystem, faultTrainer } from "./_dying_fs.ts";
import { fixtureModel } from "./_trajectory.ts";

await init();

const CHECKPOINT = /^checkpoint-(\d+)$/;

/** Trains to the end (resuming when asked) and returns the final weights. */
async function finish(outputDir: string, resume: boolean, logs: string[] = [], keep = 1) {
  const { t, model } = faultTrainer(outputDir, resume, logs, undefined, keep);
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
  const { t, model } = faultTrainer(await Deno.makeTempDir({ dir: root }), false, [], fs);
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

/**
 * After a kill: every folder under a checkpoint's name loads; a resume starts from `expected`
 * and ends with the uninterrupted run's weights; nothing half done is left.
 */
async function assertRecovers(out: string, what: string, expected: number): Promise<void> {
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

Deno.test("a run killed at any file operation of a save resumes and loses nothing", async () => {
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
    const { t, model } = faultTrainer(out, false, [], fs);
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
    await assertRecovers(out, what, killAt > renamed ? 4 : 2);
  }
});

Deno.test("resuming a corrupt newest checkpoint names the file and the one before it", async () => {
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

Deno.test("a process SIGKILLed at two points inside a save resumes and loses nothing", async () => {
  const { log, first } = await saveAtFour();
  const points = [
    log.findIndex((e) => /^write .*checkpoint-4\.tmp-\d+\/model\.safetensors$/.test(e)),
    log.findIndex((e) => /^remove .*checkpoint-2\.deleting/.test(e)),
  ];
  assert.ok(points.every((p) => p >= 0), log.join());
  for (const [i, expected] of [[points[0], 2], [points[1], 4]]) {
    const out = `${root}/sigkill-${i}`;
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read=.",
        `--allow-write=${out}`,
        // As the test task: the parent's software SIMD width, so its arithmetic is the same.
        "--allow-env",
        "--deny-env=LP_NATIVE_VECTOR_WIDTH",
        new URL("_killed_save.ts", import.meta.url).pathname,
        out,
        String(first + i),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(child.stderr);
    assert.equal(child.signal, "SIGKILL", `the child was not killed: ${stderr.slice(-2000)}`);
    await assertRecovers(out, log[i], expected);
  }
});
