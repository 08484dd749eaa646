import assert from "node:assert/strict";
import { makeConvNextConfig } from "./config.ts";
import { ConvNextForImageClassification, ConvNextModel } from "./modeling.ts";
import { AutoModelForImageClassification } from "../auto.ts";
import { AutoImageProcessor } from "../../data/auto_processor.ts";
import { ConvNextImageProcessor } from "../../data/convnext_processor.ts";
import { ConfigError } from "../../nn/config.ts";
import { exportOnnx } from "../../onnx/export.ts";
import { init } from "../../tensor/runtime.ts";
import { scope, Tensor } from "../../tensor/tensor.ts";
import { testTempDir } from "../../io/_test_util.ts";
import {
  compareGolden,
  FIXTURES,
  goldenLine,
  loadGoldenWeights,
  readGolden,
} from "../_test_util.ts";

await init();

/**
 * Golden tolerance, relative to each tensor's largest magnitude: five to ten times the worst
 * error the cases show (the test logs them).
 */
const GOLDEN_TOL = 1e-5;

const TINY = { num_stages: 2, hidden_sizes: [8, 16], depths: [1, 1], image_size: 32 };

Deno.test("ConvNeXt-Tiny has exactly HF's state-dict keys and shapes, in order", async () => {
  const expected = JSON.parse(
    await Deno.readTextFile(new URL("convnext_tiny_keys.json", FIXTURES)),
  ) as Record<string, [string, number[]][]>;
  // The backbone without filling 28M weights; the golden test checks the head's names.
  const model = new ConvNextModel(makeConvNextConfig());
  const backbone = model.namedParameters("convnext.").map(([n, t]) => [n, [...t.shape]]);
  const head = [["classifier.weight", [1000, 768]], ["classifier.bias", [1000]]];
  assert.deepEqual([...backbone, ...head], expected.ConvNextForImageClassification);
  model.dispose();
});

Deno.test("ConvNeXt logits, loss, gradients equal PyTorch's, layer scale on and off", async (t) => {
  const golden = await readGolden("convnext_golden.safetensors");
  const cases = golden.cases(".config");
  assert.deepEqual(cases, ["two_stages", "three_stages_scaled"]);
  for (const name of cases) {
    await t.step(name, async () => {
      const config = makeConvNextConfig(JSON.parse(golden.metadata[`${name}.config`]), name);
      const model = new ConvNextForImageClassification(config);
      loadGoldenWeights(model, golden, name);
      const px = golden.get(`${name}.pixels`);
      const pixels = Tensor.from(px.data, px.shape);
      const labels = [...golden.get(`${name}.labels`).data];
      const outputs = scope(() => {
        const out = model.forward(pixels, labels);
        out.loss!.backward();
        return [["logits", out.logits], ["loss", out.loss!]] as const;
      });
      const worst = await compareGolden(model, golden, name, outputs, GOLDEN_TOL);
      console.log(goldenLine(name, worst));
      pixels.dispose();
      model.dispose();
    });
  }
});

Deno.test("ConvNextModel gives HF's channels-first hidden state and pooled output", async () => {
  const model = new ConvNextModel(makeConvNextConfig(TINY));
  const x = Tensor.from(new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i)), [
    2,
    3,
    32,
    32,
  ]);
  const [hidden, pooled, features] = scope(() => {
    const out = model.forward(x);
    return [out.lastHiddenState, out.poolerOutput, model.features(x)[0]];
  });
  assert.deepEqual(hidden.shape, [2, 16, 4, 4]);
  assert.deepEqual(pooled.shape, [2, 16]);
  // Channels-first is the channels-last features transposed.
  const h = await hidden.toArray();
  const f = await features.toArray();
  for (const [b, c, y, xx] of [[0, 3, 1, 2], [1, 15, 3, 0]]) {
    assert.equal(h[((b * 16 + c) * 4 + y) * 4 + xx], f[((b * 4 + y) * 4 + xx) * 16 + c]);
  }
  for (const t of [x, hidden, pooled, features]) t.dispose();
  model.dispose();
});

Deno.test("a new ConvNeXt follows HF's _init_weights, layer scales included", async () => {
  const model = new ConvNextForImageClassification(
    makeConvNextConfig({ ...TINY, layer_scale_init_value: 0.25 }),
    3,
  );
  const layer = model.convnext.encoder.stages.items[1].layers.items[0];
  assert.ok((await layer.layerScaleParameter!.toArray()).every((v) => v === 0.25));
  assert.ok((await layer.layernorm.weight.toArray()).every((v) => v === 1));
  assert.ok((await layer.dwconv.bias.toArray()).every((v) => v === 0));
  const w = await layer.dwconv.weight.toArray();
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(std > 0.015 && std < 0.025, `dwconv weight std ${std} near initializer_range 0.02`);
  assert.ok((await model.convnext.layernorm.weight.toArray()).every((v) => v === 1));
  assert.equal(model.classifier.inFeatures, 16);
  model.dispose();
  const plain = new ConvNextModel(makeConvNextConfig({ ...TINY, layer_scale_init_value: 0 }));
  assert.ok(!plain.namedParameters().some(([n]) => n.includes("layer_scale")));
  plain.dispose();
});

Deno.test("makeConvNextConfig() names the file and the field it rejects", () => {
  const bad = (fields: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => makeConvNextConfig(fields, "cnx/config.json"),
      (e) =>
        e instanceof ConfigError && e.message.startsWith("cnx/config.json: ") &&
        pattern.test(e.message),
    );
  bad({ depths: [3, 3, 9] }, /depths must be 4 \(num_stages\) positive integers/);
  bad({ hidden_sizes: [96, 0, 384, 768] }, /hidden_sizes must be 4/);
  bad({ patch_size: 0 }, /patch_size must be a positive integer/);
  bad({ drop_path_rate: 1 }, /drop_path_rate must be below 1/);
  bad({ hidden_act: "swish" }, /hidden_act "swish" is not supported/);
  bad({ model_type: "vit" }, /model_type is "vit", not "convnext"/);
});

Deno.test("AutoModelForImageClassification loads convnext with its default processor", async () => {
  const dir = await testTempDir();
  try {
    const id2label = { "0": "a", "1": "b", "2": "c" };
    const saved = new ConvNextForImageClassification(makeConvNextConfig({ ...TINY, id2label }), 5);
    await saved.savePretrained(dir);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assert.equal(config.model_type, "convnext");
    assert.deepEqual(config.architectures, ["ConvNextForImageClassification"]);
    const logs: string[] = [];
    const loaded = await AutoModelForImageClassification.fromPretrained(dir, {
      log: (m) => logs.push(m),
    });
    assert.equal(logs.join("\n"), "");
    assert.ok(loaded instanceof ConvNextForImageClassification);
    const x = Tensor.from(new Float32Array(3 * 40 * 48).map((_, i) => Math.sin(i)), [
      1,
      3,
      40,
      48,
    ]);
    const a = await scope(() => saved.eval().forward(x).logits).toArray();
    const b = await scope(() => loaded.eval().forward(x).logits).toArray();
    assert.deepEqual([...b], [...a]);
    assert.equal(a.length, 3);
    const processor = AutoImageProcessor.defaultFor(loaded.config);
    assert.ok(processor instanceof ConvNextImageProcessor);
    assert.deepEqual(processor.outputSize, { height: 32, width: 32 });
    // Exported with no processor given, the folder carries ConvNeXt's default processor.
    const exported = await exportOnnx(loaded);
    const written = JSON.parse(
      new TextDecoder().decode(exported.files["preprocessor_config.json"]),
    );
    assert.equal(written.image_processor_type, "ConvNextImageProcessor");
    x.dispose();
    saved.dispose();
    loaded.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ConvNeXt's drop path drops whole samples in training, none in evaluation", async () => {
  const model = new ConvNextForImageClassification(
    makeConvNextConfig({ ...TINY, drop_path_rate: 0.5, layer_scale_init_value: 1 }),
    7,
  );
  const x = Tensor.from(new Float32Array(4 * 3 * 32 * 32).map((_, i) => Math.cos(i)), [
    4,
    3,
    32,
    32,
  ]);
  const evalA = await scope(() => model.eval().forward(x).logits).toArray();
  const evalB = await scope(() => model.eval().forward(x).logits).toArray();
  assert.deepEqual([...evalA], [...evalB]);
  let differs = false;
  for (let i = 0; i < 4 && !differs; i++) {
    const train = await scope(() => model.train().forward(x).logits).toArray();
    differs = train.some((v, j) => v !== evalA[j]);
  }
  assert.ok(differs, "training with drop_path_rate 0.5 changes the logits");
  x.dispose();
  model.dispose();
});
