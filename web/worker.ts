/// <reference lib="dom" />
/**
 * The page's training worker: it starts WebGPU, holds the user's dataset and model folders and
 * the Trainer's output in a {@link MemoryFileSystem}, trains with the library's own train
 * sequence ({@link fineTune}, the CLI's, so checkpoints, evaluation, best-model loading and
 * resuming are the same; live progress comes from its callbacks), and classifies images with
 * {@link classifyImage}. It uses the library as a user would, through its public browser entry
 * only, and runs apart from the page so that the page stays responsive while it trains.
 *
 * @module
 */

import {
  AutoImageProcessor,
  BLOG_ARGUMENTS,
  browserHubClient,
  classifyImage,
  type Dataset,
  type DatasetDict,
  describeAdapter,
  fineTune,
  formatDownload,
  type ImageExample,
  init,
  installBrowserHub,
  loadDataset,
  loadModelFolder,
  makeTrainingArguments,
  MemoryFileSystem,
  type ModelFolder,
  parseSafetensors,
  prepareParameterEfficient,
  type PreTrainedModel,
  resolveSource,
  type TrainingArguments,
  useFileSystem,
  withOnnxExport,
} from "../browser.ts";
import type {
  ErrorKind,
  PageParameterEfficient,
  PageTrainingArguments,
  PickedFile,
  Reply,
  Request,
} from "./protocol.ts";

const port = globalThis as unknown as {
  postMessage(message: Reply): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
};
const post = (message: Reply) => port.postMessage(message);

const files = new MemoryFileSystem();
useFileSystem(files);

/** The Trainer's output folder, as the blog's. */
const OUTPUT_DIR = "vit-base-beans-demo";
/** The file names ImageFolder accepts (loadImageFolder's). */
const IMAGE_FILE = /\.(jpe?g|png)$/i;
/** Images shown per class. */
const EXAMPLES_PER_CLASS = 6;

interface LoadedData {
  root: string;
  train: Dataset<ImageExample>;
  eval: Dataset<ImageExample>;
  names: string[];
}

let data: LoadedData | null = null;
let modelDir: string | null = null;
/** The model's name as the page shows it (a Hub id or the folder's name), for adapter_config. */
let modelName: string | null = null;
let session:
  | ModelFolder & { args: TrainingArguments; labels: string[]; adapter: boolean }
  | null = null;
let lastCheckpoint = "";
/** Aborted by the page's stop button: the train sequence saves a checkpoint and stops. */
let stopRun: AbortController | null = null;

const isFile = async (path: string) => (await files.stat(path))?.isDirectory === false;

/** An error with the kind of advice the page gives for it. */
class PageError extends Error {
  constructor(readonly kind: ErrorKind, message: string) {
    super(message);
  }
}

/** WebGPU's out-of-memory errors, however the runtime words them. */
const OUT_OF_MEMORY = /out of memory|OutOfMemory|allocation failed|Failed to allocate/i;

function fail(kind: ErrorKind, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (OUT_OF_MEMORY.test(message)) {
    post({ type: "error", kind: "memory", message });
  } else {
    post({ type: "error", kind: error instanceof PageError ? error.kind : kind, message });
  }
}

/** The first path segment of every file, when they share one. */
function rootOf(picked: PickedFile[]): string {
  const first = new Set(picked.map((f) => f.path.split("/")[0]));
  return first.size === 1 && picked.every((f) => f.path.includes("/")) ? [...first][0] : "";
}

async function start(): Promise<void> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new PageError("webgpu", "this browser has no WebGPU (navigator.gpu is missing)");
  }
  let runtime;
  try {
    runtime = await init();
  } catch (error) {
    throw new PageError("webgpu", (error as Error).message);
  }
  const device = runtime.device;
  device.addEventListener("uncapturederror", (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    const kind = error.constructor.name === "GPUOutOfMemoryError" ? "memory" : "train";
    post({ type: "error", kind, message: `WebGPU: ${error.message}` });
  });
  device.lost.then((info) => {
    post({ type: "error", kind: "webgpu", message: `the GPU device was lost: ${info.message}` });
  });
  post({ type: "ready", adapter: describeAdapter(), f16: runtime.profile.f16 });
}

/** Loads an ImageFolder already in memory and tells the page what it holds. */
async function openDataset(
  root: string,
  extraSkipped: { path: string; problem: string }[],
  name = root,
) {
  const skipped = [...extraSkipped];
  let ds: DatasetDict;
  try {
    // An ImageFolder, or a Hub dataset's parquet files.
    ds = await loadDataset(root, { log: () => {}, onSkipped: (bad) => skipped.push(...bad) });
  } catch (error) {
    data = null;
    throw new PageError("data", (error as Error).message);
  }
  const train = ds.train;
  if (!train) {
    throw new PageError(
      "data",
      `${root} has no train folder (it has ${Object.keys(ds).join(", ")}); ` +
        "use train/ and validation/ folders, or class folders only",
    );
  }
  // As `deno task train`: the validation split, else test; a folder of classes only gets a
  // held-out part, which the CLI would refuse.
  let evalSet = ds.validation ?? ds.test;
  let evalSplit = ds.validation ? "validation" : "test";
  let note: string | null = null;
  let trainSet = train;
  if (!evalSet) {
    const split = train.trainTestSplit(0.2, 42);
    trainSet = split.train;
    evalSet = split.test;
    evalSplit = "held out";
    note = "no validation or test folder: 20% of the images are held out for evaluation " +
      "(train_test_split, seed 42)";
  }
  const names = [...train.labels.names];
  const splits: Record<string, Dataset<ImageExample>> = { ...ds, train: trainSet };
  if (evalSplit === "held out") splits["held out"] = evalSet;
  const classes = names.map((name) => ({
    name,
    counts: {} as Record<string, number>,
    examples: [] as Blob[],
  }));
  for (const [split, set] of Object.entries(splits)) {
    for (const c of classes) c.counts[split] = 0;
    for (let i = 0; i < set.length; i++) {
      const row = set.row(i);
      const c = classes[row.labels];
      c.counts[split]++;
      if (split === "train" && c.examples.length < EXAMPLES_PER_CLASS) {
        const bytes = row.image.bytes ?? await files.readFile(row.image.path);
        c.examples.push(new Blob([bytes as Uint8Array<ArrayBuffer>]));
      }
    }
  }
  data = { root, train: trainSet, eval: evalSet, names };
  session = null;
  post({
    type: "dataset",
    name,
    classes,
    splits: Object.fromEntries(Object.entries(splits).map(([k, v]) => [k, v.length])),
    evalSplit,
    note,
    skipped,
  });
}

async function receiveDataset(picked: PickedFile[]): Promise<void> {
  if (picked.length === 0) throw new PageError("data", "the folder is empty");
  let root = rootOf(picked);
  const prefix = root ? "" : "dropped/";
  root ||= "dropped";
  await files.remove(root);
  const skipped: { path: string; problem: string }[] = [];
  for (const f of picked) {
    const name = f.path.split("/").pop()!;
    if (name.startsWith(".")) continue;
    if (!IMAGE_FILE.test(name)) {
      skipped.push({ path: f.path, problem: "not a JPEG or PNG file" });
      continue;
    }
    await files.writeFile(prefix + f.path, new Uint8Array(await f.file.arrayBuffer()));
  }
  // Folders without an image still count as classes, so that the message names them.
  for (const f of picked) await files.mkdir((prefix + f.path).split("/").slice(0, -1).join("/"));
  await openDataset(root, skipped);
}

let hubEndpoint: string | null = null;

/** Makes ids load from the Hub (into the Cache API), with progress in the status line. */
async function useHub(endpoint: string): Promise<void> {
  if (hubEndpoint === endpoint) return;
  installBrowserHub(
    await browserHubClient({
      endpoint,
      onProgress: (p) => post({ type: "status", text: `downloading ${formatDownload(p)}` }),
    }),
  );
  hubEndpoint = endpoint;
}

/** A Hub id into the file system; the Hub's one-line error becomes the card's message. */
async function fromHub(id: string, kind: "model" | "dataset", endpoint: string) {
  await useHub(endpoint);
  post({ type: "status", text: `fetching ${id} from ${endpoint}…` });
  try {
    return await resolveSource(id, kind);
  } catch (error) {
    throw new PageError(kind === "model" ? "model" : "data", (error as Error).message);
  }
}

async function receiveModel(request: Extract<Request, { type: "model" }>): Promise<void> {
  session = null;
  let root: string;
  if (request.source === "hub") {
    root = await fromHub(request.id, "model", request.endpoint);
  } else if (request.source === "bundled") {
    root = "bundled-model";
    await files.remove(root);
    for (const name of ["config.json", "model.safetensors", "preprocessor_config.json"]) {
      const response = await fetch(new URL(name, request.url));
      if (!response.ok) {
        if (name === "preprocessor_config.json") continue;
        throw new PageError("model", `${request.url}${name}: HTTP ${response.status}`);
      }
      await files.writeFile(`${root}/${name}`, new Uint8Array(await response.arrayBuffer()));
    }
  } else {
    root = rootOf(request.files) || "model";
    const prefix = rootOf(request.files) ? "" : "model/";
    if (data && root === data.root) {
      throw new PageError("model", "pick a model folder, not the dataset");
    }
    await files.remove(root);
    for (const f of request.files) {
      // Only the top level: a model folder's files sit directly inside it.
      if ((prefix + f.path).split("/").length !== 2) continue;
      await files.writeFile(prefix + f.path, new Uint8Array(await f.file.arrayBuffer()));
    }
    const missing = [];
    for (const name of ["config.json", "model.safetensors"]) {
      if (!(await isFile(`${root}/${name}`))) missing.push(name);
    }
    if (missing.length > 0) {
      const bin = await isFile(`${root}/pytorch_model.bin`)
        ? " It has pytorch_model.bin, a pickle Tessera does not read: save the model with " +
          "safe_serialization=True, or download model.safetensors."
        : "";
      throw new PageError(
        "model",
        `${root} is missing ${missing.join(" and ")}. A Hugging Face model folder has ` +
          `config.json, model.safetensors and preprocessor_config.json.${bin}`,
      );
    }
  }
  let parameters = 0;
  let imageSize = 0;
  try {
    const config = JSON.parse(
      new TextDecoder().decode(await files.readFile(`${root}/config.json`)),
    );
    imageSize = Number(config.image_size ?? 224);
    const weights = parseSafetensors(await files.readFile(`${root}/model.safetensors`));
    for (const e of weights.tensors.values()) parameters += e.shape.reduce((a, b) => a * b, 1);
  } catch (error) {
    const message = (error as Error).message;
    throw new PageError(
      "model",
      error instanceof SyntaxError ? `${root}/config.json: invalid JSON (${message})` : message,
    );
  }
  modelDir = root;
  modelName = request.source === "hub" ? request.id : root;
  const hasProcessor = await isFile(`${root}/preprocessor_config.json`);
  if (hasProcessor) {
    // The images the model sees are the processor's output (DINOv2's crop of 224, not 518).
    try {
      const path = `${root}/preprocessor_config.json`;
      const fields = JSON.parse(new TextDecoder().decode(await files.readFile(path)));
      imageSize = AutoImageProcessor.fromConfig(fields, path).outputSize.height;
    } catch (error) {
      throw new PageError("model", (error as Error).message);
    }
  }
  const note = hasProcessor
    ? ""
    : "no preprocessor_config.json: the default processor of the model's family";
  post({
    type: "model",
    name: request.source === "hub" ? request.id : root,
    parameters,
    imageSize,
    note,
  });
}

async function train(
  pageArgs: PageTrainingArguments | null,
  peft: PageParameterEfficient | null = null,
): Promise<void> {
  if (!data) throw new PageError("train", "choose a dataset first");
  if (!modelDir) throw new PageError("train", "choose a model first");
  if (pageArgs) {
    const labels = data.names;
    const id2label = Object.fromEntries(labels.map((n, i) => [String(i), n]));
    const label2id = Object.fromEntries(labels.map((n, i) => [n, i]));
    let args: TrainingArguments;
    try {
      args = makeTrainingArguments({
        ...BLOG_ARGUMENTS,
        ...pageArgs,
        outputDir: OUTPUT_DIR,
        reportTo: "none",
        // Nested workers would need the library's own worker files; one thread decodes here.
        dataloaderNumWorkers: 0,
        overwriteOutputDir: true,
      });
    } catch (error) {
      throw new PageError("train", (error as Error).message);
    }
    session?.model.dispose();
    session = null;
    let loaded;
    try {
      loaded = await loadModelFolder(modelDir, { id2label, label2id, seed: args.seed });
    } catch (error) {
      throw new PageError("model", (error as Error).message);
    }
    if (peft && (peft.lora || peft.gradientCheckpointing)) {
      // What fineTune's parameterEfficient does, here so that a resumed run (the same model,
      // adapters already in place) does not apply LoRA twice and adapter_config.json names the
      // model the page loaded.
      try {
        post({
          type: "status",
          text: prepareParameterEfficient(loaded.model as unknown as PreTrainedModel, {
            peft: peft.lora ? "lora" : null,
            loraR: peft.r,
            loraAlpha: peft.alpha,
            loraDropout: peft.dropout,
            loraTargetModules: peft.targetModules,
            modulesToSave: ["classifier"],
            freezeBackbone: false,
            gradientCheckpointing: peft.gradientCheckpointing,
            baseModelNameOrPath: modelName,
            seed: args.seed,
          }),
        });
      } catch (error) {
        loaded.model.dispose();
        throw new PageError("train", (error as Error).message);
      }
    }
    await files.remove(OUTPUT_DIR);
    lastCheckpoint = "";
    session = { ...loaded, args, labels, adapter: peft?.lora ?? false };
  } else if (!session || !lastCheckpoint) {
    throw new PageError("train", "there is no checkpoint to resume from");
  }
  const s = session;
  const args = pageArgs ? s.args : { ...s.args, resumeFromCheckpoint: true };
  const stop = new AbortController();
  stopRun = stop;
  const result = await fineTune({
    model: s,
    args,
    trainDataset: data.train,
    evalDataset: data.eval,
    log: (line) => {
      if (!line.startsWith("{")) post({ type: "status", text: line });
    },
    callbacks: [{
      onStepEnd: (_args, _state, _control, p) => {
        post({
          type: "progress",
          step: p.step,
          maxSteps: p.maxSteps,
          epoch: p.epoch,
          loss: p.loss,
          lr: p.learningRate,
          imagesPerSecond: p.samplesPerSecond,
          secondsLeft: p.secondsLeft,
          batch: args.perDeviceTrainBatchSize,
        });
      },
      onLog: (_args, _state, _control, logs) => post({ type: "log", entry: logs }),
      onEvaluate: (_args, state, _control, _metrics, matrix) => {
        post({ type: "confusion", step: state.global_step, labels: s.labels, matrix });
      },
      onSave: (_args, _state, _control, checkpoint) => {
        lastCheckpoint = checkpoint.split("/").pop()!;
        post({ type: "checkpoint", name: lastCheckpoint });
      },
    }],
    signal: stop.signal,
    // The page offers the run's files as downloads and draws its own charts.
    plots: false,
  });
  // The top of the output folder: the final model, its processor and the run's JSON files.
  const top = result.stopped ? [] : files.filesUnder(OUTPUT_DIR)
    .filter((f) => !f.path.slice(OUTPUT_DIR.length + 1).includes("/"))
    .map((f) => ({ name: f.path.slice(OUTPUT_DIR.length + 1), data: f.data }));
  // The download also loads in transformers.js: onnx/model.onnx beside the model. An adapter
  // folder is PEFT's (adapter_config.json and adapter_model.safetensors), as the CLI saves it.
  const out = result.stopped
    ? []
    : s.adapter
    ? top
    : await withOnnxExport(top, s.model, s.processor);
  post({
    type: "trained",
    stopped: result.stopped,
    step: result.state.global_step,
    files: out,
    adapter: s.adapter,
  });
}

async function predict(name: string, file: Blob, topK: number): Promise<void> {
  if (!session) throw new PageError("predict", "train a model first");
  const bytes = new Uint8Array(await file.arrayBuffer());
  const result = await classifyImage(session.model, session.processor, bytes, { topK, name });
  post({ type: "prediction", name, top: result.topK, logits: result.logits });
}

// Requests run one at a time, except stop, which must reach a Trainer that is busy training.
let queue: Promise<void> = Promise.resolve();
let training = false;

port.onmessage = (event: MessageEvent<Request>) => {
  const request = event.data;
  if (request.type === "stop") {
    // The Trainer finishes its step, saves a checkpoint and stops.
    stopRun?.abort();
    return;
  }
  if (request.type === "predict" && training) {
    post({ type: "error", kind: "predict", message: "wait until training stops" });
    return;
  }
  queue = queue.then(async () => {
    try {
      switch (request.type) {
        case "start":
          return await start();
        case "dataset":
          return await receiveDataset(request.files);
        case "model":
          return await receiveModel(request);
        case "hubDataset":
          return await openDataset(
            await fromHub(request.id, "dataset", request.endpoint),
            [],
            request.id,
          );
        case "train":
        case "resume":
          training = true;
          try {
            return await train(
              request.type === "train" ? request.args : null,
              request.type === "train" ? request.peft ?? null : null,
            );
          } finally {
            training = false;
          }
        case "predict":
          return await predict(request.name, request.file, request.topK);
      }
    } catch (error) {
      const kind: ErrorKind = request.type === "dataset" || request.type === "hubDataset"
        ? "data"
        : request.type === "model"
        ? "model"
        : request.type === "predict"
        ? "predict"
        : request.type === "start"
        ? "webgpu"
        : "train";
      fail(kind, error);
    }
  });
};
