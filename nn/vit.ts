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
import { exists, FileError, joinPath, readBytes, readJson, writeAtomic } from "../io/files.ts";
import { loadParameters, loadWarnings } from "./checkpoint.ts";
import { configToJson, makeViTConfig, type ViTConfig } from "./config.ts";
import { parseSafetensors, serializeSafetensors } from "./safetensors.ts";
import { Rng, truncNormal } from "./init.ts";
import { bicubicMatrix } from "./interpolate.ts";
import { Dropout, LayerNorm, Linear } from "./layers.ts";
import { Module, ModuleList } from "./module.ts";

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
    const d = this.config.hidden_size;
    const g = Math.round(Math.sqrt(this.positionEmbeddings.shape[1] - 1));
    const cls = slice(this.positionEmbeddings, 1, 0, 1);
    const grid = slice(this.positionEmbeddings, 1, 1, g * g + 1).view([g, g * d]);
    const rows = matmul(Tensor.from(bicubicMatrix(g, gh), [gh, g]), grid).view([gh, g, d]);
    const cols = permute(rows, [1, 0, 2]).view([g, gh * d]);
    const resized = matmul(Tensor.from(bicubicMatrix(g, gw), [gw, g]), cols).view([gw, gh, d]);
    const patches = permute(resized, [1, 0, 2]).view([1, gh * gw, d]);
    return concat([cls, patches], 1);
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
    return { lastHiddenState, poolerOutput: this.pooler.forward(clsRows(lastHiddenState)) };
  }
}

/** The CLS token of each sequence: rows 0, T, 2T, … of [B·T, hidden]. */
function clsRows(hidden: Tensor): Tensor {
  const [b, t, d] = hidden.shape;
  return gatherRows(hidden.view([b * t, d]), Array.from({ length: b }, (_, i) => i * t));
}

/** Output of {@link ViTForImageClassification.forward}, as HF's ImageClassifierOutput. */
export interface ImageClassifierOutput {
  /** [B, numLabels] class scores. */
  logits: Tensor;
  /** Mean cross-entropy, when labels were given. */
  loss?: Tensor;
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

/** Options of {@link ViTForImageClassification.fromPretrained}. */
export interface FromPretrainedOptions {
  /** Number of classes; a head of another size is initialised fresh. */
  numLabels?: number;
  /** Class names by index (keys "0", "1", …); implies numLabels. */
  id2label?: Record<string, string>;
  /** Class indices by name; derived from id2label when omitted. */
  label2id?: Record<string, number>;
  /** Seed for freshly initialised parameters. */
  seed?: number;
  /** Where loading warnings go (stderr by default, as Transformers' logger). */
  log?: (message: string) => void;
}

/** Options of {@link ViTForImageClassification.savePretrained}. */
export interface SavePretrainedOptions {
  /** Weight type of model.safetensors: F32 (default) or F16. */
  dtype?: "F32" | "F16";
  /** Parameter values already read back, by name (skips one readback per parameter). */
  values?: ReadonlyMap<string, Float32Array>;
}

/**
 * ViT with a linear classifier on the final CLS state, as HF's ViTForImageClassification.
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
export class ViTForImageClassification extends Module {
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
  constructor(readonly config: ViTConfig, seed = 42) {
    super();
    this.vit = this.registerModule("vit", new ViTModel(config, false));
    const labels = Object.keys(config.id2label).length;
    this.classifier = this.registerModule("classifier", new Linear(config.hidden_size, labels));
    initViTWeights(this, seed);
  }

  /**
   * Loads `dir/config.json` and `dir/model.safetensors` as Transformers does. Keys may carry
   * the `vit.` prefix or not (the in21k checkpoint has none, and its pooler is dropped). A head
   * that is missing or of another size than `numLabels` is initialised fresh, and the loader
   * prints which keys were newly initialised.
   *
   * @param dir The checkpoint folder.
   * @param options Labels for a new head, seed, logger.
   * @returns The model, in training mode.
   * @throws {FileError|ConfigError|SafetensorsError|CheckpointError} Naming the file at fault.
   */
  static async fromPretrained(
    dir: string,
    options: FromPretrainedOptions = {},
  ): Promise<ViTForImageClassification> {
    const configPath = joinPath(dir, "config.json");
    const fields = { ...(await readJson(configPath) as Record<string, unknown>) };
    if (options.id2label) {
      fields.id2label = options.id2label;
      if (options.label2id) fields.label2id = options.label2id;
      else delete fields.label2id;
    } else if (options.numLabels !== undefined) {
      const current = fields.id2label && typeof fields.id2label === "object"
        ? Object.keys(fields.id2label).length
        : 2;
      if (current !== options.numLabels) {
        delete fields.id2label;
        delete fields.label2id;
        fields.num_labels = options.numLabels;
      }
    }
    const config = makeViTConfig(fields, configPath);
    const model = new ViTForImageClassification(config, options.seed ?? 42);
    const weightsPath = joinPath(dir, "model.safetensors");
    let bytes: Uint8Array;
    try {
      bytes = await readBytes(weightsPath);
    } catch (error) {
      const bin = joinPath(dir, "pytorch_model.bin");
      if (await exists(bin)) {
        throw new FileError(
          weightsPath,
          "missing; the folder has pytorch_model.bin (a pickle), which Tessera does not read. " +
            "Convert it with `safetensors` or save the model with safe_serialization=True",
        );
      }
      throw error;
    }
    const { tensors } = parseSafetensors(bytes, weightsPath);
    const report = loadParameters(model.namedParameters(), tensors, weightsPath, {
      prefix: "vit.",
      reinitializable: (name) => name.startsWith("classifier."),
    });
    const log = options.log ?? ((m: string) => console.warn(m));
    for (const message of loadWarnings(report, "ViTForImageClassification", dir)) log(message);
    return model;
  }

  /**
   * Writes `dir/config.json` (architectures, id2label, label2id) and `dir/model.safetensors`
   * under Hugging Face's names, each atomically, loadable by Transformers' `from_pretrained`.
   *
   * @param dir The folder (created if needed).
   * @param options Weight type.
   */
  async savePretrained(dir: string, options: SavePretrainedOptions = {}): Promise<void> {
    const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
    for (const [name, t] of this.namedParameters()) {
      entries.push([name, {
        shape: t.shape,
        data: options.values?.get(name) ?? await t.toArray(),
      }]);
    }
    const weights = serializeSafetensors(entries, { dtype: options.dtype ?? "F32" });
    const config = {
      ...this.config,
      architectures: ["ViTForImageClassification"],
      torch_dtype: options.dtype === "F16" ? "float16" : "float32",
    };
    await writeAtomic(joinPath(dir, "model.safetensors"), weights);
    await writeAtomic(joinPath(dir, "config.json"), configToJson(config));
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
    const logits = this.classifier.forward(clsRows(lastHiddenState));
    if (!labels) return { logits };
    return { logits, loss: crossEntropy(logits, labels) };
  }
}
