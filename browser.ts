/**
 * Tessera for the browser: the same library as the main entry (`@tessera/vit`) without the Deno
 * file layer, so that a page or a Web Worker can bundle it. Files live in a
 * {@link MemoryFileSystem} set with {@link useFileSystem}: fill it with the files a user picked,
 * train with plain paths into it, and offer what the Trainer wrote as downloads.
 *
 * @example
 * ```ts ignore
 * import {
 *   AutoModelForImageClassification, init, loadImageFolder, makeTrainingArguments,
 *   MemoryFileSystem, Trainer, useFileSystem, ViTImageProcessor,
 * } from "@tessera/vit/browser";
 *
 * await init();
 * // `picked` is the FileList of <input type="file" webkitdirectory> over a folder "beans".
 * const fs = await MemoryFileSystem.fromPickedFiles(picked);
 * useFileSystem(fs);
 * const ds = await loadImageFolder("beans");
 * const model = await AutoModelForImageClassification.fromPretrained("vit-tiny");
 * const trainer = new Trainer({
 *   model,
 *   processor: new ViTImageProcessor({ size: 224 }),
 *   args: makeTrainingArguments({ outputDir: "out", dataloaderNumWorkers: 0 }),
 *   trainDataset: ds.train,
 *   callbacks: [{ onStepEnd: (_a, _s, _c, p) => postMessage({ step: p.step, of: p.maxSteps }) }],
 * });
 * await trainer.train();
 * await trainer.saveModel();
 * const downloads = fs.filesUnder("out");
 * ```
 *
 * @module
 */

// The runtime.
export { createRuntime, init, type InitOptions, Runtime } from "./tensor/runtime.ts";
export {
  describeAdapter,
  type GpuContext,
  NoGpuAdapterError,
  NotStartedError,
} from "./tensor/device.ts";
export type { ConformanceReport, DropoutState, FamilyCheck } from "./tensor/core/context.ts";
export type { AdapterDescription, AdapterProfile } from "./tensor/core/profile.ts";

// Tensors and their ops.
export {
  type DType,
  enableGrad,
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
  concatParameters,
  crossEntropy,
  depthwiseConv2d,
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
export { Dropout, LayerNorm, Linear, type LinearAdapter, setDropoutSeed } from "./nn/layers.ts";
export { ConfigError, configToJson, numLabels, type PretrainedConfig } from "./nn/config.ts";
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
export { type EncoderConfig, makeEncoderConfig } from "./nn/encoder_config.ts";
export { EncoderModel, PatchTokenEmbeddings, tokenRows } from "./nn/encoder_model.ts";
export { type PatchConfig } from "./nn/patch_embeddings.ts";
export {
  atImageSize,
  type AtImageSizeOptions,
  interpolatePositions,
  type PatchGridModel,
} from "./nn/position_grid.ts";
export { type ClsBackbone, ClsTokenClassifier } from "./nn/classifier_head.ts";
export {
  type ConfigBuilder,
  type ImageClassifierClass,
  type ModelFamily,
  ModelRegistry,
} from "./nn/auto.ts";
// The model families (ViT, DeiT) and the Auto classes over them.
export * from "./models/mod.ts";
export { CheckpointError, loadParameters, type LoadReport } from "./nn/checkpoint.ts";
// Parameter-efficient fine-tuning: LoRA in PEFT's format, a frozen backbone, recomputation.
export {
  adapterConfigJson,
  adapterParameters,
  applyLora,
  type AutoMapping,
  autoMappingOf,
  isAdapterFolder,
  loadAdapter,
  loadAdapterWeights,
  loadLoraModel,
  LoraBranch,
  type LoraConfig,
  type LoraState,
  loraState,
  mergeAndUnload,
  parseAdapterConfig,
  PEFT_FORMAT_VERSION,
  resolveBaseModel,
  saveAdapter,
  type SaveAdapterOptions,
  toAdapterFiles,
  trainableParametersLine,
} from "./nn/lora.ts";
export { freezeBackbone } from "./nn/freeze.ts";
export { checkpointed, enableGradientCheckpointing } from "./nn/gradient_checkpointing.ts";
export {
  type ParameterEfficientOptions,
  prepareParameterEfficient,
} from "./train/parameter_efficient.ts";
export {
  parseSafetensors,
  type SafetensorsDType,
  type SafetensorsEntry,
  SafetensorsError,
  type SafetensorsFile,
  type SafetensorsInput,
  serializeSafetensors,
} from "./nn/safetensors.ts";
export {
  type DirEntry,
  FileError,
  type FileInfo,
  type FileSystem,
  fileSystem,
  useFileSystem,
} from "./io/files.ts";
export { type MemoryFile, MemoryFileSystem, type PickedFile } from "./io/memory_fs.ts";

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
export { type ImageProcessorConfig, ProcessorError, type SizeDict } from "./data/pixels.ts";
export { VIT_PROCESSOR_DEFAULTS, ViTImageProcessor } from "./data/processor.ts";
export {
  BIT_PROCESSOR_DEFAULTS,
  BitImageProcessor,
  DINOV2_PROCESSOR,
} from "./data/bit_processor.ts";
export { CONVNEXT_PROCESSOR_DEFAULTS, ConvNextImageProcessor } from "./data/convnext_processor.ts";
export { BaseImageProcessor } from "./data/base_image_processor.ts";
export {
  centerCrop,
  centerCropBox,
  type CropBox,
  outputSizeOf,
  type ResizePlan,
  resizePlan,
  shortestEdgeSize,
  transformImage,
} from "./data/image_transforms.ts";
export {
  type ImageProcessor,
  type ImageProcessorClass,
  ImageProcessorRegistry,
} from "./data/image_processor.ts";
export {
  AutoImageProcessor,
  DEFAULT_PROCESSOR_FIELDS,
  IMAGE_PROCESSOR_CLASSES,
  IMAGE_PROCESSORS,
} from "./data/auto_processor.ts";
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
export { loadDataset, loadParquetDataset, type ParquetDatasetOptions } from "./data/parquet.ts";
export { type Batch, DataLoader, type DataLoaderOptions, SampleError } from "./data/loader.ts";
export { readImage } from "./data/sample.ts";
export { augment, type AugmentOptions } from "./data/augment.ts";
export { makeGrid } from "./data/grid.ts";

// Training.
export {
  ArgumentError,
  BLOG_ARGUMENTS,
  fromTrainingArgsJson,
  type IntervalStrategy,
  makeTrainingArguments,
  parseTrainingFlags,
  type SchedulerType,
  toTrainingArgsJson,
  TRAINING_DEFAULTS,
  type TrainingArguments,
} from "./train/args.ts";
export { GradScaler, type GradScalerOptions, type GradScalerState } from "./train/grad_scaler.ts";
export { type ClassificationReport, classificationReport } from "./train/metrics.ts";
export { type TrainerState } from "./train/state.ts";
export { type TrainerCallback, type TrainerControl } from "./train/callbacks.ts";
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
export { exportOnnx, type ExportOnnxOptions, type OnnxExport } from "./onnx/export.ts";
export { type OutputFile, withOnnxExport } from "./onnx/output_folder.ts";

// The train, evaluate and predict sequences that the CLI tasks and the page share.
export { classNames, loadModelFolder, type ModelFolder } from "./train/model_folder.ts";
export { fineTune, type FineTuneOptions, type FineTuneResult } from "./train/fine_tune.ts";
export { type PhaseSpans, type PhaseTime, PhaseTimer } from "./train/phase_timer.ts";
export { type LoaderPhases } from "./data/loader.ts";
export { alignLabels, evaluateModel, type EvaluateModelOptions } from "./train/evaluate_model.ts";
export {
  type Classification,
  classifyImage,
  type ClassifyOptions,
  type LabelScore,
  softmaxRow,
} from "./train/classify.ts";

// The Hugging Face Hub client, portable: a fetch function and a cache storage (hub/).
export { DEFAULT_ENDPOINT, type HubConfig, hubConfigFromEnv } from "./hub/config.ts";
export { type DownloadProgress, type HubClient, hubDownload } from "./hub/download.ts";
export { EntryNotFoundError, HubError, HubUnreachableError } from "./hub/errors.ts";
export type { FetchLike, FileMetadata } from "./hub/http.ts";
export { formatDownload } from "./hub/progress.ts";
export {
  type BrowserHubClient,
  browserHubClient,
  type BrowserHubOptions,
  installBrowserHub,
} from "./hub/browser.ts";
export { CacheApiHubStorage, type CacheLike } from "./hub/cache_api_storage.ts";
export { isRepoId, repoFolderName, type RepoRef, type RepoType } from "./hub/repo.ts";
export { fetchFromHub, hubResolver } from "./hub/resolve.ts";
export { getHubJson, listRepoFiles, type RepoListing, snapshotDownload } from "./hub/snapshot.ts";
export type { HubStorage, PartialBlob } from "./hub/storage.ts";
export {
  type ResolveOptions,
  resolveSource,
  setSourceResolver,
  type SourceKind,
  type SourceResolver,
} from "./io/sources.ts";
