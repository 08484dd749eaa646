/**
 * The messages between the page (web/app.ts) and its training worker (web/worker.ts). Files
 * travel as `File`s or bytes; every reply names what it answers, and errors come back as a
 * message with a kind, so that the page can say what to do about them.
 *
 * @module
 */

/** A file of a folder the user picked or dropped, with its path inside that folder. */
export interface PickedFile {
  /** `root/split/class/name.jpg`, as `webkitRelativePath`. */
  path: string;
  /** The file. */
  file: Blob;
}

/** The training arguments the page sets (Hugging Face's names, camel-cased as the library's). */
export interface PageTrainingArguments {
  /** per_device_train_batch_size. */
  perDeviceTrainBatchSize: number;
  /** num_train_epochs. */
  numTrainEpochs: number;
  /** learning_rate. */
  learningRate: number;
  /** fp16 (used where the adapter has shader-f16). */
  fp16: boolean;
  /** eval_steps. */
  evalSteps: number;
  /** save_steps. */
  saveSteps: number;
  /** logging_steps. */
  loggingSteps: number;
  /** max_steps (-1: from the epochs). */
  maxSteps: number;
  /** seed. */
  seed: number;
}

/**
 * How much of the model the page trains: LoRA (PEFT's r, lora_alpha, lora_dropout and
 * target_modules; the head is trained whole, PEFT's modules_to_save) or every weight, with or
 * without gradient checkpointing.
 */
export interface PageParameterEfficient {
  /** Train LoRA adapters instead of every weight. */
  lora: boolean;
  /** LoRA rank. */
  r: number;
  /** LoRA alpha (the update is scaled by alpha / r). */
  alpha: number;
  /** Dropout on LoRA's input. */
  dropout: number;
  /** Modules LoRA adapts, by name (query, value, …). */
  targetModules: string[];
  /** Recompute each encoder layer's activations in the backward pass. */
  gradientCheckpointing: boolean;
}

/** What the page asks of the worker. */
export type Request =
  | { type: "start" }
  | { type: "dataset"; files: PickedFile[] }
  | { type: "model"; source: "bundled"; url: string }
  | { type: "model"; source: "files"; files: PickedFile[] }
  | { type: "model"; source: "hub"; id: string; endpoint: string }
  | { type: "hubDataset"; id: string; endpoint: string }
  | { type: "train"; args: PageTrainingArguments; peft?: PageParameterEfficient }
  | { type: "stop" }
  | { type: "resume" }
  | { type: "predict"; name: string; file: Blob; topK: number };

/** One class of a split: its name, count and a few example images. */
export interface ClassSummary {
  /** The class name. */
  name: string;
  /** Images per split. */
  counts: Record<string, number>;
  /** A few of its training images. */
  examples: Blob[];
}

/** Why something failed, for the page's advice. */
export type ErrorKind = "webgpu" | "data" | "model" | "memory" | "train" | "predict";

/** What the worker tells the page. */
export type Reply =
  | { type: "ready"; adapter: string; f16: boolean }
  | { type: "status"; text: string }
  | {
    type: "dataset";
    name: string;
    classes: ClassSummary[];
    splits: Record<string, number>;
    evalSplit: string;
    note: string | null;
    skipped: { path: string; problem: string }[];
  }
  | { type: "model"; name: string; parameters: number; imageSize: number; note: string }
  | {
    type: "progress";
    step: number;
    maxSteps: number;
    epoch: number;
    loss: number;
    lr: number;
    imagesPerSecond: number;
    secondsLeft: number;
    batch: number;
  }
  | { type: "log"; entry: Record<string, number> }
  | { type: "confusion"; step: number; labels: string[]; matrix: number[][] }
  | { type: "checkpoint"; name: string }
  | {
    type: "trained";
    stopped: boolean;
    step: number;
    files: { name: string; data: Uint8Array }[];
    /** True when the files are a LoRA adapter folder (adapter_config.json and its weights). */
    adapter?: boolean;
  }
  | { type: "prediction"; name: string; top: { label: string; score: number }[]; logits: number[] }
  | { type: "error"; kind: ErrorKind; message: string };

/** What the page asks of the demo-data worker (web/demo_worker.ts): the beans-like set. */
export interface DemoRequest {
  /** Images per split (split them evenly between the classes). */
  perSplit: Record<string, number>;
  /** Side in pixels. */
  size: number;
  /** Seed of the drawings. */
  seed: number;
}

/** What the demo-data worker answers: progress, then the files (or an error). */
export type DemoReply =
  | { type: "status"; text: string }
  | { type: "files"; files: PickedFile[] }
  | { type: "error"; message: string };
