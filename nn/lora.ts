/**
 * LoRA in PEFT's format (huggingface/peft, `tuners/lora/{config,layer,model}.py`,
 * `utils/save_and_load.py`, `utils/other.py`): `applyLora` adds `lora_A` [r, in] (Kaiming-uniform
 * with a = √5, as PEFT) and `lora_B` [out, r] (zeros) beside each target Linear, whose output
 * becomes `W·x + b + B·A·dropout(x)·alpha/r`; `modules_to_save` train whole and every other
 * weight is frozen. The adapter saves and loads as PEFT's `adapter_config.json` and
 * `adapter_model.safetensors`, keys `base_model.model.<module>.lora_A.weight`, and
 * {@link mergeAndUnload} folds it into the base weights. The core works on bytes and parsed
 * objects; folder paths go through `io/`.
 *
 * @module
 */

import { exists, joinPath, readBytes, readJson, writeAtomic } from "../io/files.ts";
import { matmul } from "../tensor/ops.ts";
import { Rng } from "../tensor/rng.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { CheckpointError } from "./checkpoint.ts";
import { ConfigError, configToJson } from "./config.ts";
import { Dropout, Linear, type LinearAdapter } from "./layers.ts";
import type { Module } from "./module.ts";
import { type FromPretrainedOptions, PreTrainedModel } from "./pretrained.ts";
import { parseSafetensors, serializeSafetensors } from "./safetensors.ts";

/** A LoRA configuration, PEFT's `LoraConfig` fields in camelCase. */
export interface LoraConfig {
  /** Rank of the update. */
  r: number;
  /** Scale numerator: the update is multiplied by `loraAlpha / r` (√r with `useRslora`). */
  loraAlpha: number;
  /** Dropout on the LoRA branch's input. */
  loraDropout: number;
  /**
   * Modules to adapt: names matched as PEFT does (the whole name or its last dotted parts), or
   * one string taken as a regular expression over the whole name.
   */
  targetModules: string[] | string;
  /** Modules trained whole and saved with the adapter (the new head: `classifier`). */
  modulesToSave: string[];
  /** The base model's folder or Hub id, written to adapter_config.json. */
  baseModelNameOrPath?: string | null;
  /** PEFT's task_type (null for image classification, as PEFT's ViT example). */
  taskType?: string | null;
  /** Scale by `alpha / √r` (rank-stabilised LoRA). */
  useRslora?: boolean;
  /**
   * PEFT's rank_pattern: a regular expression matched against the end of a module's name (after
   * a dot), the first match giving that module's r instead of `r`.
   */
  rankPattern?: Record<string, number>;
  /** PEFT's alpha_pattern: as rankPattern, for lora_alpha. */
  alphaPattern?: Record<string, number>;
  /**
   * PEFT's exclude_modules: names (whole, or their last dotted parts) or one regular expression
   * over the whole name; matching modules are not adapted.
   */
  excludeModules?: string[] | string | null;
  /** Seed of lora_A's initialisation. */
  seed?: number;
}

/** What {@link applyLora} did to a model, kept for saving and merging. */
export interface LoraState {
  /** The configuration. */
  config: LoraConfig;
  /** Dotted paths of the adapted Linear modules. */
  targets: string[];
  /** Dotted paths of the modules trained whole. */
  saved: string[];
}

const STATES = new WeakMap<Module, LoraState>();
const PREFIX = "base_model.model.";

/** The LoRA branch of one Linear: `lora_B(lora_A(dropout(x))) · scaling`. */
export class LoraBranch implements LinearAdapter {
  /**
   * Keeps the branch's modules.
   *
   * @param loraA [r, in] down projection.
   * @param loraB [out, r] up projection.
   * @param dropout Dropout on the input.
   * @param scaling `alpha / r`.
   */
  constructor(
    readonly loraA: Linear,
    readonly loraB: Linear,
    readonly dropout: Dropout,
    readonly scaling: number,
  ) {}

  /**
   * The branch's output for the layer's input.
   *
   * @param x [..., in].
   * @returns [..., out].
   */
  forward(x: Tensor): Tensor {
    const down = this.loraA.forward(this.dropout.forward(x));
    return matmul(down, this.loraB.weight, { transB: true, alpha: this.scaling });
  }
}

/** PEFT's `check_target_module_exists` for a list or a regular expression. */
function isTarget(name: string, targets: string[] | string): boolean {
  if (typeof targets === "string") return new RegExp(`^(?:${targets})$`).test(name);
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}

/** Whether `name` is one of modules_to_save (the name or its last dotted parts). */
function isSaved(name: string, modules: readonly string[]): boolean {
  return modules.some((t) => name === t || name.endsWith(`.${t}`));
}

/** Whether `name` is inside a module of modules_to_save, which PEFT never adapts. */
function _isInsideSaved(name: string, modules: readonly string[]): boolean {
  return modules.some((t) => new RegExp(`(^|.*\\.)${t}\\.`).test(name));
}

/** PEFT's exclude_modules test (`check_target_module_exists`). */
function _isExcluded(name: string, exclude: string[] | string | null | undefined): boolean {
  if (!exclude || exclude.length === 0) return false;
  return isTarget(name, exclude);
}

/**
 * PEFT's `get_pattern_key` and lookup: the first key (a regular expression) that matches the
 * end of the name after a dot gives the value, else the default.
 */
function _patternValue(
  pattern: Record<string, number> | undefined,
  name: string,
  fallback: number,
): number {
  for (const [key, value] of Object.entries(pattern ?? {})) {
    if (new RegExp(`^(.*\\.)?(${key})$`).test(name)) return value;
  }
  return fallback;
}

/**
 * Adds LoRA to a model as PEFT's `get_peft_model(model, LoraConfig(...))`: each target Linear
 * gets `lora_A`/`lora_B` children (so its parameter names are PEFT's saved keys without
 * `base_model.model.`), modules_to_save stay trainable, and every other parameter is frozen
 * (`requiresGrad` false: no gradient buffer, no optimiser state, no weight-gradient product).
 *
 * @param model The model (changed in place).
 * @param config The LoRA configuration.
 * @returns The model.
 * @throws {Error} When no module matches, a match is not a Linear, or LoRA is already applied.
 * @example
 * ```ts
 * import { applyLora } from "./lora.ts";
 * import { makeViTConfig, ViTForImageClassification } from "../mod.ts";
 * const model = applyLora(new ViTForImageClassification(makeViTConfig({ hidden_size: 32,
 *   num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64, image_size: 32 })),
 *   { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ["query", "value"],
 *     modulesToSave: ["classifier"] });
 * console.log(model.namedParameters().filter(([, t]) => t.requiresGrad).length); // 6
 * ```
 */
export function applyLora<M extends Module>(model: M, config: LoraConfig): M {
  if (STATES.has(model)) throw new Error("applyLora: the model already has a LoRA adapter");
  if (!(config.r > 0) || !Number.isInteger(config.r)) {
    throw new Error(`applyLora: r must be a positive integer, got ${config.r}`);
  }
  const rng = new Rng(config.seed ?? 0);
  for (const p of model.parameters()) p.requiresGrad = false;
  const targets: string[] = [];
  const saved: string[] = [];
  for (const [name, m] of model.namedModules()) {
    if (name === "") continue;
    if (isSaved(name, config.modulesToSave)) {
      saved.push(name);
      for (const p of m.parameters()) p.requiresGrad = true;
      continue;
    }
    if (_isInsideSaved(name, config.modulesToSave)) continue;
    if (!isTarget(name, config.targetModules) || _isExcluded(name, config.excludeModules)) continue;
    if (!(m instanceof Linear)) {
      throw new Error(`applyLora: target module '${name}' is not a Linear layer`);
    }
    // PEFT's LoraModel._create_and_replace: per-module r and alpha from the patterns.
    const r = _patternValue(config.rankPattern, name, config.r);
    const alpha = _patternValue(config.alphaPattern, name, config.loraAlpha);
    if (!(r > 0) || !Number.isInteger(r)) {
      throw new Error(`applyLora: rank_pattern gives '${name}' r ${r}, not a positive integer`);
    }
    const scaling = config.useRslora ? alpha / Math.sqrt(r) : alpha / r;
    const loraA = new Linear(m.inFeatures, r, false);
    const loraB = new Linear(r, m.outFeatures, false);
    // kaiming_uniform_(a=√5) on [r, in]: bound = gain·√(3/fan_in) = 1/√in.
    const bound = 1 / Math.sqrt(m.inFeatures);
    const values = new Float32Array(loraA.weight.size);
    for (let i = 0; i < values.length; i++) values[i] = (rng.next() * 2 - 1) * bound;
    loraA.weight.assign(values);
    const dropout = new Dropout(config.loraDropout);
    dropout.training = m.training;
    m._addModule("lora_dropout", dropout);
    m._addModule("lora_A", loraA);
    m._addModule("lora_B", loraB);
    m.adapter = new LoraBranch(loraA, loraB, dropout, scaling);
    targets.push(name);
  }
  if (targets.length === 0) {
    throw new Error(
      `applyLora: no module matches target_modules ${JSON.stringify(config.targetModules)}`,
    );
  }
  STATES.set(model, { config: { ...config }, targets, saved });
  return model;
}

/**
 * The LoRA state of a model, or null when {@link applyLora} was not applied.
 *
 * @param model The model.
 * @returns What applyLora recorded.
 * @example
 * ```ts ignore
 * import { loraState } from "./lora.ts";
 * console.log(loraState(model)?.targets.length); // 24 for ViT-B with query and value
 * ```
 */
export function loraState(model: Module): LoraState | null {
  return STATES.get(model) ?? null;
}

/**
 * The adapter's tensors under PEFT's saved keys (`get_peft_model_state_dict`: adapter name and
 * `modules_to_save.default` removed), in the model's parameter order.
 *
 * @param model A model with LoRA.
 * @returns PEFT key and tensor pairs.
 * @throws {Error} When the model has no LoRA.
 * @example
 * ```ts ignore
 * import { adapterParameters } from "./lora.ts";
 * console.log(adapterParameters(model)[0][0]);
 * // base_model.model.vit.encoder.layer.0.attention.attention.query.lora_A.weight
 * ```
 */
export function adapterParameters(model: Module): Array<[string, Tensor]> {
  const state = STATES.get(model);
  if (!state) throw new Error("the model has no LoRA adapter");
  const out: Array<[string, Tensor]> = [];
  for (const [name, t] of model.namedParameters()) {
    const module = name.slice(0, name.lastIndexOf("."));
    const lora = /\.lora_[AB]\.weight$/.test(name);
    if (lora || state.saved.some((s) => module === s || module.startsWith(`${s}.`))) {
      out.push([PREFIX + name, t]);
    }
  }
  return out;
}

/** The PEFT release whose adapter_config.json Tessera writes and reads (peft_version). */
export const PEFT_FORMAT_VERSION = "0.20.0";

/**
 * PEFT's `auto_mapping` for a base model whose adapter has no task_type: the Transformers class
 * and module `AutoPeftModel` imports to load the base (without it, AutoPeftModel refuses).
 */
export interface AutoMapping {
  /** The class name, e.g. `ViTForImageClassification`. */
  base_model_class: string;
  /** Its module, e.g. `transformers.models.vit.modeling_vit`. */
  parent_library: string;
}

/**
 * adapter_config.json as PEFT v0.20.0's `PeftModel.save_pretrained` writes it (`LoraConfig`'s
 * dataclass fields with their defaults, runtime_config left out, inference_mode true, keys
 * sorted), Tessera's own settings filled in.
 *
 * @param config The LoRA configuration.
 * @param autoMapping The base model's class and module, written when task_type is null.
 * @returns The JSON text.
 * @example
 * ```ts
 * import { adapterConfigJson } from "./lora.ts";
 * const text = adapterConfigJson({ r: 16, loraAlpha: 16, loraDropout: 0.1,
 *   targetModules: ["query", "value"], modulesToSave: ["classifier"] });
 * console.log(JSON.parse(text).peft_type); // LORA
 * ```
 */
export function adapterConfigJson(config: LoraConfig, autoMapping?: AutoMapping | null): string {
  // peft/src/peft/config.py (PeftConfigMixin, PeftConfig) and tuners/lora/config.py (LoraConfig)
  // at v0.20.0, commit a5526d27a9d47d1e8264d5e1b1f96c0fdc79464e.
  const fields: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: { ...config.alphaPattern },
    arrow_config: null,
    auto_mapping: (config.taskType ?? null) === null && autoMapping ? { ...autoMapping } : null,
    base_model_name_or_path: config.baseModelNameOrPath ?? null,
    bias: "none",
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: typeof config.excludeModules === "string"
      ? config.excludeModules
      : config.excludeModules?.length
      ? [...config.excludeModules]
      : null,
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.loraAlpha,
    lora_bias: false,
    lora_dropout: config.loraDropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: "megatron.core",
    modules_to_save: config.modulesToSave.length > 0 ? [...config.modulesToSave] : null,
    monteclora_config: null,
    peft_type: "LORA",
    peft_version: PEFT_FORMAT_VERSION,
    qalora_group_size: 16,
    r: config.r,
    rank_pattern: { ...config.rankPattern },
    revision: null,
    target_modules: typeof config.targetModules === "string"
      ? config.targetModules
      : [...config.targetModules],
    target_parameters: null,
    task_type: config.taskType ?? null,
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: config.useRslora ?? false,
    velora_config: null,
  };
  return JSON.stringify(fields, null, 2) + "\n";
}

/**
 * LoraConfig fields whose non-default value changes what the adapter computes in a way Tessera
 * does not implement; any value PEFT counts as unset (null, false, [], {}) is accepted.
 */
const UNSUPPORTED: Record<string, string> = {
  use_dora: "DoRA",
  lora_bias: "a bias on lora_B",
  layer_replication: "layer replication",
  layers_to_transform: "adapting only some layers",
  target_parameters: "LoRA on nn.Parameter targets",
  trainable_token_indices: "trainable tokens",
  alora_invocation_tokens: "activated LoRA",
  use_qalora: "QALoRA",
  use_bdlora: "block-diagonal LoRA",
  arrow_config: "Arrow routing",
  velora_config: "VeLoRA",
  monteclora_config: "MonteCLoRA",
};

/** Whether PEFT would treat the value as unset (None, False or empty, as its `if config.x:`). */
function _isUnset(value: unknown): boolean {
  // Not 0: layers_to_transform 0 means "layer 0 only" to PEFT.
  if (value === undefined || value === null || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value as object).length === 0;
}

/** A rank_pattern/alpha_pattern object of numbers, or a ConfigError naming the field. */
function _pattern(value: unknown, key: string, file: string): Record<string, number> {
  if (value === undefined || value === null) return {};
  if (
    typeof value !== "object" || Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === "number" && v > 0)
  ) {
    throw new ConfigError(file, `${key} must map module patterns to positive numbers`);
  }
  for (const k of Object.keys(value)) {
    try {
      new RegExp(k);
    } catch {
      throw new ConfigError(file, `${key} key ${JSON.stringify(k)} is not a regular expression`);
    }
  }
  return { ...(value as Record<string, number>) };
}

/**
 * Reads adapter_config.json's fields into a {@link LoraConfig}, as PEFT v0.20.0 writes them.
 * Fields Tessera has no use for (task_type, peft_version, auto_mapping, megatron_*,
 * init_lora_weights true/false/"gaussian" …) and fields of later releases are ignored; a
 * setting that would change what the adapter computes and that Tessera lacks is refused.
 *
 * @param value The parsed JSON, its text or bytes.
 * @param file Its path, for errors.
 * @returns The configuration.
 * @throws {ConfigError} Naming the file and the field when it is not a LoRA config Tessera can
 *   apply.
 * @example
 * ```ts
 * import { parseAdapterConfig } from "./lora.ts";
 * const c = parseAdapterConfig({ peft_type: "LORA", r: 8, lora_alpha: 16,
 *   target_modules: ["query", "value"] });
 * console.log(c.r, c.loraAlpha); // 8 16
 * ```
 */
export function parseAdapterConfig(value: unknown, file = "adapter_config.json"): LoraConfig {
  let fields = value;
  if (typeof fields === "string" || fields instanceof Uint8Array) {
    const text = typeof fields === "string" ? fields : new TextDecoder().decode(fields);
    try {
      fields = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(file, `invalid JSON (${(error as Error).message})`);
    }
  }
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
    throw new ConfigError(file, "is not a JSON object");
  }
  const f = fields as Record<string, unknown>;
  if (f.peft_type !== "LORA") {
    throw new ConfigError(file, `peft_type ${JSON.stringify(f.peft_type)} is not "LORA"`);
  }
  for (const [k, what] of Object.entries(UNSUPPORTED)) {
    if (!_isUnset(f[k])) {
      throw new ConfigError(file, `${k} ${JSON.stringify(f[k])} (${what}) is not supported`);
    }
  }
  if (f.bias !== undefined && f.bias !== "none") {
    throw new ConfigError(file, `bias ${JSON.stringify(f.bias)} is not supported (only "none")`);
  }
  // PiSSA, OLoRA, CorDA, LoftQ and LoRA-GA change the base weights, so the adapter is only right
  // on a base Tessera does not have; true, false and "gaussian" only set the starting values.
  const init = f.init_lora_weights;
  if (init !== undefined && init !== true && init !== false && init !== "gaussian") {
    throw new ConfigError(
      file,
      `init_lora_weights ${JSON.stringify(init)} is not supported (it changes the base weights)`,
    );
  }
  if (typeof f.target_modules === "string" && f.target_modules.toLowerCase() === "all-linear") {
    throw new ConfigError(
      file,
      'target_modules "all-linear" is not supported: list the module names instead',
    );
  }
  const r = f.r;
  if (typeof r !== "number" || !Number.isInteger(r) || r <= 0) {
    throw new ConfigError(file, `r must be a positive integer, got ${JSON.stringify(r)}`);
  }
  const targets = f.target_modules;
  if (
    typeof targets !== "string" &&
    !(Array.isArray(targets) && targets.every((t) => typeof t === "string"))
  ) {
    throw new ConfigError(file, "target_modules must be a list of names or a regular expression");
  }
  const saved = f.modules_to_save ?? [];
  if (!Array.isArray(saved) || !saved.every((t) => typeof t === "string")) {
    throw new ConfigError(file, "modules_to_save must be a list of names or null");
  }
  const exclude = f.exclude_modules ?? null;
  if (
    exclude !== null && typeof exclude !== "string" &&
    !(Array.isArray(exclude) && exclude.every((t) => typeof t === "string"))
  ) {
    throw new ConfigError(
      file,
      "exclude_modules must be a list of names, a regular expression or null",
    );
  }
  return {
    r,
    loraAlpha: typeof f.lora_alpha === "number" ? f.lora_alpha : 8,
    loraDropout: typeof f.lora_dropout === "number" ? f.lora_dropout : 0,
    targetModules: targets as string[] | string,
    modulesToSave: saved as string[],
    baseModelNameOrPath: typeof f.base_model_name_or_path === "string"
      ? f.base_model_name_or_path
      : null,
    taskType: typeof f.task_type === "string" ? f.task_type : null,
    useRslora: f.use_rslora === true,
    rankPattern: _pattern(f.rank_pattern, "rank_pattern", file),
    alphaPattern: _pattern(f.alpha_pattern, "alpha_pattern", file),
    excludeModules: exclude as string[] | string | null,
  };
}

/** Options of {@link toAdapterFiles} and {@link saveAdapter}. */
export interface SaveAdapterOptions {
  /** Parameter values already read back, by Tessera name (skips readbacks). */
  values?: ReadonlyMap<string, Float32Array>;
}

/**
 * The adapter as PEFT's two files.
 *
 * @param model A model with LoRA.
 * @param options Values already read back.
 * @returns adapter_config.json's text and adapter_model.safetensors' bytes.
 * @example
 * ```ts ignore
 * import { toAdapterFiles } from "./lora.ts";
 * const { config, weights } = await toAdapterFiles(model); // for a download in a page
 * ```
 */
export async function toAdapterFiles(
  model: Module,
  options: SaveAdapterOptions = {},
): Promise<{ config: string; weights: Uint8Array }> {
  const state = STATES.get(model);
  if (!state) throw new Error("the model has no LoRA adapter");
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [key, t] of adapterParameters(model)) {
    const data = options.values?.get(key.slice(PREFIX.length)) ?? await t.toArray();
    entries.push([key, { shape: t.shape, data }]);
  }
  return {
    config: adapterConfigJson(state.config, autoMappingOf(model)),
    weights: serializeSafetensors(entries),
  };
}

/**
 * PeftModel.save_pretrained's auto_mapping for a Transformers model: its class and
 * `transformers.models.<model_type>.modeling_<model_type>` (the layout of vit, deit, dinov2 and
 * convnext), or null when the model is not a pretrained one.
 *
 * @param model The base model.
 * @returns The mapping, or null.
 * @example
 * ```ts ignore
 * import { autoMappingOf } from "./lora.ts";
 * console.log(autoMappingOf(vit)?.parent_library); // transformers.models.vit.modeling_vit
 * ```
 */
export function autoMappingOf(model: Module): AutoMapping | null {
  if (!(model instanceof PreTrainedModel)) return null;
  const type = (model.config as { model_type?: unknown }).model_type;
  if (typeof type !== "string" || !/^[a-z0-9_]+$/.test(type)) return null;
  return {
    base_model_class: model.architecture,
    parent_library: `transformers.models.${type}.modeling_${type}`,
  };
}

/**
 * Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors`, as PEFT's
 * `save_pretrained`; PEFT's `PeftModel.from_pretrained` loads them. A pretrained model's
 * config.json (its labels) goes beside them, which PEFT and Transformers ignore in an adapter
 * folder and Tessera reads to name the classes.
 *
 * @param model A model with LoRA.
 * @param dir The folder (created if needed).
 * @param options Values already read back.
 * @example
 * ```ts ignore
 * import { saveAdapter } from "./lora.ts";
 * await saveAdapter(model, "vit-lora"); // adapter_config.json, adapter_model.safetensors
 * ```
 */
export async function saveAdapter(
  model: Module,
  dir: string,
  options: SaveAdapterOptions = {},
): Promise<void> {
  const { config, weights } = await toAdapterFiles(model, options);
  await writeAtomic(joinPath(dir, "adapter_model.safetensors"), weights);
  if (model instanceof PreTrainedModel) {
    await writeAtomic(
      joinPath(dir, "config.json"),
      configToJson({ ...model.config, architectures: [model.architecture] }),
    );
  }
  await writeAtomic(joinPath(dir, "adapter_config.json"), config);
}

/** A PEFT key as Tessera names the parameter: prefix, adapter name, modules_to_save removed. */
function tesseraName(key: string): string {
  let name = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
  name = name.replace(/\.(lora_[AB])\.default\.weight$/, ".$1.weight");
  name = name.replace(/\.modules_to_save\.default\./, ".");
  return name;
}

/**
 * Fills a model's adapter (and modules_to_save) from adapter_model.safetensors' bytes, as
 * PEFT's `set_peft_model_state_dict`: every adapter parameter must be present with its shape.
 *
 * @param model A model with LoRA applied with the adapter's config.
 * @param bytes The safetensors file.
 * @param file Its path, for errors.
 * @throws {CheckpointError} Naming the file for a missing, unknown or misshapen tensor.
 * @example
 * ```ts ignore
 * import { applyLora, loadAdapterWeights } from "./lora.ts";
 * applyLora(model, config);
 * loadAdapterWeights(model, bytes, "adapter_model.safetensors");
 * ```
 */
export function loadAdapterWeights(model: Module, bytes: Uint8Array, file: string): void {
  const { tensors } = parseSafetensors(bytes, file);
  const byName = new Map<string, { shape: number[]; data: Float32Array; key: string }>();
  for (const [key, e] of tensors) byName.set(tesseraName(key), { ...e, key });
  const expected = adapterParameters(model);
  for (const [key, t] of expected) {
    const name = key.slice(PREFIX.length);
    const e = byName.get(name);
    if (!e) throw new CheckpointError(file, `'${key}' is missing`);
    if (e.shape.join() !== t.shape.join()) {
      throw new CheckpointError(file, `'${e.key}' has shape [${e.shape}], the model [${t.shape}]`);
    }
    t.assign(e.data);
    byName.delete(name);
  }
  if (byName.size > 0) {
    const extra = [...byName.values()].map((e) => e.key).slice(0, 3).join(", ");
    throw new CheckpointError(file, `tensors the model has no place for: ${extra}`);
  }
}

/**
 * Where an adapter folder's base model is: as written, else relative to the adapter folder.
 *
 * @param adapterDir The adapter folder.
 * @param base Its base_model_name_or_path.
 * @returns A model folder.
 * @throws {ConfigError} Naming adapter_config.json when neither is a model folder.
 * @example
 * ```ts ignore
 * import { resolveBaseModel } from "./lora.ts";
 * console.log(await resolveBaseModel("out/vit-lora", "../base")); // out/vit-lora/../base
 * ```
 */
export async function resolveBaseModel(adapterDir: string, base: string | null): Promise<string> {
  const file = joinPath(adapterDir, "adapter_config.json");
  if (!base) throw new ConfigError(file, "has no base_model_name_or_path");
  if (await exists(joinPath(base, "config.json"))) return base;
  const beside = joinPath(adapterDir, base);
  if (await exists(joinPath(beside, "config.json"))) return beside;
  throw new ConfigError(
    file,
    `base_model_name_or_path '${base}' is not a model folder (no config.json there or beside ` +
      "the adapter)",
  );
}

/**
 * Whether a folder holds a PEFT adapter (adapter_config.json).
 *
 * @param dir The folder.
 * @returns True when adapter_config.json is there.
 * @example
 * ```ts ignore
 * import { isAdapterFolder } from "./lora.ts";
 * console.log(await isAdapterFolder("vit-lora")); // true
 * ```
 */
export function isAdapterFolder(dir: string): Promise<boolean> {
  return exists(joinPath(dir, "adapter_config.json"));
}

/**
 * Loads an adapter folder onto a base model, as PEFT's `PeftModel.from_pretrained(base, dir)`.
 *
 * @param model The base model, with the adapter's labels.
 * @param dir The adapter folder.
 * @returns The model with LoRA applied and loaded.
 * @throws {ConfigError|CheckpointError|FileError} Naming the file at fault.
 * @example
 * ```ts ignore
 * import { loadAdapter } from "./lora.ts";
 * const vit = await ViTForImageClassification.fromPretrained(base);
 * const model = await loadAdapter(vit, "vit-lora");
 * ```
 */
export async function loadAdapter<M extends Module>(model: M, dir: string): Promise<M> {
  const configFile = joinPath(dir, "adapter_config.json");
  const config = parseAdapterConfig(await readJson(configFile), configFile);
  const weightsFile = joinPath(dir, "adapter_model.safetensors");
  const bytes = await readBytes(weightsFile);
  applyLora(model, config);
  loadAdapterWeights(model, bytes, weightsFile);
  return model;
}

/**
 * Loads an adapter folder as a model, as PEFT's `AutoPeftModelForImageClassification`: the base
 * named by base_model_name_or_path (a folder, as written or beside the adapter), with the
 * labels of the adapter folder's config.json (else as many as the saved head has outputs),
 * then the adapter.
 *
 * @param dir The adapter folder.
 * @param loadBase Loads a model folder (the Auto class's loader).
 * @param options Labels, seed, logger for the base; explicit labels win over the folder's.
 * @returns The model with its adapter, in training mode.
 * @throws {ConfigError|CheckpointError|FileError} Naming the file at fault.
 * @example
 * ```ts ignore
 * import { loadLoraModel } from "./lora.ts";
 * const model = await loadLoraModel("vit-lora", (dir, o) => registry.loadImageClassifier(dir, o));
 * ```
 */
export async function loadLoraModel<M extends Module>(
  dir: string,
  loadBase: (base: string, options: FromPretrainedOptions) => Promise<M>,
  options: FromPretrainedOptions = {},
): Promise<M> {
  const configFile = joinPath(dir, "adapter_config.json");
  const config = parseAdapterConfig(await readJson(configFile), configFile);
  const base = await resolveBaseModel(dir, config.baseModelNameOrPath ?? null);
  const weightsFile = joinPath(dir, "adapter_model.safetensors");
  const bytes = await readBytes(weightsFile);
  let labels: FromPretrainedOptions = {};
  if (options.id2label || options.numLabels !== undefined) labels = {};
  else if (await exists(joinPath(dir, "config.json"))) {
    const fields = await readJson(joinPath(dir, "config.json")) as Record<string, unknown>;
    if (fields.id2label && typeof fields.id2label === "object") {
      labels = { id2label: fields.id2label as Record<string, string> };
    }
  } else {
    const { tensors } = parseSafetensors(bytes, weightsFile);
    const head = [...tensors].find(([k]) => /(^|\.)classifier\.weight$/.test(tesseraName(k)));
    if (head) labels = { numLabels: head[1].shape[0] };
  }
  const model = await loadBase(base, { ...labels, ...options });
  try {
    applyLora(model, config);
    loadAdapterWeights(model, bytes, weightsFile);
  } catch (error) {
    (model as Module).dispose();
    throw error;
  }
  return model;
}

/**
 * Folds the adapter into the base weights (`W + B·A·scaling`, PEFT's `merge_and_unload`) and
 * removes it: the model is a plain one again, whose `savePretrained` writes a normal folder.
 * Every parameter requires grad again.
 *
 * @param model A model with LoRA.
 * @returns The model.
 * @throws {Error} When the model has no LoRA.
 * @example
 * ```ts ignore
 * import { mergeAndUnload } from "./lora.ts";
 * await (await mergeAndUnload(model)).savePretrained("vit-merged");
 * ```
 */
export async function mergeAndUnload<M extends Module>(model: M): Promise<M> {
  const state = STATES.get(model);
  if (!state) throw new Error("mergeAndUnload: the model has no LoRA adapter");
  const modules = new Map(model.namedModules());
  for (const name of state.targets) {
    const m = modules.get(name) as Linear;
    const branch = m.adapter as LoraBranch;
    const [w, a, b] = await Promise.all([
      m.weight.toArray(),
      branch.loraA.weight.toArray(),
      branch.loraB.weight.toArray(),
    ]);
    const r = branch.loraA.outFeatures;
    const inF = m.inFeatures;
    for (let o = 0; o < m.outFeatures; o++) {
      for (let i = 0; i < inF; i++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += b[o * r + k] * a[k * inF + i];
        w[o * inF + i] += s * branch.scaling;
      }
    }
    m.weight.assign(w);
    m.adapter = null;
    m._removeModule("lora_dropout");
    m._removeModule("lora_A");
    m._removeModule("lora_B");
    branch.loraA.dispose();
    branch.loraB.dispose();
  }
  for (const p of model.parameters()) p.requiresGrad = true;
  STATES.delete(model);
  return model;
}

/**
 * PEFT's `print_trainable_parameters` line. As in PEFT, "all params" also counts the frozen
 * original of each module in modules_to_save (PEFT keeps both copies).
 *
 * @param model The model (with LoRA, a frozen backbone, or neither).
 * @returns `trainable params: N || all params: M || trainable%: P`.
 * @example
 * ```ts ignore
 * import { trainableParametersLine } from "./lora.ts";
 * console.log(trainableParametersLine(model));
 * // trainable params: 667,493 || all params: 86,543,818 || trainable%: 0.7713
 * ```
 */
export function trainableParametersLine(model: Module): string {
  let trainable = 0;
  let all = 0;
  for (const t of model.parameters()) {
    all += t.size;
    if (t.requiresGrad) trainable += t.size;
  }
  const state = STATES.get(model);
  if (state) {
    const modules = new Map(model.namedModules());
    for (const s of state.saved) all += modules.get(s)!.numParameters();
  }
  const fmt = (n: number) => n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const pct = all === 0 ? 0 : (100 * trainable) / all;
  return `trainable params: ${fmt(trainable)} || all params: ${fmt(all)} || trainable%: ${
    pct.toFixed(4)
  }`;
}
