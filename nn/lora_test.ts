import assert from "node:assert/strict";
import {
  adapterParameters,
  applyLora,
  loadAdapter,
  type LoraBranch,
  type LoraConfig,
  loraState,
  mergeAndUnload,
  parseAdapterConfig,
  PEFT_FORMAT_VERSION,
  saveAdapter,
  trainableParametersLine,
} from "./lora.ts";
import type { Linear } from "./layers.ts";
import { parseSafetensors } from "./safetensors.ts";
import { AutoModelForImageClassification } from "../models/auto.ts";
import { makeViTConfig, vitBase16 } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { noGrad, Tensor } from "../tensor/tensor.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { removeOnUnload, testTempDir } from "../io/_test_util.ts";
import { init } from "../tensor/runtime.ts";

await init();

const LORA = new URL("../tests/fixtures/lora/", import.meta.url).pathname;
const golden = parseSafetensors(
  await Deno.readFile(`${LORA}golden.safetensors`),
  "golden.safetensors",
);
const G = (k: string) => golden.tensors.get(k)!;
const quiet = { log: () => {} };

function smallConfig(extra: Record<string, unknown> = {}) {
  return makeViTConfig({
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 64,
    image_size: 32,
    patch_size: 8,
    num_labels: 3,
    ...extra,
  }, "test");
}

const QV: LoraConfig = {
  r: 4,
  loraAlpha: 8,
  loraDropout: 0,
  targetModules: ["query", "value"],
  modulesToSave: ["classifier"],
};

async function logitsOf(
  model: { forward(x: Tensor): { logits: Tensor }; eval(): unknown },
): Promise<Float32Array> {
  model.eval();
  const p = G("pixels");
  const pixels = Tensor.from(p.data, p.shape);
  const out = noGrad(() => model.forward(pixels));
  const values = await out.logits.toArray();
  out.logits.dispose();
  pixels.dispose();
  return values;
}

/** PyTorch computed in float64; Tessera in f32 on the GPU: 1e-4 of the logits' scale. */
function assertLogits(actual: Float32Array, expected: Float32Array, label: string): void {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(actual, expected, { atol: 1e-4 * scale, rtol: 0 }, label);
}

Deno.test("applyLora() adds lora_A, lora_B to query and value and freezes the rest", async () => {
  const model = applyLora(new ViTForImageClassification(smallConfig()), QV);
  const trainable = model.namedParameters().filter(([, t]) => t.requiresGrad);
  const names = trainable.map(([n, t]) => `${n} [${t.shape}]`);
  assert.deepEqual(names, [
    "vit.encoder.layer.0.attention.attention.query.lora_A.weight [4,32]",
    "vit.encoder.layer.0.attention.attention.query.lora_B.weight [32,4]",
    "vit.encoder.layer.0.attention.attention.value.lora_A.weight [4,32]",
    "vit.encoder.layer.0.attention.attention.value.lora_B.weight [32,4]",
    "vit.encoder.layer.1.attention.attention.query.lora_A.weight [4,32]",
    "vit.encoder.layer.1.attention.attention.query.lora_B.weight [32,4]",
    "vit.encoder.layer.1.attention.attention.value.lora_A.weight [4,32]",
    "vit.encoder.layer.1.attention.attention.value.lora_B.weight [32,4]",
    "classifier.weight [3,32]",
    "classifier.bias [3]",
  ]);
  // PEFT's init: kaiming_uniform_(a=√5) on lora_A (bound 1/√in), zeros in lora_B, so the
  // adapted model starts equal to its base.
  const a = await trainable[0][1].toArray();
  const bound = 1 / Math.sqrt(32);
  assert.ok(a.every((v) => Math.abs(v) <= bound) && a.some((v) => Math.abs(v) > bound / 2));
  assert.ok((await trainable[1][1].toArray()).every((v) => v === 0));
  assert.deepEqual(
    adapterParameters(model).map(([k]) => k).slice(0, 2),
    [
      "base_model.model.vit.encoder.layer.0.attention.attention.query.lora_A.weight",
      "base_model.model.vit.encoder.layer.0.attention.attention.query.lora_B.weight",
    ],
  );
  assert.throws(() => applyLora(model, QV), /already has a LoRA adapter/);
  model.dispose();
});

Deno.test("applyLora() names the problem when no module matches or a match is not a Linear", () => {
  const model = new ViTForImageClassification(smallConfig());
  assert.throws(
    () => applyLora(model, { ...QV, targetModules: ["q_proj"] }),
    /no module matches target_modules \["q_proj"\]/,
  );
  const other = new ViTForImageClassification(smallConfig());
  assert.throws(
    () => applyLora(other, { ...QV, targetModules: ["attention"] }),
    /target module 'vit.encoder.layer.0.attention' is not a Linear layer/,
  );
  model.dispose();
  other.dispose();
});

Deno.test("a PEFT adapter folder loads onto its base and gives PyTorch's logits", async () => {
  const model = await AutoModelForImageClassification.fromPretrained(
    `${LORA}peft_adapter`,
    quiet,
  );
  assert.ok(loraState(model));
  assert.equal(model.numLabels, 3);
  assertLogits(await logitsOf(model), G("peft_logits").data, "PEFT-model logits");
  model.dispose();
});

Deno.test("mergeAndUnload() folds B·A·alpha/r into the weights as PyTorch's does", async () => {
  const model = await AutoModelForImageClassification.fromPretrained(
    `${LORA}peft_adapter`,
    quiet,
  );
  await mergeAndUnload(model);
  assert.equal(loraState(model), null);
  assert.ok(model.namedParameters().every(([n, t]) => !n.includes("lora_") && t.requiresGrad));
  const params = new Map(model.namedParameters());
  for (const [key, entry] of golden.tensors) {
    if (!key.startsWith("merged.")) continue;
    const name = key.slice("merged.".length);
    assertClose(await params.get(name)!.toArray(), entry.data, { atol: 1e-5, rtol: 0 }, name);
  }
  assertLogits(await logitsOf(model), G("merged_logits").data, "merged logits");
  // The merged model saves as a normal folder, which loads as a plain model.
  const dir = await testTempDir();
  removeOnUnload(dir);
  await model.savePretrained(dir);
  const { tensors } = parseSafetensors(await Deno.readFile(`${dir}/model.safetensors`));
  assert.ok([...tensors.keys()].every((k) => !k.includes("lora")));
  const plain = await AutoModelForImageClassification.fromPretrained(dir, quiet);
  assertLogits(await logitsOf(plain), G("merged_logits").data, "reloaded merged logits");
  model.dispose();
  plain.dispose();
});

Deno.test("saveAdapter() writes PEFT's keys, shapes, values and adapter_config.json", async () => {
  const model = await AutoModelForImageClassification.fromPretrained(
    `${LORA}peft_adapter`,
    quiet,
  );
  const dir = await testTempDir();
  removeOnUnload(dir);
  await saveAdapter(model, dir);
  const ours = parseSafetensors(await Deno.readFile(`${dir}/adapter_model.safetensors`));
  const theirs = parseSafetensors(
    await Deno.readFile(`${LORA}peft_adapter/adapter_model.safetensors`),
  );
  const pythonKeys = JSON.parse(golden.metadata.keys) as string[];
  assert.deepEqual([...ours.tensors.keys()].sort(), [...pythonKeys].sort());
  for (const [k, e] of theirs.tensors) {
    assert.deepEqual(ours.tensors.get(k)!.shape, e.shape, k);
    assertClose(ours.tensors.get(k)!.data, e.data, { atol: 0, rtol: 0 }, k);
  }
  const config = JSON.parse(await Deno.readTextFile(`${dir}/adapter_config.json`));
  const peft = JSON.parse(await Deno.readTextFile(`${LORA}peft_adapter/adapter_config.json`));
  // Every field PEFT wrote, with the same value except where the base path is recorded.
  assert.deepEqual(Object.keys(config).sort(), Object.keys(peft).sort());
  for (const k of Object.keys(peft)) {
    if (k !== "base_model_name_or_path") assert.deepEqual(config[k], peft[k], k);
  }
  // config.json beside it keeps the class names for predict.
  const fields = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  assert.equal(fields.id2label["1"], "bean_rust");
  model.dispose();
});

Deno.test("parseAdapterConfig() rejects what Tessera cannot apply, naming the file", () => {
  const base = { peft_type: "LORA", r: 8, lora_alpha: 16, target_modules: ["query"] };
  assert.equal(parseAdapterConfig(base, "a.json").modulesToSave.length, 0);
  assert.throws(() => parseAdapterConfig({ ...base, peft_type: "IA3" }, "a.json"), /a\.json.*IA3/);
  assert.throws(() => parseAdapterConfig({ ...base, r: 0 }, "a.json"), /r must be/);
  assert.throws(() => parseAdapterConfig("{", "a.json"), /a\.json: invalid JSON/);
  // Each setting that changes what the adapter computes, in one line naming the file and field.
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ use_dora: true }, /^a\.json: use_dora true \(DoRA\) is not supported$/],
    [{ bias: "all" }, /^a\.json: bias "all" is not supported/],
    [{ bias: "lora_only" }, /^a\.json: bias "lora_only" is not supported/],
    [{ lora_bias: true }, /^a\.json: lora_bias true/],
    [{ layer_replication: [[0, 2], [1, 2]] }, /^a\.json: layer_replication \[\[0,2\],\[1,2\]\]/],
    [{ layers_to_transform: [0] }, /^a\.json: layers_to_transform \[0\]/],
    [{ layers_to_transform: 0 }, /^a\.json: layers_to_transform 0/],
    [{ target_parameters: ["w"] }, /^a\.json: target_parameters/],
    [{ use_qalora: true }, /^a\.json: use_qalora true/],
    [{ init_lora_weights: "pissa" }, /^a\.json: init_lora_weights "pissa" is not supported/],
    [{ target_modules: "all-linear" }, /^a\.json: target_modules "all-linear" is not supported/],
    [{ rank_pattern: { query: 0 } }, /^a\.json: rank_pattern must map/],
    [{ alpha_pattern: { "(": 2 } }, /^a\.json: alpha_pattern key "\(" is not a regular/],
  ];
  for (const [extra, message] of refused) {
    assert.throws(() => parseAdapterConfig({ ...base, ...extra }, "a.json"), (e: Error) => {
      assert.match(e.message, message);
      assert.ok(!e.message.includes("\n"), e.message);
      return true;
    });
  }
  // PEFT's unset values of those fields are accepted.
  const unset = { layer_replication: [], use_dora: false, lora_bias: false, rank_pattern: {} };
  assert.equal(parseAdapterConfig({ ...base, ...unset }, "a.json").r, 8);
});

Deno.test("parseAdapterConfig() reads PEFT 0.20's adapter_config.json and ignores later fields", async () => {
  // gen_peft_config.py wrote it with PEFT v0.20.0's own LoraConfig and save_pretrained steps.
  const fields = JSON.parse(await Deno.readTextFile(`${LORA}peft_adapter/adapter_config.json`));
  assert.equal(fields.peft_version, PEFT_FORMAT_VERSION);
  const config = parseAdapterConfig(
    { ...fields, some_field_of_a_later_release: { x: 1 }, init_lora_weights: "gaussian" },
    "adapter_config.json",
  );
  assert.deepEqual(
    { ...config },
    {
      r: 4,
      loraAlpha: 8,
      loraDropout: 0,
      targetModules: ["query", "value"],
      modulesToSave: ["classifier"],
      baseModelNameOrPath: "../base",
      taskType: null,
      useRslora: false,
      rankPattern: {},
      alphaPattern: {},
      excludeModules: null,
    },
  );
});

Deno.test("rank_pattern, alpha_pattern and use_rslora give each module PEFT's r and scaling", async () => {
  // PEFT v0.20.0's LoraConfig(rank_pattern={"layer.0.attention.attention.query": 2, "value": 3},
  // alpha_pattern={r"layer\.1\..*query": 6}, use_rslora=True, r=4, lora_alpha=8).to_dict().
  const config = parseAdapterConfig(
    await Deno.readTextFile(`${LORA}peft_patterns.json`),
    "peft_patterns.json",
  );
  const model = applyLora(new ViTForImageClassification(smallConfig()), config);
  const modules = new Map(model.namedModules());
  const branch = (name: string) => (modules.get(name) as Linear).adapter as LoraBranch;
  const at = (i: number, m: string) => `vit.encoder.layer.${i}.attention.attention.${m}`;
  // get_pattern_key: the first key matching the name's end after a dot; rsLoRA: alpha / √r.
  const expected: Array<[string, number, number]> = [
    [at(0, "query"), 2, 8 / Math.sqrt(2)],
    [at(0, "value"), 3, 8 / Math.sqrt(3)],
    [at(1, "query"), 4, 6 / Math.sqrt(4)],
    [at(1, "value"), 3, 8 / Math.sqrt(3)],
  ];
  for (const [name, r, scaling] of expected) {
    assert.equal(branch(name).loraA.weight.shape.join(), `${r},32`, name);
    assert.equal(branch(name).loraB.weight.shape.join(), `32,${r}`, name);
    assert.ok(Math.abs(branch(name).scaling - scaling) < 1e-12, name);
  }
  // The adapter saves with the patterns and loads back onto a fresh base with the same shapes.
  const dir = await testTempDir();
  removeOnUnload(dir);
  for (const [name] of expected) {
    const b = branch(name).loraB.weight;
    b.assign(Float32Array.from({ length: b.size }, (_, i) => ((i % 7) - 3) / 50));
  }
  await saveAdapter(model, dir);
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/adapter_config.json`));
  const peft = JSON.parse(await Deno.readTextFile(`${LORA}peft_patterns.json`));
  for (const k of ["rank_pattern", "alpha_pattern", "use_rslora", "r", "lora_alpha"]) {
    assert.deepEqual(saved[k], peft[k], k);
  }
  const back = await loadAdapter(new ViTForImageClassification(smallConfig()), dir);
  const ours = new Map(adapterParameters(model));
  for (const [key, t] of adapterParameters(back)) {
    assert.deepEqual(t.shape, ours.get(key)!.shape, key);
    assert.deepEqual(await t.toArray(), await ours.get(key)!.toArray(), key);
  }
  // Merging uses each module's own scaling: W + B·A·scaling, in float64 here.
  const base = new Map(model.namedParameters());
  const before = await base.get(`${at(1, "query")}.weight`)!.toArray();
  const [a, b] = await Promise.all([
    branch(at(1, "query")).loraA.weight.toArray(),
    branch(at(1, "query")).loraB.weight.toArray(),
  ]);
  await mergeAndUnload(model);
  const merged = await new Map(model.namedParameters()).get(`${at(1, "query")}.weight`)!.toArray();
  const want = new Float32Array(before.length);
  for (let o = 0; o < 32; o++) {
    for (let i = 0; i < 32; i++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += b[o * 4 + k] * a[k * 32 + i];
      want[o * 32 + i] = before[o * 32 + i] + s * 3;
    }
  }
  assertClose(merged, want, { atol: 1e-6, rtol: 0 }, "merged layer 1 query");
  model.dispose();
  back.dispose();
});

Deno.test("exclude_modules and modules_to_save keep modules out of LoRA, as PEFT", () => {
  const model = applyLora(new ViTForImageClassification(smallConfig()), {
    ...QV,
    excludeModules: ["layer.1.attention.attention.value"],
  });
  assert.deepEqual(loraState(model)!.targets, [
    "vit.encoder.layer.0.attention.attention.query",
    "vit.encoder.layer.0.attention.attention.value",
    "vit.encoder.layer.1.attention.attention.query",
  ]);
  model.dispose();
  // A regular expression over the whole name, as a string.
  const other = applyLora(new ViTForImageClassification(smallConfig()), {
    ...QV,
    excludeModules: ".*layer\\.0\\..*",
  });
  assert.deepEqual(loraState(other)!.targets.length, 2);
  assert.ok(loraState(other)!.targets.every((t) => t.includes("layer.1.")));
  other.dispose();
});

Deno.test("the trainable-parameter line is PEFT's, with its counts for PEFT's ViT-B", () => {
  const small = applyLora(new ViTForImageClassification(smallConfig()), QV);
  const base = small.numParameters() - 2 * 2 * (4 * 32 + 32 * 4);
  const trainable = 2 * 2 * (4 * 32 + 32 * 4) + 3 * 32 + 3;
  const all = base + 1024 + 99;
  assert.equal(
    trainableParametersLine(small),
    `trainable params: ${trainable.toLocaleString("en-US")} || all params: ${
      all.toLocaleString("en-US")
    } || trainable%: ${(100 * trainable / all).toFixed(4)}`,
  );
  small.dispose();
  // PEFT's image-classification example (ViT-B/16 in21k, food101's 101 classes, r 16 on query
  // and value, classifier saved) prints 667,493 trainable of 86,543,818.
  const vitB = applyLora(new ViTForImageClassification(vitBase16({ num_labels: 101 })), {
    ...QV,
    r: 16,
    loraAlpha: 16,
  });
  assert.equal(
    trainableParametersLine(vitB),
    "trainable params: 667,493 || all params: 86,543,818 || trainable%: 0.7713",
  );
  vitB.dispose();
});

Deno.test("a Tessera adapter merged into its base by PyTorch gives Tessera's logits", async () => {
  // tests/fixtures/train_lora_adapter.ts trained it (6 AdamW steps); gen_lora.py merged it.
  const merged = parseSafetensors(
    await Deno.readFile(`${LORA}tessera_merged.safetensors`),
    "tessera_merged.safetensors",
  );
  const model = await AutoModelForImageClassification.fromPretrained(
    `${LORA}tessera_adapter`,
    quiet,
  );
  // Training moved lora_B off its zero start, so the adapter changes the logits.
  const bs = adapterParameters(model).filter(([k]) => k.includes("lora_B"));
  for (const [k, t] of bs) assert.ok((await t.toArray()).some((v) => v !== 0), k);
  assertLogits(await logitsOf(model), merged.tensors.get("logits")!.data, "Tessera-adapter logits");
  model.dispose();
});
