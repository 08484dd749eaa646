/**
 * The encoder of ViT-style models in Hugging Face's structure and names (transformers'
 * modeling_vit.py, which DeiT's copies): pre-LN layers of multi-head self-attention and an MLP,
 * their stack (`encoder.layer.N`) and the pooler.
 *
 * @module
 */

import {
  add,
  concat,
  concatParameters,
  gelu,
  matmul,
  relu,
  selfAttention,
  tanh,
} from "../tensor/ops.ts";
import { isGradEnabled, scope, type Tensor } from "../tensor/tensor.ts";
import { checkpointed } from "./gradient_checkpointing.ts";
import type { EncoderConfig } from "./encoder_config.ts";
import { Dropout, LayerNorm, Linear } from "./layers.ts";
import { Module, ModuleList } from "./module.ts";

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
  constructor(readonly config: EncoderConfig) {
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
    const dropout = this.dropout;
    const active = dropout.training && dropout.p > 0;
    const onProbs = active ? (probs: Tensor) => dropout.forward(probs) : undefined;
    const heads = this.config.num_attention_heads;
    if (query.adapter || key.adapter || value.adapter) {
      // An adapter (LoRA) adds its branch to each projection's own output, so the three run
      // apart; the frozen weights still get no gradient products.
      const parts = [query.forward(x), key.forward(x), value.forward(x)];
      const qkv = concat(parts, -1);
      for (const p of parts) p.dispose();
      return selfAttention(qkv, heads, undefined, onProbs);
    }
    // Views of the optimizer's arena where it holds them back to back (no copies).
    const weight = concatParameters([query.weight, key.weight, value.weight]);
    const bias = query.bias && key.bias && value.bias
      ? concatParameters([query.bias, key.bias, value.bias])
      : undefined;
    const qkv = matmul(x, weight, { transB: true, bias });
    return selfAttention(qkv, heads, undefined, onProbs);
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
  constructor(config: EncoderConfig) {
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
  constructor(config: EncoderConfig) {
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
  constructor(readonly config: EncoderConfig) {
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
  constructor(config: EncoderConfig) {
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
  constructor(config: EncoderConfig) {
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

/** One layer of an encoder stack: [B, T, hidden] in and out. */
export interface EncoderLayer extends Module {
  /** Runs the layer. */
  forward(x: Tensor): Tensor;
}

/** The stack of encoder layers: ViT's by default, or a family's own (DINOv2's). */
export class ViTEncoder<L extends EncoderLayer = ViTLayer> extends Module {
  /**
   * Recompute each layer's activations in the backward pass instead of keeping them
   * (Transformers' `gradient_checkpointing`); used in training mode only.
   */
  gradientCheckpointing = false;
  /** The layers, named `layer.0`, `layer.1`, …. */
  readonly layer: ModuleList<L>;

  /**
   * Creates the stack.
   *
   * @param config The model config.
   * @param makeLayer Builds one layer (ViTLayer by default).
   */
  constructor(
    config: EncoderConfig,
    makeLayer: (config: EncoderConfig) => L = (c) => new ViTLayer(c) as unknown as L,
  ) {
    super();
    this.layer = this.registerModule(
      "layer",
      new ModuleList(Array.from({ length: config.num_hidden_layers }, () => makeLayer(config))),
    );
  }

  /** Runs every layer (freeing each layer's intermediates at once where no tape records). */
  forward(x: Tensor): Tensor {
    let h = x;
    const grad = isGradEnabled();
    const recompute = this.gradientCheckpointing && this.training && grad;
    for (const layer of this.layer.items) {
      if (!grad || (!h.requiresGrad && !layer.parameters().some((p) => p.requiresGrad))) {
        // Nothing records a tape here (evaluation, a frozen backbone): the layer's
        // intermediates, and the previous layer's output, can go at once.
        const input = h;
        h = scope(() => layer.forward(input));
        if (input !== x) input.dispose();
      } else if (recompute) h = checkpointed((t) => layer.forward(t), h, layer);
      else h = layer.forward(h);
    }
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
  constructor(config: EncoderConfig) {
    super();
    this.dense = this.registerModule("dense", new Linear(config.hidden_size, config.hidden_size));
  }

  /** [B, hidden] CLS states → pooled [B, hidden]. */
  forward(cls: Tensor): Tensor {
    return tanh(this.dense.forward(cls));
  }
}
