/// <reference lib="dom" />
/**
 * The page: picking or dropping the dataset and model folders, the training arguments, live
 * progress and charts, predictions and downloads. All GPU work happens in the training worker
 * (web/worker.ts); this file only talks to it and draws.
 *
 * @module
 */

import { confusionMatrixChart, escapeXml, lineChart } from "./charts.ts";
import type {
  DemoReply,
  DemoRequest,
  ErrorKind,
  PageParameterEfficient,
  PageTrainingArguments,
  PickedFile,
  Reply,
  Request,
} from "./protocol.ts";
import { zipStored } from "./zip.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Where each browser has WebGPU, for the message shown without it. */
export const WEBGPU_BROWSERS = "Chrome or Edge 113 and later, Safari 26, Firefox 141 and later " +
  "on Windows (145 on Apple-silicon Macs); on Linux, Chrome behind its WebGPU flag";

const ADVICE: Record<ErrorKind, string> = {
  webgpu: `This page trains on your GPU through WebGPU. Use ${WEBGPU_BROWSERS}.`,
  data: "Nothing was changed; pick another folder.",
  model: "The model was not changed; pick another folder or the bundled model.",
  memory: "The GPU ran out of memory: choose a smaller batch size (8, 4…) and train again.",
  train: "",
  predict: "",
};

/** Shows a message that stays until dismissed, with advice by kind. */
function showMessage(kind: ErrorKind, text: string): void {
  const box = document.createElement("div");
  box.className = "message";
  box.dataset.kind = kind;
  box.setAttribute("role", "alert");
  const p = document.createElement("p");
  p.textContent = ADVICE[kind] ? `${text}\n${ADVICE[kind]}` : text;
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "Dismiss";
  close.setAttribute("aria-label", "dismiss this message");
  close.onclick = () => box.remove();
  box.append(p, close);
  $("messages").append(box);
  box.scrollIntoView({ block: "nearest" });
}

function clearMessages(...kinds: ErrorKind[]): void {
  for (const m of $("messages").querySelectorAll<HTMLElement>(".message")) {
    if (kinds.includes(m.dataset.kind as ErrorKind)) m.remove();
  }
}

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const send = (request: Request) => worker.postMessage(request);

/** What the page knows, for enabling buttons and drawing charts. */
const state = {
  ready: false,
  hasData: false,
  hasModel: false,
  training: false,
  checkpoint: "",
  labels: [] as string[],
  stepLoss: [] as [number, number][],
  loggedLoss: [] as [number, number][],
  lr: [] as [number, number][],
  evalAccuracy: [] as [number, number][],
  evalLoss: [] as [number, number][],
  /** The run's last step, so that the evaluation chart's x axis spans the whole run. */
  maxSteps: 0,
  output: [] as { name: string; data: Uint8Array }[],
  /** Whether the output is a LoRA adapter folder rather than a whole model. */
  adapter: false,
  trained: false,
};

function updateButtons(): void {
  const canTrain = state.ready && state.hasData && state.hasModel && !state.training;
  $<HTMLButtonElement>("train-button").disabled = !canTrain;
  $<HTMLButtonElement>("stop-button").disabled = !state.training;
  $<HTMLButtonElement>("resume-button").disabled = !canTrain || !state.checkpoint ||
    state.trained;
  $<HTMLButtonElement>("download-zip").disabled = state.output.length === 0;
  $<HTMLButtonElement>("demo-button").disabled = !state.ready || state.training;
}

function drawCharts(): void {
  $("chart-loss").innerHTML = lineChart("training loss and learning rate", [
    { name: "loss/step", points: state.stepLoss, color: "#9cc8b3" },
    { name: "logged", points: state.loggedLoss, color: "#17714f", dots: true },
    { name: "lr", points: state.lr, color: "#c07a1a", right: true },
  ]);
  $("chart-eval").innerHTML = lineChart("evaluation accuracy and loss", [
    { name: "accuracy", points: state.evalAccuracy, color: "#17714f", dots: true },
    { name: "loss", points: state.evalLoss, color: "#b0432b", dots: true, right: true },
  ], { zero: true, xRange: [0, state.maxSteps], yRange: [0, 1] });
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "…";
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function showDataset(reply: Extract<Reply, { type: "dataset" }>): void {
  state.hasData = true;
  state.labels = reply.classes.map((c) => c.name);
  $("data-summary").hidden = false;
  const splits = Object.entries(reply.splits).map(([k, v]) => `${k} ${v}`).join(", ");
  $("data-text").innerHTML =
    `<strong>${escapeXml(reply.name)}</strong>: ${reply.classes.length} classes; ${
      escapeXml(splits)
    } images; evaluation on <strong>${escapeXml(reply.evalSplit)}</strong>.` +
    (reply.note ? `<br><span class="hint">${escapeXml(reply.note)}</span>` : "");
  const skipped = $<HTMLDetailsElement>("skipped");
  skipped.hidden = reply.skipped.length === 0;
  skipped.querySelector("summary")!.textContent =
    `${reply.skipped.length} file(s) skipped (not usable images)`;
  skipped.querySelector("ul")!.replaceChildren(...reply.skipped.map((s) => {
    const li = document.createElement("li");
    li.textContent = `${s.path}: ${s.problem}`;
    return li;
  }));
  skipped.open = reply.skipped.length > 0 && reply.skipped.length <= 8;
  const grid = $("grid");
  for (const img of grid.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  grid.replaceChildren(...reply.classes.map((c) => {
    const div = document.createElement("div");
    div.className = "class";
    const counts = Object.entries(c.counts).map(([k, v]) => `${k} ${v}`).join(" · ");
    div.innerHTML = `<h3>${escapeXml(c.name)} <small>${escapeXml(counts)}</small></h3>`;
    const thumbs = document.createElement("div");
    thumbs.className = "thumbs";
    for (const blob of c.examples) {
      const img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.alt = `an example of ${c.name}`;
      thumbs.append(img);
    }
    div.append(thumbs);
    return div;
  }));
}

function resetRun(): void {
  Object.assign(state, {
    stepLoss: [],
    loggedLoss: [],
    lr: [],
    evalAccuracy: [],
    evalLoss: [],
    maxSteps: 0,
    output: [],
    checkpoint: "",
    trained: false,
  });
  $("chart-confusion").replaceChildren();
  $("confusion-caption").textContent = "Confusion matrix";
  $("download-files").replaceChildren();
  $("checkpoint-text").textContent = "";
  drawCharts();
}

function showOutput(files: { name: string; data: Uint8Array }[]): void {
  state.output = files;
  const wanted = [
    "adapter_config.json",
    "adapter_model.safetensors",
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
  ];
  const list = $("download-files");
  list.replaceChildren(
    ...files.sort((a, b) =>
      (wanted.indexOf(a.name) + 1 || 9) - (wanted.indexOf(b.name) + 1 || 9) ||
      a.name.localeCompare(b.name)
    ).map((f) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([f.data as Uint8Array<ArrayBuffer>]));
      a.download = f.name;
      a.textContent = f.name;
      li.append(a, ` (${(f.data.byteLength / 1024).toFixed(f.data.byteLength < 1e4 ? 1 : 0)} KB)`);
      return li;
    }),
  );
}

worker.onmessage = (event: MessageEvent<Reply>) => {
  const reply = event.data;
  switch (reply.type) {
    case "ready": {
      state.ready = true;
      const status = $("gpu-status");
      status.textContent = `WebGPU: ${reply.adapter}`;
      $("fp16-note").textContent = reply.f16
        ? "(this GPU has shader-f16)"
        : "(this GPU has no shader-f16: f32 instead)";
      send({ type: "model", source: "bundled", url: bundledModelUrl() });
      break;
    }
    case "status":
      $("progress-text").textContent = reply.text;
      break;
    case "dataset":
      clearMessages("data");
      showDataset(reply);
      $("progress-text").textContent = "Ready to train.";
      break;
    case "model":
      clearMessages("model");
      state.hasModel = true;
      $("model-text").textContent =
        `${reply.name}: ${
          (reply.parameters / 1e6).toFixed(2)
        } M parameters, ${reply.imageSize} px images` + (reply.note ? `; ${reply.note}` : "") +
        ". Its head is replaced by one for your classes.";
      break;
    case "progress": {
      const p = $<HTMLProgressElement>("progress");
      p.max = reply.maxSteps;
      p.value = reply.step;
      state.maxSteps = reply.maxSteps;
      $("progress-text").textContent = `step ${reply.step} of ${reply.maxSteps} · epoch ${
        reply.epoch.toFixed(2)
      } · ${reply.imagesPerSecond.toFixed(1)} images/s · ${
        formatSeconds(reply.secondsLeft)
      } left · loss ${reply.loss.toFixed(4)}`;
      state.stepLoss.push([reply.step, reply.loss]);
      state.lr.push([reply.step, reply.lr]);
      drawCharts();
      break;
    }
    case "log": {
      const e = reply.entry;
      if ("eval_accuracy" in e) {
        state.evalAccuracy.push([e.step, e.eval_accuracy]);
        state.evalLoss.push([e.step, e.eval_loss]);
      } else if ("loss" in e) state.loggedLoss.push([e.step, e.loss]);
      drawCharts();
      break;
    }
    case "confusion":
      $("confusion-caption").textContent = `Confusion matrix at step ${reply.step} (rows: true)`;
      $("chart-confusion").innerHTML = confusionMatrixChart(
        reply.labels,
        reply.matrix,
        `confusion matrix at step ${reply.step}`,
      );
      break;
    case "checkpoint":
      state.checkpoint = reply.name;
      $("checkpoint-text").textContent = `last checkpoint: ${reply.name}`;
      break;
    case "trained":
      state.training = false;
      state.trained = !reply.stopped;
      if (reply.stopped) {
        $("progress-text").textContent = `Stopped at step ${reply.step}` +
          (state.checkpoint ? `; resume continues from ${state.checkpoint}.` : ".");
      } else {
        const acc = state.evalAccuracy.at(-1)?.[1];
        $("progress-text").textContent = `Done: ${reply.step} steps` +
          (acc === undefined ? "." : `, eval accuracy ${(acc * 100).toFixed(1)}%.`);
        state.adapter = reply.adapter ?? false;
        showOutput(reply.files);
      }
      break;
    case "prediction": {
      $("prediction").hidden = false;
      $("top-k").replaceChildren(...reply.top.map((t) => {
        const li = document.createElement("li");
        li.innerHTML = `<strong>${escapeXml(t.label)}</strong> ${
          (t.score * 100).toFixed(1)
        }%<div class="bar" style="width:${(t.score * 100).toFixed(1)}%"></div>`;
        return li;
      }));
      $("logits").textContent = JSON.stringify(reply.logits);
      $("prediction").dataset.name = reply.name;
      break;
    }
    case "error":
      if (reply.kind === "webgpu") {
        $("gpu-status").textContent = "No WebGPU";
        $("gpu-status").classList.add("bad");
      }
      if (["train", "memory"].includes(reply.kind) && state.training) {
        state.training = false;
        $("progress-text").textContent = "Training stopped by an error.";
      }
      showMessage(reply.kind, reply.message);
      break;
  }
  updateButtons();
};
worker.onerror = (event) => {
  showMessage("train", `the training worker failed: ${event.message}`);
  state.training = false;
  updateButtons();
};
addEventListener("unhandledrejection", (event) => {
  showMessage("train", `unexpected error: ${(event.reason as Error)?.message ?? event.reason}`);
});

/** The Hub the page fetches ids from: huggingface.co, or `?hub=URL` (a mirror, the tests). */
function hubEndpoint(): string {
  return new URL(location.href).searchParams.get("hub") ?? "https://huggingface.co";
}

function bundledModelUrl(): string {
  return new URL("models/vit-tiny-contours/", location.href).href;
}

/** The files of an input with `webkitdirectory`. */
function pickedFromInput(input: HTMLInputElement): PickedFile[] {
  return [...input.files ?? []].map((file) => ({
    path: file.webkitRelativePath || file.name,
    file,
  }));
}

/** The files under dropped folders (or dropped files), with their paths. */
async function pickedFromDrop(event: DragEvent): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  const walk = async (entry: FileSystemEntry, path: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) =>
        (entry as FileSystemFileEntry).file(resolve, reject)
      );
      out.push({ path: `${path}${entry.name}`, file });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries answers in chunks until it answers with none.
    for (;;) {
      const chunk = await new Promise<FileSystemEntry[]>((resolve, reject) =>
        reader.readEntries(resolve, reject)
      );
      if (chunk.length === 0) break;
      for (const child of chunk) await walk(child, `${path}${entry.name}/`);
    }
  };
  const entries = [...event.dataTransfer?.items ?? []].map((i) => i.webkitGetAsEntry())
    .filter((e): e is FileSystemEntry => e !== null);
  for (const entry of entries) await walk(entry, "");
  return out;
}

function dropZone(id: string, kind: ErrorKind, onFiles: (files: PickedFile[]) => void): void {
  const zone = $(id);
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    pickedFromDrop(e).then(onFiles, (error) => showMessage(kind, String(error)));
  });
}

function sendDataset(files: PickedFile[]): void {
  if (files.length === 0) {
    showMessage("data", "the folder holds no files (empty folders are not uploaded)");
    return;
  }
  $("progress-text").textContent = `reading ${files.length} files…`;
  send({ type: "dataset", files });
}

function sendModel(files: PickedFile[]): void {
  if (files.length === 0) return showMessage("model", "the model folder holds no files");
  send({ type: "model", source: "files", files });
}

$<HTMLInputElement>("data-input").addEventListener("change", (e) => {
  const input = e.target as HTMLInputElement;
  sendDataset(pickedFromInput(input));
  input.value = "";
});
dropZone("data-drop", "data", sendDataset);
$<HTMLInputElement>("model-input").addEventListener("change", (e) => {
  const input = e.target as HTMLInputElement;
  sendModel(pickedFromInput(input));
  input.value = "";
});
dropZone("model-drop", "model", sendModel);
$("hub-model-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = $<HTMLInputElement>("hub-model-id").value.trim();
  if (!id) return showMessage("model", "give a model id, such as google/vit-base-patch16-224");
  clearMessages("model");
  state.hasModel = false;
  updateButtons();
  send({ type: "model", source: "hub", id, endpoint: hubEndpoint() });
});
$("hub-data-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = $<HTMLInputElement>("hub-data-id").value.trim();
  if (!id) return showMessage("data", "give a dataset id, such as AI-Lab-Makerere/beans");
  clearMessages("data");
  send({ type: "hubDataset", id, endpoint: hubEndpoint() });
});
for (const radio of document.querySelectorAll<HTMLInputElement>("input[name=model-source]")) {
  radio.addEventListener("change", () => {
    const folder = radio.value === "folder" && radio.checked;
    const hub = radio.value === "hub" && radio.checked;
    $("model-drop").hidden = !folder;
    $("hub-model-form").hidden = !hub;
    if (hub) {
      state.hasModel = false;
      $("model-text").textContent =
        "Give a model id and load it (files are cached by the browser).";
      updateButtons();
    }
    if (!folder && !hub && radio.checked) {
      send({ type: "model", source: "bundled", url: bundledModelUrl() });
    }
    if (folder) {
      state.hasModel = false;
      $("model-text").textContent = "Choose the folder you downloaded.";
      updateButtons();
    }
  });
}

$("demo-button").addEventListener("click", () => {
  const full = $<HTMLSelectElement>("demo-size").value === "full";
  // Drawn in a worker of its own; the training worker gets the files as a picked folder.
  const demo = new Worker(new URL("./demo_worker.js", import.meta.url), { type: "module" });
  demo.onmessage = (event: MessageEvent<DemoReply>) => {
    const reply = event.data;
    if (reply.type === "status") {
      $("progress-text").textContent = reply.text;
      return;
    }
    demo.terminate();
    if (reply.type === "files") send({ type: "dataset", files: reply.files });
    else showMessage("data", reply.message);
  };
  demo.onerror = (event) => {
    demo.terminate();
    showMessage("data", `the demo worker failed: ${event.message}`);
  };
  demo.postMessage(
    {
      perSplit: full ? { train: 1034, validation: 133, test: 128 } : { train: 240, validation: 60 },
      size: full ? 160 : 120,
      seed: 0,
    } satisfies DemoRequest,
  );
  $("progress-text").textContent = "drawing leaves…";
});

function readArgs(): PageTrainingArguments {
  const num = (id: string) => Number($<HTMLInputElement>(id).value);
  return {
    perDeviceTrainBatchSize: num("arg-batch"),
    numTrainEpochs: num("arg-epochs"),
    learningRate: num("arg-lr"),
    evalSteps: num("arg-eval"),
    saveSteps: num("arg-save"),
    loggingSteps: num("arg-log"),
    maxSteps: num("arg-max"),
    seed: num("arg-seed"),
    fp16: $<HTMLInputElement>("arg-fp16").checked,
  };
}

function readPeft(): PageParameterEfficient {
  const num = (id: string) => Number($<HTMLInputElement>(id).value);
  return {
    lora: $<HTMLInputElement>("arg-lora").checked,
    r: num("arg-lora-r"),
    alpha: num("arg-lora-alpha"),
    dropout: num("arg-lora-dropout"),
    targetModules: $<HTMLInputElement>("arg-lora-targets").value.split(",").map((m) => m.trim())
      .filter((m) => m),
    gradientCheckpointing: $<HTMLInputElement>("arg-checkpointing").checked,
  };
}

$("train-button").addEventListener("click", () => {
  clearMessages("train", "memory");
  resetRun();
  state.training = true;
  $("progress-text").textContent = "loading the model…";
  send({ type: "train", args: readArgs(), peft: readPeft() });
  updateButtons();
});
$("stop-button").addEventListener("click", () => {
  send({ type: "stop" });
  $("progress-text").textContent = "stopping after this step (a checkpoint is saved)…";
  $<HTMLButtonElement>("stop-button").disabled = true;
});
$("resume-button").addEventListener("click", () => {
  clearMessages("train", "memory");
  state.training = true;
  // The resumed run logs again from its checkpoint's step.
  const at = Number(state.checkpoint.slice("checkpoint-".length));
  for (const key of ["stepLoss", "loggedLoss", "lr", "evalAccuracy", "evalLoss"] as const) {
    state[key] = state[key].filter(([step]) => step <= at);
  }
  send({ type: "resume" });
  updateButtons();
});

function predictFile(file: File): void {
  const img = $<HTMLImageElement>("predict-image");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  send({ type: "predict", name: file.name, file, topK: 3 });
}
$<HTMLInputElement>("predict-input").addEventListener("change", (e) => {
  const input = e.target as HTMLInputElement;
  if (input.files?.[0]) predictFile(input.files[0]);
  input.value = "";
});
dropZone("predict-drop", "predict", (files) => {
  if (files[0]) predictFile(files[0].file as File);
});

$("download-zip").addEventListener("click", () => {
  // A LoRA run downloads PEFT's adapter folder, which names its base model.
  const folder = state.adapter ? "vit-lora-adapter" : "vit-finetuned";
  const zip = zipStored(state.output.map((f) => ({ name: `${folder}/${f.name}`, data: f.data })));
  const a = document.createElement("a");
  a.href = URL.createObjectURL(
    new Blob([zip as Uint8Array<ArrayBuffer>], { type: "application/zip" }),
  );
  a.download = `${folder}.zip`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
});

drawCharts();
updateButtons();
if (!("gpu" in navigator) || !navigator.gpu) {
  $("gpu-status").textContent = "No WebGPU";
  $("gpu-status").classList.add("bad");
  showMessage("webgpu", "This browser has no WebGPU.");
} else {
  send({ type: "start" });
}
