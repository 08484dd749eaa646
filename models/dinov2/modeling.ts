/**
 * DINOv2 in Hugging Face's structure and names (transformers' modeling_dinov2.py), so that every
 * parameter's dotted path is its key in a Transformers checkpoint
 * (`dinov2.encoder.layer.0.layer_scale1.lambda1`). The attention block, patch embeddings,
 * position grid, bare-model frame and classifier head are the shared ones in `nn/`; the layer
 * (pre-LN with layer scale, an MLP or SwiGLU), the initialisation and the head's pooling
 * (CLS concatenated with the mean of the patch tokens) are DINOv2's own.
 *
 * @module
 */

import { DropPath } from "../../nn/drop_path.ts";
import { ClsTokenClassifier } from "../../nn/classifier_head.ts";
import { ViTAttention, ViTEncoder } from "../../nn/encoder.ts";
import { EncoderModel, PatchTokenEmbeddings, tokenRows } from "../../nn/encoder_model.ts";
import { Rng, truncNormal } from "../../nn/init.ts";
import { LayerNorm, Linear } from "../../nn/layers.ts";
import { Module } from "../../nn/module.ts";
import { add, concat, gelu, mean, mul, relu, slice, tanh } from "../../tensor/ops.ts";
import { Tensor } from "../../tensor/tensor.ts";
import { type Dinov2Config, makeDinov2Config } from "./config.ts";

/**
 * CLS token, mask token, patch embeddings and position embeddings. Unlike ViT's, the position
 * grid is always resized to the image's grid of patches (bicubic to height / patch by
 * width / patch, align_corners false, as Transformers' current `interpolate_pos_encoding`).
 *
 * @example
 * ```ts
 * import { Dinov2Embeddings } from "./modeling.ts";
 * import { makeDinov2Config } from "./config.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * const config = makeDinov2Config({ hidden_size: 8, num_attention_heads: 2, image_size: 28,
 *   patch_size: 14 });
 * const embed = new Dinov2Embeddings(config);
 * console.log(embed.forward(Tensor.zeros([1, 3, 42, 28])).shape); // [1, 7, 8]
 * ```
 */
export class Dinov2Embeddings extends PatchTokenEmbeddings {
  /**
   * Creates the layer.
   *
   * @param config The model config; `use_mask_token` decides whether `mask_token` exists.
   */
  constructor(config: Dinov2Config) {
    super(config, [], { maskToken: config.use_mask_token });
  }

  /**
   * [B, C, H, W] → [B, 1 + patches, hidden], at any multiple of the patch size.
   *
   * @param pixels Pixel values.
   * @returns The embeddings.
   */
  override forward(pixels: Tensor): Tensor {
    return super.forward(pixels, true);
  }
}

/** Layer scale: the branch times a learned per-channel factor `lambda1`. */
export class Dinov2LayerScale extends Module {
  /** [hidden]. */
  readonly lambda1: Tensor;

  /**
   * Creates the factors (zero until initialised or loaded).
   *
   * @param config The model config.
   */
  constructor(config: Dinov2Config) {
    super();
    this.lambda1 = this.registerParameter("lambda1", Tensor.zeros([config.hidden_size]));
  }

  /** Scales [..., hidden]. */
  forward(x: Tensor): Tensor {
    return mul(x, this.lambda1);
  }
}

/** The MLP: fc1, the activation, fc2. */
export class Dinov2MLP extends Module {
  /** hidden → int(hidden · mlp_ratio). */
  readonly fc1: Linear;
  /** Back to hidden. */
  readonly fc2: Linear;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(readonly config: Dinov2Config) {
    super();
    const width = config.intermediate_size;
    this.fc1 = this.registerModule("fc1", new Linear(config.hidden_size, width));
    this.fc2 = this.registerModule("fc2", new Linear(width, config.hidden_size));
  }

  /** Projects, activates and projects back. */
  forward(x: Tensor): Tensor {
    const h = this.fc1.forward(x);
    return this.fc2.forward(this.config.hidden_act === "relu" ? relu(h) : gelu(h));
  }
}

/**
 * `x · sigmoid(x)`, composed as `x · (1 + tanh(x / 2)) / 2` from existing ops (there is no SiLU
 * kernel; the tanh form has no overflow for large |x|, as `1 / (1 + exp(-x))` would).
 *
 * @param x Any tensor.
 * @returns SiLU of x.
 * @example
 * ```ts
 * import { silu } from "./modeling.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * console.log(await silu(Tensor.from(new Float32Array([0]), [1])).toArray()); // Float32Array [0]
 * ```
 */
export function silu(x: Tensor): Tensor {
  return mul(x, add(mul(tanh(mul(x, 0.5)), 0.5), 0.5));
}

/** The SwiGLU MLP: `weights_out(silu(a) · b)` where `[a, b]` are the halves of `weights_in(x)`. */
export class Dinov2SwiGLUFFN extends Module {
  /** hidden → 2 · width. */
  readonly weightsIn: Linear;
  /** width → hidden. */
  readonly weightsOut: Linear;

  /**
   * Creates the layer.
   *
   * @param config The model config; `intermediate_size` is the rounded SwiGLU width.
   */
  constructor(readonly config: Dinov2Config) {
    super();
    const width = config.intermediate_size;
    this.weightsIn = this.registerModule("weights_in", new Linear(config.hidden_size, 2 * width));
    this.weightsOut = this.registerModule("weights_out", new Linear(width, config.hidden_size));
  }

  /** Gates and projects. */
  forward(x: Tensor): Tensor {
    const h = this.weightsIn.forward(x);
    const width = this.config.intermediate_size;
    const last = h.shape.length - 1;
    const gate = slice(h, last, 0, width);
    const value = slice(h, last, width, 2 * width);
    return this.weightsOut.forward(mul(silu(gate), value));
  }
}

/** One DINOv2 layer: `h = x + ls1(attn(norm1(x)))`, then `h + ls2(mlp(norm2(h)))`. */
export class Dinov2Layer extends Module {
  /** Norm before attention. */
  readonly norm1: LayerNorm;
  /** Attention and its output projection (ViT's, under the same names). */
  readonly attention: ViTAttention;
  /** Scale of the attention branch. */
  readonly layerScale1: Dinov2LayerScale;
  /** Norm before the MLP. */
  readonly norm2: LayerNorm;
  /** The MLP or SwiGLU. */
  readonly mlp: Dinov2MLP | Dinov2SwiGLUFFN;
  /** Scale of the MLP branch. */
  readonly layerScale2: Dinov2LayerScale;
  /** Stochastic depth of both branches. */
  readonly dropPath: DropPath;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(config: Dinov2Config) {
    super();
    const d = config.hidden_size;
    const eps = config.layer_norm_eps;
    this.norm1 = this.registerModule("norm1", new LayerNorm(d, eps));
    this.attention = this.registerModule("attention", new ViTAttention(config));
    this.layerScale1 = this.registerModule("layer_scale1", new Dinov2LayerScale(config));
    this.dropPath = this.registerModule("drop_path", new DropPath(config.drop_path_rate));
    this.norm2 = this.registerModule("norm2", new LayerNorm(d, eps));
    this.mlp = this.registerModule(
      "mlp",
      config.use_swiglu_ffn ? new Dinov2SwiGLUFFN(config) : new Dinov2MLP(config),
    );
    this.layerScale2 = this.registerModule("layer_scale2", new Dinov2LayerScale(config));
  }

  /** Both residual branches. */
  forward(x: Tensor): Tensor {
    const attn = this.layerScale1.forward(this.attention.forward(this.norm1.forward(x)));
    const h = add(this.dropPath.forward(attn), x);
    const mlp = this.layerScale2.forward(this.mlp.forward(this.norm2.forward(h)));
    return add(this.dropPath.forward(mlp), h);
  }
}

/**
 * The bare DINOv2: embeddings, encoder of {@link Dinov2Layer}s and the final LayerNorm. HF's
 * Dinov2Model has no pooler module; its pooled output is the CLS state.
 *
 * @example
 * ```ts
 * import { Dinov2Model } from "./modeling.ts";
 * import { makeDinov2Config } from "./config.ts";
 * const model = new Dinov2Model(makeDinov2Config({ patch_size: 14, image_size: 518 }));
 * console.log(model.namedParameters("dinov2.")[1][0]); // dinov2.embeddings.mask_token
 * ```
 */
export class Dinov2Model extends EncoderModel<Dinov2Embeddings> {
  /** The model config. */
  declare readonly config: Dinov2Config;
  /** The stack of {@link Dinov2Layer}s. */
  declare readonly encoder: ViTEncoder<Dinov2Layer>;

  /**
   * Creates the model with zeroed weights; call {@link initDinov2Weights} or load a checkpoint.
   *
   * @param config The model config.
   */
  constructor(config: Dinov2Config) {
    super(
      config,
      new Dinov2Embeddings(config),
      false,
      new ViTEncoder(config, () => new Dinov2Layer(config)),
    );
  }
}

/**
 * Fills a model's parameters as Hugging Face's Dinov2PreTrainedModel `_init_weights` does:
 * Linear and the patch projection from a normal truncated to ±2 with std `initializer_range`,
 * zero biases, unit LayerNorm weights, the CLS token and position embeddings from the same
 * truncated normal, a zero mask token and layer scales of `layerscale_value`.
 *
 * @param model The model.
 * @param seed Seed of the generator.
 * @param only If given, only parameters whose names pass this test are filled.
 * @example
 * ```ts
 * import { Dinov2Model, initDinov2Weights } from "./modeling.ts";
 * import { makeDinov2Config } from "./config.ts";
 * const model = new Dinov2Model(makeDinov2Config({ hidden_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, image_size: 28, patch_size: 14 }));
 * initDinov2Weights(model, 1);
 * ```
 */
export function initDinov2Weights(
  model: Module & { config: Dinov2Config },
  seed: number,
  only?: (name: string) => boolean,
): void {
  const rng = new Rng(seed);
  const { initializer_range: std, layerscale_value: scale } = model.config;
  for (const [name, t] of model.namedParameters()) {
    if (only && !only(name)) continue;
    if (/(norm1|norm2|layernorm)\.weight$/.test(name)) t.assign(new Float32Array(t.size).fill(1));
    else if (name.endsWith(".lambda1")) t.assign(new Float32Array(t.size).fill(scale));
    else if (name.endsWith(".bias") || name.endsWith("mask_token")) {
      t.assign(new Float32Array(t.size));
    } else t.assign(truncNormal(rng, t.size, std));
  }
}

/**
 * DINOv2 with a linear classifier on the final CLS state concatenated with the mean of the
 * patch states (`Linear(2 · hidden, num_labels)`), as HF's Dinov2ForImageClassification. Any
 * image size that is a multiple of the patch size is accepted: the position grid is resized.
 *
 * @example
 * ```ts
 * import { Dinov2ForImageClassification } from "./modeling.ts";
 * import { makeDinov2Config } from "./config.ts";
 * import { Tensor } from "../../tensor/tensor.ts";
 * const config = makeDinov2Config({ hidden_size: 32, num_hidden_layers: 1,
 *   num_attention_heads: 2, image_size: 28, patch_size: 14, num_labels: 3 });
 * const model = new Dinov2ForImageClassification(config);
 * const { logits, loss } = model.forward(Tensor.zeros([2, 3, 42, 28]), [0, 2]);
 * console.log(logits.shape, loss?.shape); // [2, 3] []
 * ```
 */
export class Dinov2ForImageClassification extends ClsTokenClassifier<Dinov2Model> {
  /** config.json's model_type. */
  static override readonly modelType: string = "dinov2";
  /** HF's base_model_prefix, with the dot. */
  static override readonly baseModelPrefix: string = "dinov2.";
  /** The class name in config.json's architectures. */
  static override readonly architecture: string = "Dinov2ForImageClassification";

  /**
   * Builds and validates a DINOv2 config, as HF's Dinov2Config.
   *
   * @param fields config.json's fields.
   * @param file Where they came from.
   * @returns The config.
   */
  static override makeConfig(fields: Record<string, unknown>, file: string): Dinov2Config {
    return makeDinov2Config(fields, file);
  }

  /** The model config. */
  declare readonly config: Dinov2Config;

  /**
   * Creates the model and initialises it with HF's scheme.
   *
   * @param config The model config; its id2label sets the number of classes.
   * @param seed Seed of the initialiser.
   */
  constructor(config: Dinov2Config, seed = 42) {
    super(config, "dinov2", new Dinov2Model(config), 2 * config.hidden_size);
    initDinov2Weights(this, seed);
  }

  /** The backbone. */
  get dinov2(): Dinov2Model {
    return this.backbone;
  }

  /**
   * `concat(CLS, mean of the patch tokens)` of the final hidden states.
   *
   * @param lastHiddenState [B, 1 + patches, hidden].
   * @returns [B, 2 · hidden].
   */
  protected override pool(lastHiddenState: Tensor): Tensor {
    const [b, t, d] = lastHiddenState.shape;
    const patches = mean(slice(lastHiddenState, 1, 1, t), 1).view([b, d]);
    return concat([tokenRows(lastHiddenState, 0), patches], 1);
  }
}
