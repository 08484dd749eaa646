/**
 * Tessera's engine internals, for tests, benchmarks and experiments: the implicit runtime
 * accessor, the engine and its buffer pool, parameter arena and texture cache, the kernel
 * profiler, matmul variants and autotuning, the kernel definition helpers, and the lower-level
 * image, dataset and checkpoint helpers that the public API builds on.
 *
 * These names may change between minor versions; the stable API is the package's main export.
 *
 * @example
 * ```ts
 * import { init } from "@tessera/vit";
 * import { engine, matmulCandidates } from "@tessera/vit/internals";
 *
 * await init();
 * const shape = { batch: 1, m: 64, k: 64, n: 64, transA: false, transB: false };
 * console.log(matmulCandidates(shape).map((v) => v.family));
 * engine.trim();
 * ```
 *
 * @module
 */

// Runtime and engine.
export { gpu } from "./tensor/device.ts";
export {
  activeRuntime,
  type ConformanceReport,
  type DropoutState,
  type FamilyCheck,
  type GradOps,
} from "./tensor/core/context.ts";
export { Tuning, type VariantGate } from "./tensor/core/overrides.ts";
export { type Binding, Engine, engine, setValidation, type Storage } from "./tensor/engine.ts";
export {
  type AliasingConflict,
  BindingAliasingError,
  type BoundRange,
  findAliasing,
} from "./tensor/core/aliasing.ts";
export {
  allocatedSize,
  type CachedTexture,
  TextureCache,
  type TextureContent,
  TEXTURES_PER_SIZE,
  type TextureSize,
} from "./tensor/core/texture_cache.ts";
export { KernelProfiler, type KernelTime } from "./tensor/core/profiler.ts";
export { bucketSize, BufferPool, type PoolStats } from "./tensor/core/pool.ts";
export { Arena, type ArenaChunk, type ArenaSlot, packParameters } from "./tensor/core/arena.ts";
export { type BackwardFn, record } from "./tensor/tensor.ts";
export { Rng } from "./tensor/rng.ts";

// Ops' helpers and matmul variant choice.
export { accumulate, broadcastShapes } from "./tensor/ops.ts";

// Backends: what the adapter can do, the kernels and choices for it, and their overrides.
export {
  type AdamWUpdate,
  type Backend,
  backend,
  type BackendKind,
  type MatmulCall,
  type MatmulCheck,
  type ReduceSplit,
  type RowKernel,
} from "./tensor/core/backend.ts";
export { WebGpuBackend } from "./tensor/backend/webgpu/kernels.ts";
export { type BroadcastOp, MAP_EXPRESSIONS, type MapOp } from "./kernels/elementwise.ts";
export { BACKEND_KINDS, backendCandidates } from "./tensor/backend/registry.ts";
export {
  type AdapterDescription,
  type AdapterProfile,
  describeProfile,
  simdLanesOf,
} from "./tensor/core/profile.ts";
export { SoftwareBackend, type SoftwareOptions } from "./tensor/backend/software/software.ts";
export { GpuBackend } from "./tensor/backend/gpu/gpu.ts";
export { autotuneMatmul, matmulCandidates, type TunedVariant } from "./tensor/backend/autotune.ts";
export { dispatchMatmul, type MatmulDispatch } from "./tensor/backend/webgpu/dispatch_matmul.ts";
export {
  forceF16Emulation,
  forceMatmulVariant,
  forceRowFlavour,
  lastMatmulVariant,
  matmulVariantFor,
} from "./tensor/core/tuning.ts";
export {
  FirstUseCheck,
  firstUseChecks,
  firstUseChecksSettled,
  WrongProductError,
} from "./tensor/first_use.ts";
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
export { type RowFlavour } from "./kernels/rows.ts";
export { type DepthwiseConvShape } from "./kernels/depthwise_conv.ts";
export {
  type BindingAccess,
  defineKernel,
  type Kernel,
  type ParamField,
  type ParamType,
  type ParamValues,
} from "./kernels/kernel.ts";

// nn helpers.
export { dropoutState } from "./nn/layers.ts";
export { truncNormal } from "./nn/init.ts";
export { loadWarnings } from "./nn/checkpoint.ts";
export { bicubicMatrix } from "./nn/interpolate.ts";
export { parseConfigFields } from "./nn/pretrained.ts";
export {
  isZip,
  parseTorchBin,
  parseWeights,
  readTorchWeights,
  type TorchTensor,
  torchTensorToF32,
} from "./nn/torch_bin.ts";
export {
  isTorchTensorRef,
  TORCH_PICKLE_GLOBALS,
  TORCH_STORAGE_TYPES,
  type TorchDType,
  TorchPickleError,
  type TorchStorageRef,
  type TorchTensorRef,
  unpickleTorch,
} from "./nn/torch_pickle.ts";

// Image codecs and data helpers.
export { checkPixelLimit, sniffFormat, validateImage } from "./data/image.ts";
export { decodeJpeg, encodeJpeg, type JpegInfo, scanJpeg } from "./data/jpeg.ts";
export { decodePng, encodePng, pngHeader } from "./data/png.ts";
export { RESAMPLE_CODES } from "./data/resize.ts";
export { toPixelValues } from "./data/pixels.ts";
export {
  namesFromDatasetCard,
  namesFromParquetMetadata,
  type ParquetDatasetOptions,
} from "./data/parquet.ts";
export {
  globToRegExp,
  matchPatterns,
  resolveDataFiles,
  SPLIT_KEYWORDS,
} from "./data/data_files.ts";
export {
  type CardConfig,
  cardFeatures,
  cardHeader,
  classLabelNames,
  DatasetCardError,
  parseCardYaml,
  selectCardConfig,
} from "./data/dataset_card.ts";
export { prepareSample, type SampleJob } from "./data/sample.ts";
export { crop, flipHorizontal, randomResizedCropBox, sampleSeed } from "./data/augment.ts";
export { drawText, textWidth } from "./data/font.ts";

// Training internals.
export { learningRateAt, warmupSteps } from "./train/schedule.ts";
export { argmaxRows } from "./train/metrics.ts";
export {
  crc32c,
  EventWriter,
  maskedCrc32c,
  readEventFile,
  type ScalarEvent,
} from "./train/tensorboard.ts";
export { newTrainerState } from "./train/state.ts";
export {
  loadCheckpoint,
  type RngState,
  rotateCheckpoints,
  saveCheckpoint,
} from "./train/checkpoint.ts";
