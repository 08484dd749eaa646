/**
 * The page in a real browser: headless Chromium (WebGPU on SwiftShader here) loads the built
 * page, is refused bad folders with messages, takes a generated dataset dropped as a folder (as
 * from the desktop) and a tiny model folder through its folder input, trains, stops and resumes,
 * predicts, and hands over a zip whose model gives the same logits in Deno. Chromium's console
 * must stay free of WebGPU errors and uncaught errors. A screenshot of the trained page goes to
 * .cache/test/web/web.png (the one in docs/web.png is a copy). A second test trains LoRA with
 * gradient checkpointing on the page and checks the adapter folder it downloads against PEFT's
 * layout and against the same run in Deno.
 *
 * Needs what tests/browser_test.ts needs (--allow-run, --allow-net=127.0.0.1, --allow-env,
 * --allow-read=.,/usr/bin/chromium, writes under .cache/test).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  BLOG_ARGUMENTS,
  classifyImage,
  evaluateModel,
  fineTune,
  init,
  loadDataset,
  makeTrainingArguments,
  makeViTConfig,
  ViTForImageClassification,
  ViTImageProcessor,
} from "../mod.ts";
import { decodeImage } from "../data/image.ts";
import { encodePng } from "../data/png.ts";
import { parseSafetensors } from "../nn/safetensors.ts";
import { noGrad, scopeAsync } from "../tensor/tensor.ts";
import { classNames, loadModelFolder } from "../train/model_folder.ts";
import { CHROMIUM, exists, WEBGPU_ERROR } from "../tests/browser/harness.ts";
import { buildWeb } from "./build.ts";
import { serveWeb } from "./serve.ts";

const OUT = `${Deno.cwd()}/.cache/test/web`;
/** The harness's Chromium flags (tests/browser/harness.ts keeps its list private). */
const FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
];
const CLASSES = ["blue", "green", "red"];
/** Logits of the downloaded model in Deno (lavapipe) against the page's (SwiftShader), both f32. */
const LOGIT_TOLERANCE = { atol: 1e-3, rtol: 1e-3 };
/**
 * A shown probability against Deno's: the page rounds percentages to 0.1 (0.05 points), and a
 * logit within {@link LOGIT_TOLERANCE} moves a softmax probability by at most about its size.
 */
const PERCENT_TOLERANCE = 0.05 + 100 * 2 * LOGIT_TOLERANCE.atol;

/** Softmax in f64, apart from the library's. */
function softmax64(logits: number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * A 32 px image of one class: its colour dominates, with noise and a darker square. `looksLike`
 * draws another class's colour, or none (-1), under this label.
 */
function colourImage(label: number, seed: number, looksLike = label): Uint8Array {
  const size = 32;
  const data = new Uint8Array(size * size * 3);
  let s = seed * 7919 + label * 104729 + 1;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const channel = looksLike < 0 ? -1 : [2, 1, 0][looksLike];
  const [x0, y0] = [Math.floor(rand() * 20), Math.floor(rand() * 20)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = x >= x0 && x < x0 + 10 && y >= y0 && y < y0 + 10;
      for (let c = 0; c < 3; c++) {
        const base = channel < 0
          ? 60 + rand() * 120
          : c === channel
          ? 150 + rand() * 90
          : 40 + rand() * 90;
        data[(y * size + x) * 3 + c] = inside ? base * 0.5 : base;
      }
    }
  }
  return encodePng({ width: size, height: size, data });
}

async function write(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  if (typeof data === "string") await Deno.writeTextFile(path, data);
  else await Deno.writeFile(path, data);
}

/** The folders the tests upload, under `out`: a dataset, bad folders, and a tiny model. */
async function makeFolders(out = OUT): Promise<void> {
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const perSplit = { train: 16, validation: 8 };
  for (const [split, n] of Object.entries(perSplit)) {
    for (const [label, name] of CLASSES.entries()) {
      for (let i = 0; i < n; i++) {
        const seed = i + (split === "train" ? 0 : 1000);
        // Validation's last two of each class mislead: the next class's colour, or none, so
        // that the confusion matrix the page shows has errors to place.
        const looksLike = split === "train" || i < n - 2
          ? label
          : i === n - 2
          ? (label + 1) % 3
          : -1;
        await write(
          `${out}/colours/${split}/${name}/${i}.png`,
          colourImage(label, seed, looksLike),
        );
      }
    }
  }
  await write(`${out}/colours/train/red/notes.txt`, "not an image\n");
  await write(`${out}/no-classes/a.png`, colourImage(0, 1));
  await write(`${out}/no-classes/readme.txt`, "images at the top, no class folders\n");
  const config = makeViTConfig({
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 64,
    image_size: 32,
    patch_size: 8,
    id2label: { "0": "x", "1": "y" },
  }, "web test");
  const model = new ViTForImageClassification(config, 7);
  await model.savePretrained(`${out}/tiny-vit`);
  await new ViTImageProcessor({ size: 32 }).savePretrained(`${out}/tiny-vit`);
  model.dispose();
  await write(
    `${out}/broken-model/config.json`,
    await Deno.readTextFile(`${out}/tiny-vit/config.json`),
  );
}

/** The entries of a zip of stored files (what the page writes). */
function unzipStored(zip: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const out = new Map<string, Uint8Array>();
  for (let at = 0; view.getUint32(at, true) === 0x04034b50;) {
    assert.equal(view.getUint16(at + 8, true), 0, "stored entries");
    const size = view.getUint32(at + 18, true);
    const nameLength = view.getUint16(at + 26, true);
    const start = at + 30 + nameLength + view.getUint16(at + 28, true);
    out.set(
      new TextDecoder().decode(zip.subarray(at + 30, at + 30 + nameLength)),
      zip.slice(start, start + size),
    );
    at = start + size;
  }
  return out;
}

/** A file input's handle (typed apart from the DOM, which this file's checks may lack). */
function fileInput(handle: unknown): { uploadFile(...paths: string[]): Promise<void> } {
  assert.ok(handle, "the file input is on the page");
  return handle as { uploadFile(...paths: string[]): Promise<void> };
}

const available = exists(CHROMIUM);

Deno.test({
  name: available
    ? "the page trains in headless Chromium, refuses bad folders with messages, " +
      "and its download loads in Deno"
    : `the page in headless Chromium (ignored: ${CHROMIUM} is missing)`,
  ignore: !available,
  // puppeteer keeps sockets and timers of its own past browser.close().
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await init();
    await makeFolders();
    await buildWeb(`${OUT}/dist`, false);
    const server = serveWeb({ dist: `${OUT}/dist`, root: Deno.cwd(), port: 0 });
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
    // deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
    const { default: puppeteer } = await import("npm:puppeteer-core@24");
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      userDataDir: `${OUT}/profile`,
    });
    const log: string[] = [];
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      page.on("console", (m) => log.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => log.push(`pageerror: ${(e as Error).message ?? e}`));
      await page.goto(url);
      const text = (selector: string) => page.$eval(selector, (e) => e.textContent ?? "");
      const until = async (what: string, fn: string, timeout = 60_000) => {
        try {
          await page.waitForFunction(fn, { timeout, polling: 250 });
        } catch (error) {
          const messages = await page.$$eval(".message", (es) => es.map((e) => e.textContent));
          throw new Error(
            `waiting for ${what}: ${error}\nmessages: ${messages.join(" | ")}\n` +
              `progress: ${await text("#progress-text")}\nconsole:\n${log.join("\n")}`,
          );
        }
      };
      const message = async (kind: string) => {
        await until(`a ${kind} message`, `document.querySelector('.message[data-kind="${kind}"]')`);
        const m = await text(`.message[data-kind="${kind}"] p`);
        await page.click(`.message[data-kind="${kind}"] button`);
        return m;
      };
      const upload = async (input: string, dir: string) =>
        await fileInput(await page.$(input)).uploadFile(`${OUT}/${dir}`);
      // A folder dragged from the desktop: Chromium's own drag events, carrying a directory.
      const drop = async (zone: string, dir: string) => {
        const box = await page.$eval(zone, (e) => {
          const r = e.getBoundingClientRect();
          return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
        });
        const cdp = await page.createCDPSession();
        const data = { items: [], files: [`${OUT}/${dir}`], dragOperationsMask: 1 };
        for (const type of ["dragEnter", "dragOver", "drop"] as const) {
          await cdp.send("Input.dispatchDragEvent", { type, ...box, data });
        }
        await cdp.detach();
      };

      await until(
        "WebGPU and the bundled model",
        "/bundled-model/.test(document.getElementById('model-text').textContent)",
      );
      const adapter = await text("#gpu-status");
      console.log(`page: ${adapter}`);
      // Nothing shows an image before one is chosen (an empty, broken one showed before).
      const shownWithoutPicture = () =>
        page.$$eval("img", (es) =>
          es.filter((e) => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.height > 0 &&
              (e as unknown as { naturalWidth: number }).naturalWidth === 0;
          }).map((e) => e.id || e.getAttribute("alt")));
      assert.deepEqual(await shownWithoutPicture(), [], "no broken image before any is chosen");

      // Bad input: a folder without class folders, a model folder without its weights.
      await upload("#data-input", "no-classes");
      assert.match(await message("data"), /no-classes: has no class or split folders/);
      await page.click("input[name=model-source][value=folder]");
      await upload("#model-input", "broken-model");
      assert.match(await message("model"), /broken-model is missing model\.safetensors/);

      // The beans-like demo set, drawn and JPEG-encoded in the page's demo worker.
      await page.click("#demo-button");
      await until(
        "the demo set",
        "/3 classes; train 240, validation 60 images/.test(" +
          "document.getElementById('data-text').textContent)",
        120_000,
      );
      assert.equal((await page.$$("#grid img")).length, 3 * 6);

      await drop("#data-drop", "colours");
      await until(
        "the dataset",
        "/train 48, validation 24/.test(document.getElementById('data-text').textContent)",
      );
      assert.match(await text("#data-text"), /3 classes; train 48, validation 24 images/);
      assert.match(await text("#skipped"), /colours\/train\/red\/notes\.txt: not a JPEG or PNG/);
      assert.equal((await page.$$("#grid img")).length, 3 * 6);
      await upload("#model-input", "tiny-vit");
      await until(
        "the tiny model",
        "/tiny-vit/.test(document.getElementById('model-text').textContent)",
      );

      const set = async (id: string, value: string) =>
        await page.$eval(
          id,
          (e, v) => ((e as unknown as { value: string }).value = v as string),
          value,
        );
      await set("#arg-batch", "8");
      await set("#arg-epochs", "5");
      // Slow enough that the accuracy still changes between evaluations: a stale one shows.
      await set("#arg-lr", "0.0005");
      await set("#arg-eval", "10");
      await set("#arg-save", "10");
      await set("#arg-log", "5");
      // Every step the progress bar shows, in order, across the stop and the resume.
      await page.evaluate(`(() => {
        const bar = document.getElementById("progress");
        globalThis.shownSteps = [];
        new MutationObserver(() => globalThis.shownSteps.push(bar.value))
          .observe(bar, { attributes: true, attributeFilter: ["value"] });
      })()`);
      const shownSteps = async () => await page.evaluate("globalThis.shownSteps") as number[];
      const t0 = performance.now();
      await page.click("#train-button");
      // Stop after the first checkpoint, then resume from the checkpoint the stop saved.
      await until("step 12", "document.getElementById('progress').value >= 12", 120_000);
      await page.click("#stop-button");
      await until(
        "the stop",
        "/^Stopped at step/.test(document.getElementById('progress-text').textContent)",
      );
      const stoppedAt = await text("#progress-text");
      const stopStep = Number(stoppedAt.match(/^Stopped at step (\d+)/)![1]);
      const beforeResume = await shownSteps();
      // The evaluation so far (one, at step 10, unless the stop came after step 20): its
      // accuracy dot is on top where it is drawn, inside the plot, on a step axis from 0.
      const evalChart = await page.$eval("#chart-eval svg", (svg) => {
        const dots = [...svg.querySelectorAll("circle")].map((c) => {
          const r = c.getBoundingClientRect();
          const top = svg.ownerDocument.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
          return {
            fill: c.getAttribute("fill"),
            cx: Number(c.getAttribute("cx")),
            cy: Number(c.getAttribute("cy")),
            onTop: top === c,
          };
        });
        const steps = [...svg.querySelectorAll('text[text-anchor="middle"]:not(.axis)')]
          .map((t) => Number(t.textContent));
        return { dots, steps };
      });
      const accuracyDots = evalChart.dots.filter((d) => d.fill === "#17714f");
      assert.ok(accuracyDots.length >= 1, `accuracy dots: ${JSON.stringify(evalChart)}`);
      for (const d of accuracyDots) {
        assert.ok(d.onTop, `the accuracy dot is visible: ${JSON.stringify(evalChart)}`);
        assert.ok(d.cx > 44 && d.cx < 372 && d.cy >= 24 && d.cy < 188, "inside the plot");
      }
      assert.equal(evalChart.steps[0], 0, `step axis from 0: ${evalChart.steps}`);
      assert.ok(evalChart.steps.at(-1)! >= 20, `to the run's end (30): ${evalChart.steps}`);
      assert.match(await text("#checkpoint-text"), /last checkpoint: checkpoint-(1[2-9]|2[0-9])/);
      await page.click("#resume-button");
      await until(
        "the end of training",
        "/^Done/.test(document.getElementById('progress-text').textContent)",
        120_000,
      );
      const seconds = (performance.now() - t0) / 1000;
      console.log(`page: ${stoppedAt}; ${await text("#progress-text")} (${seconds.toFixed(0)} s)`);

      // The resume continued from the checkpoint the stop saved: steps 1 to the stop, then
      // the stop's next step to 30, each once (a restart would show step 1 again).
      const steps = await shownSteps();
      assert.deepEqual(
        beforeResume,
        Array.from({ length: stopStep }, (_, i) => i + 1),
        `steps before the stop at ${stopStep}`,
      );
      assert.deepEqual(
        steps.slice(beforeResume.length),
        Array.from({ length: 30 - stopStep }, (_, i) => stopStep + 1 + i),
        `steps after resuming from step ${stopStep}`,
      );
      assert.match(await text("#checkpoint-text"), /last checkpoint: checkpoint-30/);

      const progress = await page.$eval(
        "#progress",
        (e) => [(e as unknown as { value: number }).value, (e as unknown as { max: number }).max],
      );
      assert.deepEqual(progress, [30, 30]);
      const evalPoints = await page.$$eval("#chart-eval circle", (es) => es.length);
      assert.ok(evalPoints >= 2 * 3, `eval points drawn: ${evalPoints}`);
      assert.ok((await page.$$("#chart-loss path.series")).length >= 2, "loss and lr lines");
      assert.equal((await page.$$("#chart-confusion rect")).length, 9);
      const shownAccuracy = (await text("#progress-text")).match(/eval accuracy ([\d.]+)%/)![1];
      // Two of each class's eight validation images mislead: 75% or a little more.
      assert.ok(Number(shownAccuracy) > 60, `eval accuracy ${shownAccuracy}% (chance: 33%)`);
      assert.match(await text("#confusion-caption"), /^Confusion matrix at step 30 /);
      const shownMatrix = await page.$$eval(
        "#chart-confusion text.count",
        (es) => es.map((e) => Number(e.textContent)),
      );

      // Prediction of one validation image (a colourless one), which the downloaded model must
      // repeat in Deno.
      const probe = `${OUT}/colours/validation/red/7.png`;
      await fileInput(await page.$("#predict-input")).uploadFile(probe);
      await until("a prediction", "document.getElementById('logits').textContent !== ''");
      const pageLogits = JSON.parse(await text("#logits")) as number[];
      const top = await text("#top-k li strong");
      const shownTop = (await page.$$eval("#top-k li", (es) => es.map((e) => e.textContent ?? "")))
        .map((line) => {
          const [, label, percent] = line.match(/^(\S+) (.*)%$/) ?? [];
          assert.ok(label, `a top-k line reads "label N%": ${line}`);
          return { label, percent: Number(percent) };
        });

      const downloads = `${OUT}/downloads`;
      await Deno.mkdir(downloads, { recursive: true });
      const cdp = await page.createCDPSession();
      await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
      await page.click("#download-zip");
      const zipPath = `${downloads}/vit-finetuned.zip`;
      for (let i = 0; i < 100 && !exists(zipPath); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const entries = unzipStored(await Deno.readFile(zipPath));
      for (
        const name of [
          "config.json",
          "model.safetensors",
          "preprocessor_config.json",
          "trainer_state.json",
          "onnx/model.onnx",
        ]
      ) {
        assert.ok(
          entries.has(`vit-finetuned/${name}`),
          `the zip has ${name}: ${[...entries.keys()]}`,
        );
      }
      for (const [name, data] of entries) await write(`${OUT}/downloaded/${name}`, data);

      await page.screenshot({ path: `${OUT}/web.png`, fullPage: true });

      // Without WebGPU, the page says which browsers have it.
      const bare = await browser.newPage();
      bare.on("pageerror", (e) => log.push(`pageerror: ${(e as Error).message ?? e}`));
      await bare.evaluateOnNewDocument(() =>
        Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined })
      );
      await bare.goto(url);
      await bare.waitForSelector('.message[data-kind="webgpu"]', { timeout: 10_000 });
      assert.match(
        await bare.$eval(".message p", (e) => e.textContent ?? ""),
        /no WebGPU[\s\S]*Chrome or Edge 113[\s\S]*Safari 26[\s\S]*Firefox 141/,
      );

      // The downloaded folder, as `deno task predict` loads it.
      const { model, processor } = await loadModelFolder(`${OUT}/downloaded/vit-finetuned`);
      model.eval();
      assert.deepEqual(classNames(model), CLASSES);
      const image = decodeImage(await Deno.readFile(probe), { name: probe });
      const denoLogits = await scopeAsync(async () => {
        const { pixelValues } = await processor.preprocess(image);
        return [...await noGrad(() => model.forward(pixelValues).logits).toArray()];
      });
      console.log(
        `page logits ${pageLogits.map((v) => v.toFixed(5))}; Deno ${
          denoLogits.map((v) => v.toFixed(5))
        }`,
      );
      assert.equal(top, CLASSES[denoLogits.indexOf(Math.max(...denoLogits))]);
      for (const [i, v] of denoLogits.entries()) {
        const diff = Math.abs(v - pageLogits[i]);
        assert.ok(
          diff <= LOGIT_TOLERANCE.atol + LOGIT_TOLERANCE.rtol * Math.abs(v),
          `logit ${i}: page ${pageLogits[i]}, Deno ${v}`,
        );
      }
      const state = JSON.parse(
        new TextDecoder().decode(entries.get("vit-finetuned/trainer_state.json")),
      );
      assert.equal(state.global_step, 30);

      // What the page shows, against the library's own evaluate and predict sequences on the
      // downloaded model and the same files, in Deno.
      const validation = (await loadDataset(`${OUT}/colours`, { log: () => {} })).validation!;
      const evaluated = await evaluateModel(model, processor, validation, { split: "eval" });
      const denoMatrix = evaluated.eval_confusion_matrix as number[][];
      const denoAccuracy = evaluated.eval_accuracy as number;
      console.log(
        `page: accuracy ${shownAccuracy}%, matrix ${shownMatrix}; Deno: ${denoAccuracy}, ` +
          `${denoMatrix}`,
      );
      // Logits agree to 1e-3 (above), so only an image whose top two logits are that close
      // in Deno may be counted in another cell on the page; every other count must be equal.
      let ambiguous = 0;
      for (let i = 0; i < validation.length; i++) {
        const path = validation.row(i).image.path;
        const { logits } = await classifyImage(model, processor, await Deno.readFile(path), {
          name: path,
        });
        const [a, b] = [...logits].sort((x, y) => y - x);
        if (a - b <= 4 * LOGIT_TOLERANCE.atol) ambiguous++;
      }
      const cellsOff = shownMatrix.reduce((n, v, i) => n + Math.abs(v - denoMatrix.flat()[i]), 0);
      assert.equal(shownMatrix.length, CLASSES.length ** 2);
      assert.ok(
        cellsOff <= 2 * ambiguous,
        `the confusion matrix shown, ${shownMatrix}, is not Deno's, ${denoMatrix} ` +
          `(${ambiguous} near ties)`,
      );
      if (ambiguous === 0) {
        assert.equal(shownAccuracy, (denoAccuracy * 100).toFixed(1), "the accuracy shown");
      } else {
        const off = Math.abs(Number(shownAccuracy) - denoAccuracy * 100);
        assert.ok(off <= 0.05 + (100 * ambiguous) / validation.length, `accuracy ${off} off`);
      }
      assert.equal(validation.length, 24);

      const predicted = await classifyImage(model, processor, await Deno.readFile(probe), {
        name: probe,
      });
      const exact = softmax64(denoLogits);
      assert.deepEqual(shownTop.map((t) => t.label), predicted.topK.map((t) => t.label));
      assert.equal(shownTop.length, CLASSES.length);
      for (const [i, t] of shownTop.entries()) {
        const deno = predicted.topK[i].score * 100;
        const f64 = exact[CLASSES.indexOf(t.label)] * 100;
        assert.ok(
          Math.abs(t.percent - deno) <= PERCENT_TOLERANCE &&
            Math.abs(t.percent - f64) <= PERCENT_TOLERANCE,
          `${t.label}: the page shows ${t.percent}%, classifyImage ${deno}%, softmax ${f64}%`,
        );
      }
      model.dispose();
    } finally {
      await browser.close();
      await server.shutdown();
    }
    const bad = log.filter((line) => WEBGPU_ERROR.test(line) || /^pageerror|Uncaught/.test(line));
    assert.deepEqual(bad, [], `Chromium's console:\n${log.join("\n")}`);
  },
});

/** The LoRA test's folders. */
const LORA_OUT = `${OUT}-lora`;
/** The LoRA run's settings, the same on the page and in Deno. */
const LORA = { r: 4, alpha: 8, dropout: 0.1, targets: ["query", "value"] };
/** The page's training arguments for the LoRA run (fp16 off: SwiftShader has no shader-f16). */
const LORA_ARGS = {
  perDeviceTrainBatchSize: 8,
  numTrainEpochs: 1,
  learningRate: 0.005,
  evalSteps: 3,
  saveSteps: 3,
  loggingSteps: 1,
  maxSteps: 6,
  seed: 42,
  fp16: false,
};
/** Losses and adapter weights of the page (SwiftShader) against Deno's (lavapipe), both f32. */
const LORA_TOLERANCE = { atol: 1e-4, rtol: 1e-3 };

Deno.test({
  name: available
    ? "the page trains LoRA with gradient checkpointing and downloads PEFT's adapter folder, " +
      "with Deno's losses and weights"
    : `the page's LoRA run in headless Chromium (ignored: ${CHROMIUM} is missing)`,
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await init();
    // Its own folder, so that the first test's screenshot stays.
    const OUT = LORA_OUT;
    await makeFolders(OUT);
    await buildWeb(`${OUT}/dist`, false);
    const server = serveWeb({ dist: `${OUT}/dist`, root: Deno.cwd(), port: 0 });
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
    // deno-lint-ignore no-import-prefix -- dev-only: `deno task` installs deno.json's imports
    const { default: puppeteer } = await import("npm:puppeteer-core@24");
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      userDataDir: `${OUT}/profile`,
    });
    const log: string[] = [];
    let entries: Map<string, Uint8Array>;
    const statusLines: string[] = [];
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      page.on("console", (m) => log.push(`${m.type()}: ${m.text()}`));
      page.on("pageerror", (e) => log.push(`pageerror: ${(e as Error).message ?? e}`));
      await page.goto(url);
      const text = (selector: string) => page.$eval(selector, (e) => e.textContent ?? "");
      const until = async (what: string, fn: string, timeout = 60_000) => {
        try {
          await page.waitForFunction(fn, { timeout, polling: 250 });
        } catch (error) {
          const messages = await page.$$eval(".message", (es) => es.map((e) => e.textContent));
          throw new Error(
            `waiting for ${what}: ${error}\nmessages: ${messages.join(" | ")}\n` +
              `progress: ${await text("#progress-text")}\nconsole:\n${log.join("\n")}`,
          );
        }
      };
      // Start-up takes over a minute when the machine's cores are shared.
      await until(
        "WebGPU and the bundled model",
        "/bundled-model/.test(document.getElementById('model-text').textContent)",
        180_000,
      );
      await fileInput(await page.$("#data-input")).uploadFile(`${OUT}/colours`);
      await until(
        "the dataset",
        "/train 48, validation 24/.test(document.getElementById('data-text').textContent)",
      );
      await page.click("input[name=model-source][value=folder]");
      await fileInput(await page.$("#model-input")).uploadFile(`${OUT}/tiny-vit`);
      await until(
        "the tiny model",
        "/tiny-vit/.test(document.getElementById('model-text').textContent)",
      );
      const set = async (id: string, value: string) =>
        await page.$eval(
          id,
          (e, v) => ((e as unknown as { value: string }).value = v as string),
          value,
        );
      const check = async (id: string, on: boolean) =>
        await page.$eval(
          id,
          (e, v) => ((e as unknown as { checked: boolean }).checked = v as boolean),
          on,
        );
      await set("#arg-batch", String(LORA_ARGS.perDeviceTrainBatchSize));
      await set("#arg-epochs", String(LORA_ARGS.numTrainEpochs));
      await set("#arg-lr", String(LORA_ARGS.learningRate));
      await set("#arg-eval", String(LORA_ARGS.evalSteps));
      await set("#arg-save", String(LORA_ARGS.saveSteps));
      await set("#arg-log", String(LORA_ARGS.loggingSteps));
      await set("#arg-max", String(LORA_ARGS.maxSteps));
      await set("#arg-seed", String(LORA_ARGS.seed));
      await check("#arg-fp16", false);
      await check("#arg-lora", true);
      await set("#arg-lora-r", String(LORA.r));
      await set("#arg-lora-alpha", String(LORA.alpha));
      await set("#arg-lora-dropout", String(LORA.dropout));
      await set("#arg-lora-targets", LORA.targets.join(", "));
      await check("#arg-checkpointing", true);
      // The status line shows the worker's log lines; PEFT's trainable-parameter line is one.
      await page.evaluate(`(() => {
        const line = document.getElementById("progress-text");
        globalThis.statusLines = [];
        new MutationObserver(() => globalThis.statusLines.push(line.textContent))
          .observe(line, { childList: true, characterData: true, subtree: true });
      })()`);
      await page.click("#train-button");
      await until(
        "the LoRA run",
        "/^Done: 6 steps/.test(document.getElementById('progress-text').textContent)",
        240_000,
      );
      statusLines.push(...await page.evaluate("globalThis.statusLines") as string[]);
      const downloads = `${OUT}/downloads-lora`;
      await Deno.mkdir(downloads, { recursive: true });
      const cdp = await page.createCDPSession();
      await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
      await page.click("#download-zip");
      const zipPath = `${downloads}/vit-lora-adapter.zip`;
      for (let i = 0; i < 100 && !exists(zipPath); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      entries = unzipStored(await Deno.readFile(zipPath));
      await page.screenshot({ path: `${OUT}/web-lora.png`, fullPage: true });
    } finally {
      await browser.close();
      await server.shutdown();
    }
    const bad = log.filter((line) => WEBGPU_ERROR.test(line) || /^pageerror|Uncaught/.test(line));
    assert.deepEqual(bad, [], `Chromium's console:\n${log.join("\n")}`);

    // PEFT's adapter folder: its config and its keys, as PEFT saves them.
    const names = [...entries.keys()];
    assert.ok(names.includes("vit-lora-adapter/adapter_config.json"), `${names}`);
    assert.ok(!names.includes("vit-lora-adapter/model.safetensors"), "no whole model");
    const config = JSON.parse(
      new TextDecoder().decode(entries.get("vit-lora-adapter/adapter_config.json")),
    );
    assert.equal(config.peft_type, "LORA");
    assert.equal(config.r, LORA.r);
    assert.equal(config.lora_alpha, LORA.alpha);
    assert.equal(config.lora_dropout, LORA.dropout);
    assert.deepEqual([...config.target_modules].sort(), LORA.targets);
    assert.deepEqual(config.modules_to_save, ["classifier"]);
    assert.equal(config.base_model_name_or_path, "tiny-vit");
    const page = parseSafetensors(
      entries.get("vit-lora-adapter/adapter_model.safetensors")!,
      "adapter_model.safetensors",
    ).tensors;
    const expected = new Map<string, number[]>([
      ["base_model.model.classifier.weight", [3, 32]],
      ["base_model.model.classifier.bias", [3]],
    ]);
    for (const layer of [0, 1]) {
      for (const m of LORA.targets) {
        const at = `base_model.model.vit.encoder.layer.${layer}.attention.attention.${m}`;
        expected.set(`${at}.lora_A.weight`, [LORA.r, 32]);
        expected.set(`${at}.lora_B.weight`, [32, LORA.r]);
      }
    }
    assert.deepEqual([...page.keys()].sort(), [...expected.keys()].sort());
    for (const [key, shape] of expected) assert.deepEqual(page.get(key)!.shape, shape, key);
    assert.ok(
      statusLines.some((l) =>
        /^trainable params: [\d,]+ \|\| all params: [\d,]+ \|\| trainable%/.test(l)
      ),
      `PEFT's line among the status lines: ${statusLines.join(" | ")}`,
    );

    // The same run in Deno, through the library's train sequence: the same losses step by step
    // and the same adapter.
    const root = `${OUT}/colours`;
    const ds = await loadDataset(root, { log: () => {} });
    const result = await fineTune({
      model: `${OUT}/tiny-vit`,
      args: makeTrainingArguments({
        ...BLOG_ARGUMENTS,
        ...LORA_ARGS,
        outputDir: `${OUT}/deno-lora`,
        reportTo: "none",
        dataloaderNumWorkers: 0,
        overwriteOutputDir: true,
      }),
      trainDataset: ds.train!,
      evalDataset: ds.validation!,
      log: () => {},
      plots: false,
      parameterEfficient: {
        peft: "lora",
        loraR: LORA.r,
        loraAlpha: LORA.alpha,
        loraDropout: LORA.dropout,
        loraTargetModules: LORA.targets,
        modulesToSave: ["classifier"],
        freezeBackbone: false,
        gradientCheckpointing: true,
      },
    });
    result.model.dispose();
    const losses = (history: Record<string, number>[]) =>
      history.filter((e) => "loss" in e).map((e) => e.loss);
    const state = JSON.parse(
      new TextDecoder().decode(entries.get("vit-lora-adapter/trainer_state.json")),
    );
    const pageLosses = losses(state.log_history);
    const denoLosses = losses(result.state.log_history);
    console.log(`LoRA losses: page ${pageLosses}; Deno ${denoLosses}`);
    assert.equal(pageLosses.length, LORA_ARGS.maxSteps);
    assert.equal(denoLosses.length, LORA_ARGS.maxSteps);
    for (const [i, v] of denoLosses.entries()) {
      assert.ok(
        Math.abs(pageLosses[i] - v) <= LORA_TOLERANCE.atol + LORA_TOLERANCE.rtol * Math.abs(v),
        `step ${i + 1}: page loss ${pageLosses[i]}, Deno ${v}`,
      );
    }
    const deno = parseSafetensors(
      await Deno.readFile(`${OUT}/deno-lora/adapter_model.safetensors`),
      "adapter_model.safetensors",
    ).tensors;
    let worst = 0;
    for (const [key, t] of deno) {
      const p = page.get(key)!.data;
      for (const [i, v] of t.data.entries()) {
        const diff = Math.abs(p[i] - v);
        assert.ok(
          diff <= LORA_TOLERANCE.atol + LORA_TOLERANCE.rtol * Math.abs(v),
          `${key}[${i}]: page ${p[i]}, Deno ${v}`,
        );
        worst = Math.max(worst, diff);
      }
    }
    console.log(`LoRA adapter: largest difference page - Deno ${worst.toExponential(2)}`);
  },
});
