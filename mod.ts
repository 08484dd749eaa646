/**
 * Tessera: fine-tune Vision Transformers in TypeScript on WebGPU.
 *
 * This module is the tensor engine: GPU tensors with reverse-mode autograd, the primitives a
 * ViT needs (each with its backward), and an AdamW that updates every parameter in a few
 * dispatches.
 *
 * @example
 * ```ts
 * import { AdamW, crossEntropy, matmul, scope, Tensor } from "@tessera/vit";
 *
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

export { describeAdapter, gpu, type GpuContext, NoGpuAdapterError } from "./tensor/device.ts";
export { type Binding, Engine, engine, type Storage } from "./tensor/engine.ts";
export {
  allocatedSize,
  type CachedTexture,
  TextureCache,
  type TextureContent,
  TEXTURES_PER_SIZE,
  type TextureSize,
} from "./tensor/texture_cache.ts";
export { KernelProfiler, type KernelTime } from "./tensor/profiler.ts";
export { bucketSize, BufferPool, type PoolStats } from "./tensor/pool.ts";
export {
  type BackwardFn,
  type DType,
  type FromOptions,
  isGradEnabled,
  keep,
  noGrad,
  record,
  scope,
  scopeAsync,
  Tensor,
} from "./tensor/tensor.ts";
export {
  accumulate,
  add,
  autocast,
  autotuneMatmul,
  broadcastShapes,
  broadcastTo,
  concat,
  crossEntropy,
  div,
  dropout,
  exp,
  expand,
  forceMatmulVariant,
  full,
  gatherRows,
  gelu,
  layerNorm,
  log,
  matmul,
  matmulCandidates,
  type MatmulOptions,
  matmulVariantFor,
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
export { Arena, type ArenaChunk, type ArenaSlot, packParameters } from "./tensor/arena.ts";
export { AdamW, type AdamWOptions } from "./tensor/adamw.ts";
export {
  type MatmulShape,
  type MatmulVariant,
  REGISTER_VARIANTS,
  TEXTURE_VARIANTS,
  TEXTURENN_VARIANTS,
  TEXTURETN_VARIANTS,
  TILED_VARIANTS,
  VEC4_VARIANTS,
  VEC4TN_VARIANTS,
} from "./kernels/matmul.ts";
export {
  type BindingAccess,
  defineKernel,
  type Kernel,
  type ParamField,
  type ParamType,
  type ParamValues,
} from "./kernels/kernel.ts";
export { Module, ModuleList } from "./nn/module.ts";
export { Dropout, dropoutState, LayerNorm, Linear, setDropoutSeed } from "./nn/layers.ts";
export { truncNormal } from "./nn/init.ts";
export {
  ConfigError,
  configToJson,
  makeViTConfig,
  numLabels,
  VIT_DEFAULTS,
  vitBase16,
  type ViTConfig,
  vitTiny16,
} from "./nn/config.ts";
export {
  type FromPretrainedOptions,
  type ImageClassifierOutput,
  initViTWeights,
  PatchProjection,
  type SavePretrainedOptions,
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
export { CheckpointError, loadParameters, type LoadReport, loadWarnings } from "./nn/checkpoint.ts";
export { bicubicMatrix } from "./nn/interpolate.ts";
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
export {
  checkPixelLimit,
  decodeImage,
  type DecodeOptions,
  ImageDecodeError,
  type ImageFormat,
  MAX_IMAGE_PIXELS,
  type RgbImage,
  sniffFormat,
  validateImage,
} from "./data/image.ts";
export { decodeJpeg, encodeJpeg, type JpegInfo, scanJpeg } from "./data/jpeg.ts";
export { decodePng, encodePng, pngHeader } from "./data/png.ts";
export { type Resample, RESAMPLE_CODES, resize } from "./data/resize.ts";
export { type ImageProcessorConfig, ProcessorError, toPixelValues } from "./data/pixels.ts";
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
export {
  loadDataset,
  loadParquetDataset,
  namesFromDatasetCard,
  namesFromParquetMetadata,
} from "./data/parquet.ts";
export { type Batch, DataLoader, type DataLoaderOptions, SampleError } from "./data/loader.ts";
export { prepareSample, readImage, type SampleJob } from "./data/sample.ts";
export {
  augment,
  type AugmentOptions,
  crop,
  flipHorizontal,
  randomResizedCropBox,
  sampleSeed,
} from "./data/augment.ts";
export { makeGrid } from "./data/grid.ts";
export { drawText, textWidth } from "./data/font.ts";
export {
  BEANS_CLASSES,
  BEANS_SPLITS,
  beanSeed,
  classCounts,
  renderBeanLeaf,
} from "./data/synthetic_beans.ts";
export {
  type AffineMap,
  type FractalCategory,
  fractalCategory,
  type FractalSceneOptions,
  renderFractal,
  renderFractalScene,
} from "./data/fractal.ts";
export { hsl, valueNoise } from "./data/paint.ts";
export { Rng } from "./tensor/rng.ts";
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
export { learningRateAt, warmupSteps } from "./train/schedule.ts";
export { argmaxRows, type ClassificationReport, classificationReport } from "./train/metrics.ts";
export {
  crc32c,
  EventWriter,
  maskedCrc32c,
  readEventFile,
  type ScalarEvent,
} from "./train/tensorboard.ts";
export { newTrainerState, type TrainerState } from "./train/state.ts";
export {
  type CheckpointInfo,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  type RngState,
  rotateCheckpoints,
  saveCheckpoint,
} from "./train/checkpoint.ts";
export {
  type EvalPrediction,
  NonFiniteLossError,
  type ProgressInfo,
  Trainer,
  type TrainerOptions,
  type TrainOutput,
} from "./train/trainer.ts";
