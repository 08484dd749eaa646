/**
 * Bad input never takes a CLI task down with a stack trace, a non-finite loss stops training
 * without losing the last checkpoint, SIGINT saves and exits cleanly, GPU memory stays flat
 * over epochs, and no task reaches the network past the loopback interface.
 */
import assert from "node:assert/strict";
import { makeBeans } from "../demo/make_beans.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { encodePng } from "../data/png.ts";
import { ViTImageProcessor } from "../data/processor.ts";
import { cliCommand, removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { engine } from "../tensor/engine.ts";
import { makeTrainingArguments } from "../train/args.ts";
import { NonFiniteLossError, Trainer } from "../train/trainer.ts";
import { init } from "../tensor/runtime.ts";
import { saveTinyModel, TINY_VIT } from "./_tiny_vit.ts";

await init();

const root = await testTempDir();
const data = `${root}/beans`;
await makeBeans(data, { seed: 3, size: 40, splits: { train: 36, validation: 12 } });
const modelDir = `${root}/model`;
await saveTinyModel(modelDir, (await loadImageFolder(data)).train.labels.id2label());

async function cli(
  task: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await cliCommand(task, args, root).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `deno task train` arguments for a two-step run of the test model on the test data. */
function twoStepTrain(outputDir: string, ...extra: string[]): string[] {
  return [
    "--data",
    data,
    "--model",
    modelDir,
    "--output-dir",
    outputDir,
    "--max-steps",
    "2",
    "--save-steps",
    "2",
    "--eval-steps",
    "2",
    ...extra,
  ];
}

function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp, what: string) {
  assert.notEqual(r.code, 0, `${what}: exits non-zero`);
  const lines = r.stderr.split("\n").filter((l) => /error/.test(l));
  assert.equal(lines.length, 1, `${what}: one error line, got:\n${r.stderr}`);
  assert.match(lines[0], pattern, what);
  assert.ok(!/\n\s+at /.test(r.stderr), `${what}: no stack trace:\n${r.stderr}`);
}

async function copyDir(from: string, to: string) {
  await Deno.mkdir(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

Deno.test("CLI tasks turn bad models and data into one-line errors naming the file", async (t) => {
  const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
    ["missing config.json", (d) => Deno.remove(`${d}/config.json`), /config\.json: file not found/],
    [
      "malformed config.json",
      (d) => Deno.writeTextFile(`${d}/config.json`, "{oops"),
      /config\.json: invalid JSON/,
    ],
    [
      "config.json with a bad field",
      (d) =>
        Deno.writeTextFile(
          `${d}/config.json`,
          JSON.stringify({ ...TINY_VIT, model_type: "vit", hidden_size: -3 }),
        ),
      /config\.json: hidden_size must be a positive integer/,
    ],
    [
      "malformed preprocessor_config.json",
      (d) => Deno.writeTextFile(`${d}/preprocessor_config.json`, '{"size": "big"}'),
      /preprocessor_config\.json: size\.height must be a positive integer/,
    ],
    [
      "truncated safetensors",
      async (d) => {
        const b = await Deno.readFile(`${d}/model.safetensors`);
        await Deno.writeFile(`${d}/model.safetensors`, b.subarray(0, 100));
      },
      /model\.safetensors: .*(exceeds|outside)/,
    ],
    [
      "safetensors header length 2^40",
      async (d) => {
        const b = await Deno.readFile(`${d}/model.safetensors`);
        new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true);
        await Deno.writeFile(`${d}/model.safetensors`, b);
      },
      /model\.safetensors: header length 1099511627776 exceeds/,
    ],
    [
      "safetensors dtype/shape/byte mismatch",
      (d) =>
        Deno.writeFile(
          `${d}/model.safetensors`,
          (() => {
            const json = new TextEncoder().encode(
              JSON.stringify({ x: { dtype: "F32", shape: [9], data_offsets: [0, 8] } }),
            );
            const out = new Uint8Array(8 + json.length + 8);
            new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
            out.set(json, 8);
            return out;
          })(),
        ),
      /model\.safetensors: tensor 'x': F32 \[9\] needs 36 bytes/,
    ],
    [
      "checkpoint shapes that contradict config.json",
      (d) =>
        Deno.writeTextFile(
          `${d}/config.json`,
          JSON.stringify({ ...TINY_VIT, model_type: "vit", intermediate_size: 40 }),
        ),
      /model\.safetensors: .*has shape \[32,24\] but the config gives \[40,24\]/,
    ],
    [
      "config.json without model_type",
      (d) => Deno.writeTextFile(`${d}/config.json`, JSON.stringify(TINY_VIT)),
      /config\.json: has no model_type/,
    ],
  ];
  for (const [what, breakIt, pattern] of cases) {
    await t.step(what, async () => {
      const dir = `${root}/bad-${what.replace(/\W+/g, "-")}`;
      await copyDir(modelDir, dir);
      await breakIt(dir);
      assertOneLineError(
        await cli("evaluate", ["--model", dir, "--data", data, "--json"]),
        pattern,
        what,
      );
    });
  }
  await t.step("a dataset whose splits have different class sets", async () => {
    const d = `${root}/mismatch`;
    await makeBeans(d, { seed: 1, size: 24, splits: { train: 6, validation: 3 } });
    await Deno.remove(`${d}/validation/healthy`, { recursive: true });
    assertOneLineError(
      await cli("train", ["--data", d, "--model", modelDir, "--output-dir", `${root}/o1`]),
      /validation: its classes \[angular_leaf_spot, bean_rust\] differ/,
      "class sets",
    );
  });
  await t.step("an empty class", async () => {
    const d = `${root}/emptyclass`;
    await makeBeans(d, { seed: 1, size: 24, splits: { train: 6 } });
    for (const f of Deno.readDirSync(`${d}/train/healthy`)) {
      await Deno.remove(`${d}/train/healthy/${f.name}`);
    }
    assertOneLineError(
      await cli("train", ["--data", d, "--model", modelDir, "--output-dir", `${root}/o2`]),
      /class 'healthy' has no usable images/,
      "empty class",
    );
  });
  await t.step("an image of the wrong size when resizing is off", async () => {
    const dir = `${root}/noresize`;
    await copyDir(modelDir, dir);
    await Deno.writeTextFile(
      `${dir}/preprocessor_config.json`,
      JSON.stringify({ size: 32, do_resize: false }),
    );
    assertOneLineError(
      await cli("evaluate", ["--model", dir, "--data", data]),
      /\.jpg: image is 40×40 but resizing is off and the model expects 32×32/,
      "wrong size",
    );
  });
  await t.step("an output folder that cannot be written", async () => {
    await Deno.writeTextFile(`${root}/a-file`, "x");
    assertOneLineError(
      await cli("train", twoStepTrain(`${root}/a-file/out`)),
      /a-file\/out: cannot write the output folder \(a parent is not a folder\)/,
      "unwritable output",
    );
  });
  await t.step("an image that is not an image, given to predict", async () => {
    await Deno.writeFile(
      `${root}/fake.png`,
      encodePng({ width: 1, height: 1, data: new Uint8Array(3) }).subarray(0, 20),
    );
    assertOneLineError(
      await cli("predict", ["--model", modelDir, `${root}/fake.png`]),
      /fake\.png: truncated PNG/,
      "bad image",
    );
  });
  await t.step("unknown flags and bad values", async () => {
    assertOneLineError(
      await cli("train", ["--learning-rat", "1"]),
      /unknown flag --learning-rat/,
      "unknown flag",
    );
    assertOneLineError(
      await cli("train", ["--per-device-train-batch-size", "0"]),
      /must be a positive integer/,
      "bad value",
    );
  });
});

Deno.test("a non-finite loss stops training with a clear error, last checkpoint kept", async () => {
  const ds = await loadImageFolder(data);
  const model = new ViTForImageClassification(
    makeViTConfig({ ...TINY_VIT, id2label: ds.train.labels.id2label() }),
  );
  const out = `${root}/nan`;
  const trainer = new Trainer({
    model,
    processor: new ViTImageProcessor({ size: 32 }),
    trainDataset: ds.train,
    args: makeTrainingArguments({
      outputDir: out,
      perDeviceTrainBatchSize: 6,
      maxSteps: 40,
      saveSteps: 2,
      reportTo: "none",
      dataloaderNumWorkers: 0,
    }),
    log: () => {},
    // A weight turns NaN after step 5, as a diverging run's would.
    onProgress: (p) => {
      if (p.step === 5) model.classifier.bias!.assign(new Float32Array(3).fill(NaN));
    },
  });
  await assert.rejects(() => trainer.train(), (e: unknown) => {
    assert.ok(e instanceof NonFiniteLossError, String(e));
    assert.match(e.message, /became (NaN|Infinity|-Infinity) at step 6; training stopped/);
    assert.match(e.message, /last good checkpoint: .*checkpoint-4/);
    return true;
  });
  const kept = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) =>
    /^checkpoint-\d+$/.test(n)
  );
  assert.ok(kept.length > 0, "earlier checkpoints are kept");
  assert.ok(
    ![...Deno.readDirSync(out)].some((e) => /tmp|partial/.test(e.name)),
    "no partial files",
  );
});

Deno.test("SIGINT in training saves a checkpoint and exits cleanly; the run resumes", async () => {
  const out = `${root}/sigint`;
  const args = [
    "--data",
    data,
    "--model",
    modelDir,
    "--output-dir",
    out,
    "--per-device-train-batch-size",
    "6",
    "--max-steps",
    "400",
    "--save-steps",
    "200",
    "--eval-steps",
    "200",
    "--logging-steps",
    "1",
    "--report-to",
    "none",
    "--dataloader-num-workers",
    "0",
  ];
  const child = cliCommand("train", args, root).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!/"step":3\b/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  child.kill("SIGINT");
  const rest = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += new TextDecoder().decode(value);
    }
  };
  await rest();
  const status = await child.status;
  await child.stderr.cancel();
  assert.equal(status.code, 130, text);
  assert.match(text, /stopped at step (\d+); a checkpoint was saved/);
  const step = Number(text.match(/stopped at step (\d+)/)![1]);
  assert.ok(Deno.statSync(`${out}/checkpoint-${step}/trainer_state.json`).isFile);
  const resumed = await cli("train", [
    ...args,
    "--resume-from-checkpoint",
    "--max-steps",
    String(step + 2),
  ]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming from .*checkpoint-${step} at step ${step}`));
});

Deno.test("GPU memory stays flat over a multi-epoch run after the first epoch", async () => {
  const ds = await loadImageFolder(data);
  const model = new ViTForImageClassification(
    makeViTConfig({ ...TINY_VIT, id2label: ds.train.labels.id2label() }),
  );
  const pool = engine().pool.stats;
  let afterFirst = -1;
  const trainer = new Trainer({
    model,
    processor: new ViTImageProcessor({ size: 32 }),
    trainDataset: ds.train,
    evalDataset: ds.validation,
    args: makeTrainingArguments({
      outputDir: `${root}/flat`,
      perDeviceTrainBatchSize: 8,
      numTrainEpochs: 5,
      evalStrategy: "epoch",
      saveStrategy: "no",
      reportTo: "none",
      dataloaderNumWorkers: 0,
    }),
    log: () => {},
    onProgress: (p) => {
      if (p.step === 6) afterFirst = pool.created;
    },
  });
  await trainer.train();
  assert.ok(afterFirst > 0);
  assert.equal(
    pool.created,
    afterFirst,
    "no GPU buffer created after the first epoch and its evaluation",
  );
});

// A full disk is a small tmpfs (root only; skipped where mounting is not allowed).
const fullDisk = `${root}/full`;
await Deno.mkdir(fullDisk);
const mounted = await new Deno.Command("mount", {
  args: ["-t", "tmpfs", "-o", "size=512k", "tmpfs", fullDisk],
  stderr: "null",
}).output().then((o) => o.success, () => false);

Deno.test({
  name: "a full disk during a save leaves the previous files intact and no partial ones",
  ignore: !mounted,
  fn: async () => {
    const ds = await loadImageFolder(data);
    const config = makeViTConfig({ ...TINY_VIT, id2label: ds.train.labels.id2label() });
    const out = `${fullDisk}/model`;
    await new ViTForImageClassification(config, 1).savePretrained(out);
    const before = await Deno.readFile(`${out}/model.safetensors`);
    const free = 512 * 1024 - Number((await Deno.stat(`${out}/model.safetensors`)).size) - 16384;
    await Deno.writeFile(`${fullDisk}/filler`, new Uint8Array(Math.max(0, free)));
    await assert.rejects(
      () => new ViTForImageClassification(config, 2).savePretrained(out),
      /model\.safetensors: cannot write \(.*(No space left|os error 28)/,
    );
    assert.deepEqual(await Deno.readFile(`${out}/model.safetensors`), before, "old weights intact");
    assert.deepEqual(
      [...Deno.readDirSync(out)].map((e) => e.name).sort(),
      ["config.json", "model.safetensors"],
      "no temporary files left",
    );
    const r = await cli("train", twoStepTrain(`${fullDisk}/run`, "--report-to", "none"));
    assertOneLineError(
      r,
      /checkpoint-2.*: cannot write \(.*(No space left|os error 28)/,
      "full disk",
    );
    assert.ok(
      ![...Deno.readDirSync(`${fullDisk}/run`)].some((e) => /checkpoint|tmp/.test(e.name)),
      "no partial checkpoint",
    );
  },
});

Deno.test("no task reaches past loopback, and every task's writes are confined", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)))
    .tasks as Record<string, string>;
  for (const [name, command] of Object.entries(tasks)) {
    for (const part of command.split("&&")) {
      if (!/deno (run|test)/.test(part)) continue;
      assert.ok(!/--allow-all|(^|\s)-A(\s|$)/.test(part), `${name} must not allow everything`);
      // Only the loopback interface (127.0.0.0/8), where the browser tests, the page's server and
      // the fake Hub (its CDN on 127.0.0.2) listen.
      for (const net of part.match(/--allow-net(=\S+)?/g) ?? []) {
        assert.match(
          net,
          /^--allow-net=(127(\.\d{1,3}){3}|localhost)(,(127(\.\d{1,3}){3}|localhost))*$/,
          `${name}: ${net}`,
        );
      }
      const write = part.match(/--allow-write(=\S+)?/);
      if (write) assert.ok(write[1], `${name}: --allow-write must name where outputs go`);
    }
  }
});

addEventListener("unload", () => {
  if (mounted) new Deno.Command("umount", { args: [fullDisk] }).outputSync();
});
removeOnUnload(root);
