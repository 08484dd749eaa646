/**
 * Tessera: fine-tune Vision Transformers in TypeScript on WebGPU.
 *
 * Start the runtime with {@link init}, then use GPU tensors with reverse-mode autograd, the
 * `nn` layers and the ViT and DeiT models (Hugging Face's names, safetensors checkpoints, the
 * `AutoModelForImageClassification` registry), the `ViTImageProcessor`, datasets and the
 * `DataLoader`, and the `Trainer` with Hugging Face's `TrainingArguments`. Engine internals
 * (buffer pool, kernel variants, autotuning, profiler) are in the `./internals` export.
 *
 * @example
 * ```ts
 * import { AdamW, crossEntropy, init, matmul, scope, Tensor } from "@tessera/vit";
 *
 * const rt = await init();
 * console.log(rt.device.limits.maxStorageBufferBindingSize > 0);
 * const w = Tensor.from([0.1, -0.2, 0.3, 0.05, 0.2, -0.1], [2, 3], { requiresGrad: true });
 * const opt = new AdamW([w], { lr: 0.1 });
 * const x = Tensor.from([1, 0, 0, 0, 1, 0], [2, 3]);
 * for (let step = 0; step < 20; step++) {
 *   const loss = scope(() => {
 *     const l = crossEntropy(matmul(x, w, { transB: true }), [0, 1]);
 *     l.backward();
 *     return l;
 *   });
 *   opt.step();
 *   opt.zeroGrad();
 *   if (step === 19) console.log("loss", await loss.item());
 *   loss.dispose();
 * }
 * ```
 *
 * @module
 */

// The runtime.
export { init, type InitOptions, type Runtime } from "./tensor/runtime.ts";
export {
  describeAdapter,
  type GpuContext,
  NoGpuAdapterError,
  NotStartedError,
} from "./tensor/device.ts";

// Tensors and their ops.
export {
  type DType,
  type FromOptions,
  isGradEnabled,
  keep,
  noGrad,
  scope,
  scopeAsync,
  Tensor,
} from "./tensor/tensor.ts";
export {
  add,
  autocast,
  broadcastTo,
  concat,
  crossEntropy,
  div,
  dropout,
  exp,
  expand,
  full,
  gatherRows,
  gelu,
  layerNorm,
  log,
  matmul,
  type MatmulOptions,
  max,
  mean,
  mul,
  neg,
  permute,
  pow,
  type ReduceOptions,
  relu,
  reshape,
  rsqrt,
  selfAttention,
  slice,
  softmax,
  sqrt,
  sub,
  sum,
  sumTo,
  tanh,
  transpose,
} from "./tensor/ops.ts";
export { AdamW, type AdamWOptions } from "./tensor/adamw.ts";

// Layers, models and checkpoints.
export { Module, ModuleList } from "./nn/module.ts";
export { Dropout, LayerNorm, Linear, setDropoutSeed } from "./nn/layers.ts";
export {
  ConfigError,
  configToJson,
  DEIT_DEFAULTS,
  type DeiTConfig,
  makeDeiTConfig,
  makeViTConfig,
  numLabels,
  type PretrainedConfig,
  VIT_DEFAULTS,
  vitBase16,
  type ViTConfig,
  vitTiny16,
} from "./nn/config.ts";
export {
  type FromPretrainedOptions,
  loadPretrained,
  type PretrainedFiles,
  PreTrainedModel,
  type PreTrainedModelClass,
  readPretrainedFiles,
  type SavePretrainedOptions,
} from "./nn/pretrained.ts";
export {
  type ImageClassifier,
  type ImageClassifierConfig,
  type ImageClassifierOutput,
  type PreTrainedImageClassifier,
} from "./nn/image_classifier.ts";
export {
  initViTWeights,
  PatchProjection,
  ViTAttention,
  ViTEmbeddings,
  ViTEncoder,
  ViTForImageClassification,
  ViTIntermediate,
  ViTLayer,
  ViTModel,
  type ViTModelOutput,
  ViTOutput,
  ViTPatchEmbeddings,
  ViTPooler,
  ViTSelfAttention,
  ViTSelfOutput,
} from "./nn/vit.ts";
export {
  DeiTEmbeddings,
  DeiTForImageClassification,
  DeiTForImageClassificationWithTeacher,
  DeiTModel,
  type DeiTWithTeacherOutput,
  initDeiTWeights,
} from "./nn/deit.ts";
export {
  AutoConfig,
  AutoModelForImageClassification,
  type ConfigBuilder,
  type ImageClassifierClass,
} from "./nn/auto.ts";
export { CheckpointError, loadParameters, type LoadReport } from "./nn/checkpoint.ts";
export {
  parseSafetensors,
  type SafetensorsDType,
  type SafetensorsEntry,
  SafetensorsError,
  type SafetensorsFile,
  type SafetensorsInput,
  serializeSafetensors,
} from "./nn/safetensors.ts";
export { FileError } from "./io/files.ts";

// Images, the processor, datasets and the loader.
export {
  decodeImage,
  type DecodeOptions,
  ImageDecodeError,
  type ImageFormat,
  MAX_IMAGE_PIXELS,
  type RgbImage,
} from "./data/image.ts";
export { type Resample, resize } from "./data/resize.ts";
export { type ImageProcessorConfig, ProcessorError } from "./data/pixels.ts";
export { VIT_PROCESSOR_DEFAULTS, ViTImageProcessor } from "./data/processor.ts";
export {
  type Batch as ColumnBatch,
  ClassLabel,
  Dataset,
  type DatasetDict,
  type ImageExample,
  type ImageRef,
  range,
  type Transform,
} from "./data/dataset.ts";
export {
  type BadFile,
  type BadImagePolicy,
  DatasetError,
  type ImageFolderOptions,
  loadImageFolder,
} from "./data/image_folder.ts";
export { loadDataset, loadParquetDataset } from "./data/parquet.ts";
export { type Batch, DataLoader, type DataLoaderOptions, SampleError } from "./data/loader.ts";
export { readImage } from "./data/sample.ts";
export { augment, type AugmentOptions } from "./data/augment.ts";
export { makeGrid } from "./data/grid.ts";

// Training.
export {
  ArgumentError,
  BLOG_ARGUMENTS,
  type IntervalStrategy,
  makeTrainingArguments,
  parseTrainingFlags,
  type SchedulerType,
  TRAINING_DEFAULTS,
  type TrainingArguments,
} from "./train/args.ts";
export { GradScaler, type GradScalerOptions, type GradScalerState } from "./train/grad_scaler.ts";
export { type ClassificationReport, classificationReport } from "./train/metrics.ts";
export { type TrainerState } from "./train/state.ts";
export {
  type CheckpointInfo,
  latestCheckpoint,
  listCheckpoints,
  type RngState,
} from "./train/checkpoint.ts";
export {
  createOptimizer,
  type EvalOutput,
  type EvalPrediction,
  NonFiniteLossError,
  type ProgressInfo,
  Trainer,
  type TrainerOptions,
  type TrainOutput,
} from "./train/trainer.ts";
