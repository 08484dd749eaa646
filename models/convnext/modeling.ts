/**
 * ConvNeXt in Hugging Face's structure and names (transformers' modeling_convnext.py), so that
 * every parameter's dotted path is its key in a Transformers checkpoint
 * (`convnext.encoder.stages.1.layers.0.dwconv.weight`). Activations stay channels-last,
 * [B, H, W, C], from the stem on: HF's channels-first LayerNorms are then LayerNorms over the
 * last axis, its 1×1 layers are Linear layers, and no layer permutes. The strided convolutions
 * (the stem and the downsampling layers, kernel equal to stride) are a reshape and a product;
 * the depthwise 7×7 convolution is its own kernel.
 *
 * @module
 */

import { DropPath } from "../../nn/drop_path.ts";
import { numLabels } from "../../nn/config.ts";
import type { ImageClassifier, ImageClassifierOutput } from "../../nn/image_classifier.ts";
import { Rng } from "../../nn/init.ts";
import { LayerNorm, Linear } from "../../nn/layers.ts";
import { Module, ModuleList } from "../../nn/module.ts";
import { PreTrainedModel } from "../../nn/pretrained.ts";
import {
  add,
  crossEntropy,
  depthwiseConv2d,
  gelu,
  matmul,
  mean,
  mul,
  permute,
  relu,
  slice,
} from "../../tensor/ops.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { type ConvNextConfig, makeConvNextConfig } from "./config.ts";

/** Epsilon of every ConvNeXt LayerNorm but the final one (fixed in HF's code). */
const LAYER_EPS = 1e-6;

/**
 * A convolution whose kernel equals its stride (`nn.Conv2d(in, out, k, stride=k)`), as a
 * reshape into non-overlapping patches and one product with the [out, in·k·k] weight; rows and
 * columns past the last whole patch are dropped, as the convolution drops them.
 *
 * @example
 * ```ts
 * import { ConvNextPatchConv } from "./modeling.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * const conv = new ConvNextPatchConv(3, 8, 4);
 * console.log(conv.forward(Tensor.zeros([2, 3, 32, 32]), true).shape); // [2, 8, 8, 8]
 * ```
 */
export class ConvNextPatchConv extends Module {
  /** [out, in, k, k], PyTorch's layout. */
  readonly weight: Tensor;
  /** [out]. */
  readonly bias: Tensor;

  /**
   * Creates the layer with zero weights.
   *
   * @param inChannels Input channels.
   * @param outChannels Output channels.
   * @param k Kernel side and stride.
   */
  constructor(readonly inChannels: number, readonly outChannels: number, readonly k: number) {
    super();
    this.weight = this.registerParameter("weight", Tensor.zeros([outChannels, inChannels, k, k]));
    this.bias = this.registerParameter("bias", Tensor.zeros([outChannels]));
  }

  /**
   * Convolves [B, H, W, C] (or [B, C, H, W] with `channelsFirst`) into channels-last output.
   *
   * @param x The input.
   * @param channelsFirst Whether `x` is [B, C, H, W] (the pixels).
   * @returns [B, ⌊H / k⌋, ⌊W / k⌋, out].
   */
  forward(x: Tensor, channelsFirst = false): Tensor {
    const { k, inChannels: c } = this;
    const [b, d1, d2, d3] = x.shape;
    const [height, width] = channelsFirst ? [d2, d3] : [d1, d2];
    if ((channelsFirst ? d1 : d3) !== c) {
      throw new Error(
        `ConvNeXt: expected ${c} channels, got input [${x.shape}]` +
          (channelsFirst ? " (pixel values must be [B, C, H, W])" : ""),
      );
    }
    const h = Math.floor(height / k);
    const w = Math.floor(width / k);
    if (h === 0 || w === 0) {
      throw new Error(`ConvNeXt: a ${height}×${width} input is smaller than its ${k}×${k} kernel`);
    }
    const [hAxis, wAxis] = channelsFirst ? [2, 3] : [1, 2];
    let input = x;
    if (h * k !== height) input = slice(input, hAxis, 0, h * k);
    if (w * k !== width) input = slice(input, wAxis, 0, w * k);
    // Each patch's values in the weight's (in, ky, kx) order, one row per output position.
    const patches = channelsFirst
      ? permute(input.view([b, c, h, k, w, k]), [0, 2, 4, 1, 3, 5])
      : permute(input.view([b, h, k, w, k, c]), [0, 1, 3, 5, 2, 4]);
    const y = matmul(
      patches.view([b * h * w, c * k * k]),
      this.weight.view([this.outChannels, c * k * k]),
      {
        transB: true,
        bias: this.bias,
      },
    );
    return y.view([b, h, w, this.outChannels]);
  }
}

/** The depthwise convolution of a layer (`nn.Conv2d(dim, dim, 7, padding=3, groups=dim)`). */
export class ConvNextDepthwiseConv extends Module {
  /** [dim, 1, 7, 7]. */
  readonly weight: Tensor;
  /** [dim]. */
  readonly bias: Tensor;

  /**
   * Creates the layer with zero weights.
   *
   * @param dim Channels.
   */
  constructor(readonly dim: number) {
    super();
    this.weight = this.registerParameter("weight", Tensor.zeros([dim, 1, 7, 7]));
    this.bias = this.registerParameter("bias", Tensor.zeros([dim]));
  }

  /** Convolves channels-last [B, H, W, dim]. */
  forward(x: Tensor): Tensor {
    return depthwiseConv2d(x, this.weight, this.bias, 3);
  }
}

/** The stem: a patchify convolution and a LayerNorm over channels. */
export class ConvNextEmbeddings extends Module {
  /** Conv2d(num_channels, hidden_sizes[0], patch_size, stride patch_size). */
  readonly patchEmbeddings: ConvNextPatchConv;
  /** HF's channels-first LayerNorm, eps 1e-6. */
  readonly layernorm: LayerNorm;

  /**
   * Creates the stem.
   *
   * @param config The model config.
   */
  constructor(config: ConvNextConfig) {
    super();
    const d = config.hidden_sizes[0];
    this.patchEmbeddings = this.registerModule(
      "patch_embeddings",
      new ConvNextPatchConv(config.num_channels, d, config.patch_size),
    );
    this.layernorm = this.registerModule("layernorm", new LayerNorm(d, LAYER_EPS));
  }

  /** [B, C, H, W] pixels → channels-last [B, H / p, W / p, hidden_sizes[0]]. */
  forward(pixels: Tensor): Tensor {
    return this.layernorm.forward(this.patchEmbeddings.forward(pixels, true));
  }
}

/**
 * One ConvNeXt block: `x + drop_path(γ · pwconv2(act(pwconv1(norm(dwconv(x))))))`, on
 * channels-last [B, H, W, dim].
 */
export class ConvNextLayer extends Module {
  /** Depthwise 7×7. */
  readonly dwconv: ConvNextDepthwiseConv;
  /** LayerNorm over channels, eps 1e-6. */
  readonly layernorm: LayerNorm;
  /** dim → 4·dim. */
  readonly pwconv1: Linear;
  /** 4·dim → dim. */
  readonly pwconv2: Linear;
  /** Layer scale γ [dim], or null when `layer_scale_init_value` ≤ 0. */
  readonly layerScaleParameter: Tensor | null;
  /** Stochastic depth of the branch. */
  readonly dropPath: DropPath;

  /**
   * Creates the block.
   *
   * @param config The model config.
   * @param dim Channels.
   * @param dropPath Its stochastic-depth rate.
   */
  constructor(readonly config: ConvNextConfig, dim: number, dropPath: number) {
    super();
    this.dwconv = this.registerModule("dwconv", new ConvNextDepthwiseConv(dim));
    this.layernorm = this.registerModule("layernorm", new LayerNorm(dim, LAYER_EPS));
    this.pwconv1 = this.registerModule("pwconv1", new Linear(dim, 4 * dim));
    this.pwconv2 = this.registerModule("pwconv2", new Linear(4 * dim, dim));
    this.layerScaleParameter = config.layer_scale_init_value > 0
      ? this.registerParameter(
        "layer_scale_parameter",
        Tensor.from(new Float32Array(dim).fill(config.layer_scale_init_value), [dim]),
      )
      : null;
    this.dropPath = this.registerModule("drop_path", new DropPath(dropPath));
  }

  /** The residual block. */
  forward(x: Tensor): Tensor {
    const h = this.pwconv1.forward(this.layernorm.forward(this.dwconv.forward(x)));
    let y = this.pwconv2.forward(this.config.hidden_act === "relu" ? relu(h) : gelu(h));
    if (this.layerScaleParameter) y = mul(y, this.layerScaleParameter);
    return add(x, this.dropPath.forward(y));
  }
}

/** A stage: a downsampling layer (all but the first stage), then its blocks. */
export class ConvNextStage extends Module {
  /** LayerNorm over channels and a 2×2 stride-2 convolution, or null. */
  readonly downsamplingLayer: ModuleList<Module> | null;
  /** The blocks. */
  readonly layers: ModuleList<ConvNextLayer>;
  readonly #norm: LayerNorm | null = null;
  readonly #conv: ConvNextPatchConv | null = null;

  /**
   * Creates the stage. As HF's, it downsamples when the width changes or the stride is above 1.
   *
   * @param config The model config.
   * @param inChannels Channels coming in.
   * @param outChannels Channels of the blocks.
   * @param stride 2 for every stage but the first.
   * @param dropPaths Stochastic-depth rate of each block.
   */
  constructor(
    config: ConvNextConfig,
    inChannels: number,
    outChannels: number,
    stride: number,
    dropPaths: readonly number[],
  ) {
    super();
    if (inChannels !== outChannels || stride > 1) {
      this.#norm = new LayerNorm(inChannels, LAYER_EPS);
      this.#conv = new ConvNextPatchConv(inChannels, outChannels, 2);
      this.downsamplingLayer = this.registerModule(
        "downsampling_layer",
        new ModuleList<Module>([this.#norm, this.#conv]),
      );
    } else this.downsamplingLayer = null;
    this.layers = this.registerModule(
      "layers",
      new ModuleList(dropPaths.map((p) => new ConvNextLayer(config, outChannels, p))),
    );
  }

  /** Channels-last in and out. */
  forward(x: Tensor): Tensor {
    let h = this.#norm && this.#conv ? this.#conv.forward(this.#norm.forward(x)) : x;
    for (const layer of this.layers.items) h = layer.forward(h);
    return h;
  }
}

/** The stages, with drop-path rates spread linearly from 0 to `drop_path_rate` over all blocks. */
export class ConvNextEncoder extends Module {
  /** One per entry of `depths`. */
  readonly stages: ModuleList<ConvNextStage>;

  /**
   * Creates the encoder.
   *
   * @param config The model config.
   */
  constructor(config: ConvNextConfig) {
    super();
    const total = config.depths.reduce((a, b) => a + b, 0);
    // torch.linspace(0, rate, total): i · rate / (total - 1).
    const rates = Array.from(
      { length: total },
      (_, i) => total > 1 ? i * config.drop_path_rate / (total - 1) : 0,
    );
    const stages: ConvNextStage[] = [];
    let prev = config.hidden_sizes[0];
    let cur = 0;
    for (let i = 0; i < config.num_stages; i++) {
      const out = config.hidden_sizes[i];
      const depth = config.depths[i];
      stages.push(
        new ConvNextStage(config, prev, out, i > 0 ? 2 : 1, rates.slice(cur, cur + depth)),
      );
      cur += depth;
      prev = out;
    }
    this.stages = this.registerModule("stages", new ModuleList(stages));
  }

  /** Channels-last in and out. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const stage of this.stages.items) h = stage.forward(h);
    return h;
  }
}

/** The bare model's outputs, as HF's BaseModelOutputWithPoolingAndNoAttention. */
export interface ConvNextModelOutput {
  /** [B, C, H, W], channels-first as HF returns it. */
  lastHiddenState: Tensor;
  /** [B, C]: the LayerNorm of the mean over H and W. */
  poolerOutput: Tensor;
}

/**
 * The bare ConvNeXt: stem, stages and the final LayerNorm of the globally pooled features.
 *
 * @example
 * ```ts
 * import { ConvNextModel } from "./modeling.ts";
 * import { makeConvNextConfig } from "./config.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * const model = new ConvNextModel(makeConvNextConfig({ num_stages: 2, hidden_sizes: [8, 16],
 *   depths: [1, 1], image_size: 32 }));
 * const { lastHiddenState, poolerOutput } = model.forward(Tensor.zeros([1, 3, 32, 32]));
 * console.log(lastHiddenState.shape, poolerOutput.shape); // [1, 16, 4, 4] [1, 16]
 * ```
 */
export class ConvNextModel extends Module {
  /** Stem. */
  readonly embeddings: ConvNextEmbeddings;
  /** Stages. */
  readonly encoder: ConvNextEncoder;
  /** LayerNorm of the pooled features, eps `layer_norm_eps`. */
  readonly layernorm: LayerNorm;

  /**
   * Creates the model with zero weights; call {@link initConvNextWeights} or load a checkpoint.
   *
   * @param config The model config.
   */
  constructor(readonly config: ConvNextConfig) {
    super();
    this.embeddings = this.registerModule("embeddings", new ConvNextEmbeddings(config));
    this.encoder = this.registerModule("encoder", new ConvNextEncoder(config));
    this.layernorm = this.registerModule(
      "layernorm",
      new LayerNorm(config.hidden_sizes.at(-1)!, config.layer_norm_eps),
    );
  }

  /**
   * The final features, channels-last, and the pooled output.
   *
   * @param pixels [B, C, H, W] pixel values.
   * @returns `[features [B, H', W', C'], pooled [B, C']]`.
   */
  features(pixels: Tensor): [Tensor, Tensor] {
    const h = this.encoder.forward(this.embeddings.forward(pixels));
    const [b, height, width, c] = h.shape;
    const pooled = mean(h.view([b, height * width, c]), 1);
    return [h, this.layernorm.forward(pooled)];
  }

  /**
   * Runs the model.
   *
   * @param pixels [B, C, H, W] pixel values.
   * @returns The last hidden state (channels-first) and the pooled output.
   */
  forward(pixels: Tensor): ConvNextModelOutput {
    const [h, poolerOutput] = this.features(pixels);
    return { lastHiddenState: permute(h, [0, 3, 1, 2]), poolerOutput };
  }
}

/**
 * Fills a model's parameters as Hugging Face's ConvNextPreTrainedModel `_init_weights` does:
 * convolutions and Linear layers from a normal of std `initializer_range` with zero biases,
 * LayerNorms to ones and zeros, layer scales to `layer_scale_init_value`.
 *
 * @param model The model.
 * @param seed Seed of the generator.
 * @example
 * ```ts
 * import { ConvNextModel, initConvNextWeights } from "./modeling.ts";
 * import { makeConvNextConfig } from "./config.ts";
 * const model = new ConvNextModel(makeConvNextConfig({ num_stages: 2, hidden_sizes: [8, 16],
 *   depths: [1, 1] }));
 * initConvNextWeights(model, 1);
 * ```
 */
export function initConvNextWeights(
  model: Module & { config: ConvNextConfig },
  seed: number,
): void {
  const rng = new Rng(seed);
  const { initializer_range: std, layer_scale_init_value: scale } = model.config;
  const norms = new Set<Tensor>();
  for (const [, m] of model.namedModules()) if (m instanceof LayerNorm) norms.add(m.weight);
  for (const [name, t] of model.namedParameters()) {
    if (norms.has(t)) t.assign(new Float32Array(t.size).fill(1));
    else if (name.endsWith("layer_scale_parameter")) t.assign(new Float32Array(t.size).fill(scale));
    else if (name.endsWith(".bias")) t.assign(new Float32Array(t.size));
    else t.assign(Float32Array.from({ length: t.size }, () => rng.normal() * std));
  }
}

/**
 * ConvNeXt with a linear classifier on the pooled features, as HF's
 * ConvNextForImageClassification.
 *
 * @example
 * ```ts
 * import { ConvNextForImageClassification } from "./modeling.ts";
 * import { makeConvNextConfig } from "./config.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * const config = makeConvNextConfig({ num_stages: 2, hidden_sizes: [8, 16], depths: [1, 1],
 *   image_size: 32, num_labels: 3 });
 * const model = new ConvNextForImageClassification(config);
 * const { logits, loss } = model.forward(Tensor.zeros([2, 3, 32, 32]), [0, 2]);
 * console.log(logits.shape, loss?.shape); // [2, 3] []
 * ```
 */
export class ConvNextForImageClassification extends PreTrainedModel implements ImageClassifier {
  /** config.json's model_type. */
  static override readonly modelType: string = "convnext";
  /** HF's base_model_prefix, with the dot. */
  static override readonly baseModelPrefix: string = "convnext.";
  /** The class name in config.json's architectures. */
  static override readonly architecture: string = "ConvNextForImageClassification";

  /**
   * Builds and validates a ConvNeXt config, as HF's ConvNextConfig.
   *
   * @param fields config.json's fields.
   * @param file Where they came from.
   * @returns The config.
   */
  static override makeConfig(fields: Record<string, unknown>, file: string): ConvNextConfig {
    return makeConvNextConfig(fields, file);
  }

  /** The model config. */
  declare readonly config: ConvNextConfig;
  /** The backbone. */
  readonly convnext: ConvNextModel;
  /** hidden_sizes[-1] → numLabels. */
  readonly classifier: Linear;

  /**
   * Creates the model and initialises it with HF's scheme.
   *
   * @param config The model config; its id2label sets the number of classes.
   * @param seed Seed of the initialiser.
   */
  constructor(config: ConvNextConfig, seed = 42) {
    super(config);
    this.convnext = this.registerModule("convnext", new ConvNextModel(config));
    this.classifier = this.registerModule(
      "classifier",
      new Linear(config.hidden_sizes.at(-1)!, numLabels(config)),
    );
    initConvNextWeights(this, seed);
  }

  /** Number of classes. */
  get numLabels(): number {
    return this.classifier.outFeatures;
  }

  /**
   * Classifies [B, C, H, W] pixel values; with labels, also returns the mean cross-entropy.
   * Any image size works (the network is convolutional); sizes that are not multiples of
   * `patch_size · 2^(num_stages - 1)` drop the last rows and columns, as the convolutions do.
   *
   * @param pixelValues Normalised pixels.
   * @param labels One class index per image.
   * @returns Logits and, with labels, the loss.
   */
  forward(pixelValues: Tensor, labels?: number[] | Int32Array): ImageClassifierOutput {
    const [, pooled] = this.convnext.features(pixelValues);
    const logits = this.classifier.forward(pooled);
    if (!labels) return { logits };
    return { logits, loss: crossEntropy(logits, labels) };
  }
}
