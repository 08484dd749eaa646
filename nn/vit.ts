/**
 * The ViT module tree in Hugging Face's structure and names, so that every parameter's dotted
 * path is its key in a Transformers checkpoint (`vit.encoder.layer.0.attention.attention.query.weight`).
 *
 * @module
 */

import {
  add,
  concat,
  crossEntropy,
  expand,
  gatherRows,
  gelu,
  matmul,
  permute,
  relu,
  selfAttention,
  slice,
  tanh,
} from "../tensor/ops.ts";
import { Tensor } from "../tensor/tensor.ts";
import { makeViTConfig, type ViTConfig } from "./config.ts";
import type { ImageClassifier, ImageClassifierOutput } from "./image_classifier.ts";
import { PreTrainedModel } from "./pretrained.ts";
import { Rng, truncNormal } from "./init.ts";
import { bicubicMatrix } from "./interpolate.ts";
import { Dropout, LayerNorm, Linear } from "./layers.ts";
import { Module, ModuleList } from "./module.ts";

// Their home moved to the base class and the classifier contract; kept here for old imports.
export type { ImageClassifierOutput } from "./image_classifier.ts";
export type { FromPretrainedOptions, SavePretrainedOptions } from "./pretrained.ts";

/** The 16×16, stride-16 patch projection, done as a reshape and a matmul. */
export class ViTPatchEmbeddings extends Module {
  /** The projection, holding Conv2d's weight [hidden, channels, p, p] and bias. */
  readonly projection: PatchProjection;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(readonly config: ViTConfig) {
    super();
    this.projection = this.registerModule("projection", new PatchProjection(config));
  }

  /** [B, C, H, W] pixels → [B, (H/p)(W/p), hidden] patch embeddings. */
  forward(pixels: Tensor): Tensor {
    const [b, c, h, w] = pixels.shape;
    const p = this.config.patch_size;
    if (c !== this.config.num_channels) {
      throw new Error(
        `pixel values have ${c} channels, the model expects ${this.config.num_channels}`,
      );
    }
    if (h % p !== 0 || w % p !== 0) {
      throw new Error(`image size ${h}×${w} is not a multiple of the patch size ${p}`);
    }
    const nh = h / p;
    const nw = w / p;
    const patches = permute(pixels.view([b, c, nh, p, nw, p]), [0, 2, 4, 1, 3, 5]).view([
      b * nh * nw,
      c * p * p,
    ]);
    const weight = this.projection.weight.view([this.config.hidden_size, c * p * p]);
    return matmul(patches, weight, { transB: true, bias: this.projection.bias }).view([
      b,
      nh * nw,
      this.config.hidden_size,
    ]);
  }
}

/** Holds the Conv2d parameters under the names `weight` and `bias`. */
export class PatchProjection extends Module {
  /** [hidden, channels, patch, patch]. */
  readonly weight: Tensor;
  /** [hidden]. */
  readonly bias: Tensor;

  /**
   * Creates the parameters.
   *
   * @param config The model config.
   */
  constructor(config: ViTConfig) {
    super();
    const p = config.patch_size;
    this.weight = this.registerParameter(
      "weight",
      Tensor.zeros([config.hidden_size, config.num_channels, p, p]),
    );
    this.bias = this.registerParameter("bias", Tensor.zeros([config.hidden_size]));
  }
}

/** CLS token, patch embeddings and position embeddings. */
export class ViTEmbeddings extends Module {
  /** [1, 1, hidden]. */
  readonly clsToken: Tensor;
  /** [1, patches + 1, hidden]. */
  readonly positionEmbeddings: Tensor;
  /** The patch projection. */
  readonly patchEmbeddings: ViTPatchEmbeddings;
  /** Dropout after adding positions. */
  readonly dropout: Dropout;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(readonly config: ViTConfig) {
    super();
    const d = config.hidden_size;
    const patches = (config.image_size / config.patch_size) ** 2;
    this.clsToken = this.registerParameter("cls_token", Tensor.zeros([1, 1, d]));
    this.positionEmbeddings = this.registerParameter(
      "position_embeddings",
      Tensor.zeros([1, patches + 1, d]),
    );
    this.patchEmbeddings = this.registerModule("patch_embeddings", new ViTPatchEmbeddings(config));
    this.dropout = this.registerModule("dropout", new Dropout(config.hidden_dropout_prob));
  }

  /**
   * Position embeddings resized bicubically (torch's `interpolate`, align_corners false) to a
   * grid of `gh`×`gw` patches.
   */
  interpolatePosEncoding(gh: number, gw: number): Tensor {
    return interpolatePositions(this.positionEmbeddings, 1, gh, gw);
  }

  /** [B, C, H, W] → [B, patches + 1, hidden]. */
  forward(pixels: Tensor, interpolatePosEncoding = false): Tensor {
    const [b, , h, w] = pixels.shape;
    const size = this.config.image_size;
    if (!interpolatePosEncoding && (h !== size || w !== size)) {
      throw new Error(
        `input image size (${h}*${w}) doesn't match model (${size}*${size}); ` +
          "resize the images or pass interpolatePosEncoding",
      );
    }
    const patches = this.patchEmbeddings.forward(pixels);
    const d = this.config.hidden_size;
    const tokens = concat([expand(this.clsToken, [b, 1, d]), patches], 1);
    const p = this.config.patch_size;
    const positions = interpolatePosEncoding && (h !== size || w !== size)
      ? this.interpolatePosEncoding(h / p, w / p)
      : this.positionEmbeddings;
    return this.dropout.forward(add(tokens, positions));
  }
}

/**
 * Position embeddings [1, leading + g², hidden] with their patch grid resized bicubically
 * (torch's `interpolate`, align_corners false) to `gh`×`gw`; the `leading` token rows (CLS, and
 * DeiT's distillation token) are kept as they are.
 *
 * @param positions The learned position embeddings.
 * @param leading Rows before the patch grid.
 * @param gh New grid height in patches.
 * @param gw New grid width in patches.
 * @returns [1, leading + gh·gw, hidden].
 * @example
 * ```ts
 * import { interpolatePositions } from "./vit.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const p = interpolatePositions(Tensor.zeros([1, 1 + 4, 8]), 1, 3, 2);
 * console.log(p.shape); // [1, 7, 8]
 * ```
 */
export function interpolatePositions(
  positions: Tensor,
  leading: number,
  gh: number,
  gw: number,
): Tensor {
  const d = positions.shape[2];
  const g = Math.round(Math.sqrt(positions.shape[1] - leading));
  const head = slice(positions, 1, 0, leading);
  const grid = slice(positions, 1, leading, leading + g * g).view([g, g * d]);
  const rows = matmul(Tensor.from(bicubicMatrix(g, gh), [gh, g]), grid).view([gh, g, d]);
  const cols = permute(rows, [1, 0, 2]).view([g, gh * d]);
  const resized = matmul(Tensor.from(bicubicMatrix(g, gw), [gw, g]), cols).view([gw, gh, d]);
  const patches = permute(resized, [1, 0, 2]).view([1, gh * gw, d]);
  return concat([head, patches], 1);
}

/** Multi-head self-attention: q, k, v projections, scaled dot products, softmax in f32. */
export class ViTSelfAttention extends Module {
  /** Query projection. */
  readonly query: Linear;
  /** Key projection. */
  readonly key: Linear;
  /** Value projection. */
  readonly value: Linear;
  /** Dropout on attention probabilities. */
  readonly dropout: Dropout;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(readonly config: ViTConfig) {
    super();
    const d = config.hidden_size;
    this.query = this.registerModule("query", new Linear(d, d, config.qkv_bias));
    this.key = this.registerModule("key", new Linear(d, d, config.qkv_bias));
    this.value = this.registerModule("value", new Linear(d, d, config.qkv_bias));
    this.dropout = this.registerModule("dropout", new Dropout(config.attention_probs_dropout_prob));
  }

  /**
   * [B, T, hidden] → [B, T, hidden] context. The three projections run as one product against
   * their weights stacked (the parameters stay separate, as in the checkpoint), and
   * {@link selfAttention} takes the packed result: one wider product instead of three, and no
   * sum of three input gradients in the backward pass.
   */
  forward(x: Tensor): Tensor {
    const { query, key, value } = this;
    const weight = concat([query.weight, key.weight, value.weight], 0);
    const bias = query.bias && key.bias && value.bias
      ? concat([query.bias, key.bias, value.bias], 0)
      : undefined;
    const qkv = matmul(x, weight, { transB: true, bias });
    const dropout = this.dropout;
    const active = dropout.training && dropout.p > 0;
    return selfAttention(
      qkv,
      this.config.num_attention_heads,
      undefined,
      active ? (probs) => dropout.forward(probs) : undefined,
    );
  }
}

/** The attention output projection (the residual is added in ViTLayer). */
export class ViTSelfOutput extends Module {
  /** Output projection. */
  readonly dense: Linear;
  /** Dropout after it. */
  readonly dropout: Dropout;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(config: ViTConfig) {
    super();
    this.dense = this.registerModule("dense", new Linear(config.hidden_size, config.hidden_size));
    this.dropout = this.registerModule("dropout", new Dropout(config.hidden_dropout_prob));
  }

  /** Projects the attention context. */
  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.dense.forward(x));
  }
}

/** Self-attention and its output projection. */
export class ViTAttention extends Module {
  /** Self-attention. */
  readonly attention: ViTSelfAttention;
  /** Output projection. */
  readonly output: ViTSelfOutput;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(config: ViTConfig) {
    super();
    this.attention = this.registerModule("attention", new ViTSelfAttention(config));
    this.output = this.registerModule("output", new ViTSelfOutput(config));
  }

  /** Attention then projection. */
  forward(x: Tensor): Tensor {
    return this.output.forward(this.attention.forward(x));
  }
}

/** The MLP's first layer and activation. */
export class ViTIntermediate extends Module {
  /** hidden → intermediate. */
  readonly dense: Linear;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(readonly config: ViTConfig) {
    super();
    this.dense = this.registerModule(
      "dense",
      new Linear(config.hidden_size, config.intermediate_size),
    );
  }

  /** Projects and activates. */
  forward(x: Tensor): Tensor {
    const h = this.dense.forward(x);
    return this.config.hidden_act === "relu" ? relu(h) : gelu(h);
  }
}

/** The MLP's second layer, with the residual connection. */
export class ViTOutput extends Module {
  /** intermediate → hidden. */
  readonly dense: Linear;
  /** Dropout before the residual. */
  readonly dropout: Dropout;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(config: ViTConfig) {
    super();
    this.dense = this.registerModule(
      "dense",
      new Linear(config.intermediate_size, config.hidden_size),
    );
    this.dropout = this.registerModule("dropout", new Dropout(config.hidden_dropout_prob));
  }

  /** Projects and adds the residual `input`. */
  forward(x: Tensor, input: Tensor): Tensor {
    return add(this.dropout.forward(this.dense.forward(x)), input);
  }
}

/** One pre-LN encoder layer. */
export class ViTLayer extends Module {
  /** Attention block. */
  readonly attention: ViTAttention;
  /** MLP first half. */
  readonly intermediate: ViTIntermediate;
  /** MLP second half. */
  readonly output: ViTOutput;
  /** Norm before attention. */
  readonly layernormBefore: LayerNorm;
  /** Norm before the MLP. */
  readonly layernormAfter: LayerNorm;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(config: ViTConfig) {
    super();
    this.attention = this.registerModule("attention", new ViTAttention(config));
    this.intermediate = this.registerModule("intermediate", new ViTIntermediate(config));
    this.output = this.registerModule("output", new ViTOutput(config));
    const d = config.hidden_size;
    const eps = config.layer_norm_eps;
    this.layernormBefore = this.registerModule("layernorm_before", new LayerNorm(d, eps));
    this.layernormAfter = this.registerModule("layernorm_after", new LayerNorm(d, eps));
  }

  /** `x + attn(ln(x))`, then `h + mlp(ln(h))`. */
  forward(x: Tensor): Tensor {
    const h = add(this.attention.forward(this.layernormBefore.forward(x)), x);
    return this.output.forward(this.intermediate.forward(this.layernormAfter.forward(h)), h);
  }
}

/** The stack of encoder layers. */
export class ViTEncoder extends Module {
  /** The layers, named `layer.0`, `layer.1`, …. */
  readonly layer: ModuleList<ViTLayer>;

  /**
   * Creates the stack.
   *
   * @param config The model config.
   */
  constructor(config: ViTConfig) {
    super();
    this.layer = this.registerModule(
      "layer",
      new ModuleList(Array.from({ length: config.num_hidden_layers }, () => new ViTLayer(config))),
    );
  }

  /** Runs every layer. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layer.items) h = layer.forward(h);
    return h;
  }
}

/** The pooler: dense + tanh on the CLS token. */
export class ViTPooler extends Module {
  /** hidden → hidden. */
  readonly dense: Linear;

  /**
   * Creates the layer.
   *
   * @param config The model config.
   */
  constructor(config: ViTConfig) {
    super();
    this.dense = this.registerModule("dense", new Linear(config.hidden_size, config.hidden_size));
  }

  /** [B, hidden] CLS states → pooled [B, hidden]. */
  forward(cls: Tensor): Tensor {
    return tanh(this.dense.forward(cls));
  }
}

/** Output of {@link ViTModel.forward}. */
export interface ViTModelOutput {
  /** Final hidden states after the last LayerNorm, [B, T, hidden]. */
  lastHiddenState: Tensor;
  /** Pooled CLS state, when the model has a pooler. */
  poolerOutput?: Tensor;
}

/** The bare ViT: embeddings, encoder, final LayerNorm and an optional pooler. */
export class ViTModel extends Module {
  /** Embeddings. */
  readonly embeddings: ViTEmbeddings;
  /** Encoder. */
  readonly encoder: ViTEncoder;
  /** Final norm. */
  readonly layernorm: LayerNorm;
  /** Pooler, or null. */
  readonly pooler: ViTPooler | null;

  /**
   * Creates the model with zeroed weights; call {@link initViTWeights} or load a checkpoint.
   *
   * @param config The model config.
   * @param addPoolingLayer Whether to include the pooler.
   */
  constructor(readonly config: ViTConfig, addPoolingLayer = true) {
    super();
    this.embeddings = this.registerModule("embeddings", new ViTEmbeddings(config));
    this.encoder = this.registerModule("encoder", new ViTEncoder(config));
    this.layernorm = this.registerModule(
      "layernorm",
      new LayerNorm(config.hidden_size, config.layer_norm_eps),
    );
    this.pooler = addPoolingLayer ? this.registerModule("pooler", new ViTPooler(config)) : null;
  }

  /** Runs the model on [B, C, H, W] pixel values. */
  forward(pixels: Tensor, interpolatePosEncoding = false): ViTModelOutput {
    const h = this.encoder.forward(this.embeddings.forward(pixels, interpolatePosEncoding));
    const lastHiddenState = this.layernorm.forward(h);
    if (!this.pooler) return { lastHiddenState };
    return {
      lastHiddenState,
      poolerOutput: this.pooler.forward(tokenRows(lastHiddenState, 0)),
    };
  }
}

/**
 * One token's state of each sequence, `hidden[:, index, :]`: rows index, T + index, … of
 * [B·T, hidden].
 *
 * @param hidden [B, T, hidden] states.
 * @param index The token (0 for CLS).
 * @returns [B, hidden].
 * @example
 * ```ts
 * import { tokenRows } from "./vit.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * console.log(tokenRows(Tensor.zeros([2, 5, 8]), 1).shape); // [2, 8]
 * ```
 */
export function tokenRows(hidden: Tensor, index: number): Tensor {
  const [b, t, d] = hidden.shape;
  return gatherRows(hidden.view([b * t, d]), Array.from({ length: b }, (_, i) => i * t + index));
}

/**
 * Fills a model's parameters as Hugging Face's ViT `_init_weights` does: Linear and the patch
 * projection from a normal truncated to ±2 with std `initializer_range`, zero biases, unit
 * LayerNorm weights, and the CLS token and position embeddings from the same truncated normal.
 *
 * @param model The model.
 * @param seed Seed of the generator.
 * @param only If given, only parameters whose names pass this test are filled.
 */
export function initViTWeights(
  model: Module & { config: ViTConfig },
  seed: number,
  only?: (name: string) => boolean,
): void {
  const rng = new Rng(seed);
  const std = model.config.initializer_range;
  for (const [name, t] of model.namedParameters()) {
    if (only && !only(name)) continue;
    const isNorm = /layernorm(_before|_after)?\.weight$/.test(name);
    if (isNorm) t.assign(new Float32Array(t.size).fill(1));
    else if (name.endsWith(".bias")) t.assign(new Float32Array(t.size));
    else t.assign(truncNormal(rng, t.size, std));
  }
}

/**
 * ViT with a linear classifier on the final CLS state, as HF's ViTForImageClassification.
 * `fromPretrained` (from {@link PreTrainedModel}) reads checkpoints whose keys carry the `vit.`
 * prefix or not (the in21k checkpoint has none, and its pooler is dropped).
 *
 * @example
 * ```ts
 * import { ViTForImageClassification } from "./vit.ts";
 * import { makeViTConfig } from "./config.ts";
 * import { Tensor } from "../tensor/tensor.ts";
 * const config = makeViTConfig({ hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
 *   intermediate_size: 64, image_size: 32, patch_size: 16, num_labels: 3 });
 * const model = new ViTForImageClassification(config);
 * const { logits, loss } = model.forward(Tensor.zeros([2, 3, 32, 32]), [0, 2]);
 * console.log(logits.shape, loss?.shape); // [2, 3] []
 * ```
 */
export class ViTForImageClassification extends PreTrainedModel implements ImageClassifier {
  /** config.json's model_type. */
  static override readonly modelType: string = "vit";
  /** HF's base_model_prefix, with the dot. */
  static override readonly baseModelPrefix: string = "vit.";
  /** The class name in config.json's architectures. */
  static override readonly architecture: string = "ViTForImageClassification";

  /**
   * Builds and validates a ViT config, as HF's ViTConfig.
   *
   * @param fields config.json's fields.
   * @param file Where they came from.
   * @returns The config.
   */
  static override makeConfig(fields: Record<string, unknown>, file: string): ViTConfig {
    return makeViTConfig(fields, file);
  }

  /** The model config. */
  declare readonly config: ViTConfig;
  /** The backbone (no pooler). */
  readonly vit: ViTModel;
  /** hidden → numLabels. */
  readonly classifier: Linear;

  /**
   * Creates the model and initialises it with HF's scheme.
   *
   * @param config The model config; its id2label sets the number of classes.
   * @param seed Seed of the initialiser.
   */
  constructor(config: ViTConfig, seed = 42) {
    super(config);
    this.vit = this.registerModule("vit", new ViTModel(config, false));
    const labels = Object.keys(config.id2label).length;
    this.classifier = this.registerModule("classifier", new Linear(config.hidden_size, labels));
    initViTWeights(this, seed);
  }

  /** Number of classes. */
  get numLabels(): number {
    return this.classifier.outFeatures;
  }

  /**
   * Classifies [B, C, H, W] pixel values; with labels, also returns the mean cross-entropy.
   *
   * @param pixelValues Normalised pixels.
   * @param labels One class index per image.
   * @param options `interpolatePosEncoding` to accept other image sizes.
   * @returns Logits and, with labels, the loss.
   */
  forward(
    pixelValues: Tensor,
    labels?: number[] | Int32Array,
    options: { interpolatePosEncoding?: boolean } = {},
  ): ImageClassifierOutput {
    const { lastHiddenState } = this.vit.forward(pixelValues, options.interpolatePosEncoding);
    const logits = this.classifier.forward(tokenRows(lastHiddenState, 0));
    if (!labels) return { logits };
    return { logits, loss: crossEntropy(logits, labels) };
  }
}
