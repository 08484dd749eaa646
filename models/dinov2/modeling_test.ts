import assert from "node:assert/strict";
import { dinov2MlpWidth, makeDinov2Config } from "./config.ts";
import { Dinov2ForImageClassification, Dinov2Model, silu } from "./modeling.ts";
import { AutoModelForImageClassification } from "../auto.ts";
import { ConfigError } from "../../nn/config.ts";
import { init } from "../../tensor/runtime.ts";
import { scope, Tensor } from "../../tensor/tensor.ts";
import { assertClose } from "../../tensor/_test_util.ts";
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
const GOLDEN_TOL = 2e-4;

const TINY = {
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  image_size: 28,
  patch_size: 14,
};

Deno.test(
  "DINOv2-B/14 has exactly Hugging Face's state-dict keys and shapes, in order",
  async () => {
    const expected = JSON.parse(
      await Deno.readTextFile(new URL("dinov2_base_keys.json", FIXTURES)),
    ) as Record<string, [string, number[]][]>;
    // The backbone without filling 86M weights; the golden test checks the head's names.
    const config = makeDinov2Config({ patch_size: 14, image_size: 518, layer_norm_eps: 1e-6 });
    const model = new Dinov2Model(config);
    const backbone = model.namedParameters("dinov2.").map(([n, t]) => [n, [...t.shape]]);
    const head = [["classifier.weight", [1000, 1536]], ["classifier.bias", [1000]]];
    assert.deepEqual([...backbone, ...head], expected.Dinov2ForImageClassification);
    model.dispose();

    const swiglu = new Dinov2Model(makeDinov2Config({ ...config, use_swiglu_ffn: true }));
    const layer = swiglu.encoder.layer.items[0].namedParameters().map((
      [n, t],
    ) => [n, [...t.shape]]);
    assert.deepEqual(layer, expected.swiglu_layer);
    swiglu.dispose();
  },
);

Deno.test("dinov2MlpWidth() rounds the SwiGLU width as Transformers' Dinov2SwiGLUFFN", () => {
  // dinov2-giant: hidden 1536, mlp_ratio 4 → int(6144 · 2/3) = 4096 → 4096.
  assert.equal(dinov2MlpWidth({ hidden_size: 1536, mlp_ratio: 4, use_swiglu_ffn: true }), 4096);
  // 40 · 4 = 160 → int(106.67) = 106 → (106 + 7) // 8 · 8 = 112.
  assert.equal(dinov2MlpWidth({ hidden_size: 40, mlp_ratio: 4, use_swiglu_ffn: true }), 112);
  assert.equal(dinov2MlpWidth({ hidden_size: 48, mlp_ratio: 2.5, use_swiglu_ffn: false }), 120);
});

Deno.test("DINOv2 logits, loss, gradients equal PyTorch's, SwiGLU and resized grids", async (t) => {
  const golden = await readGolden("dinov2_golden.safetensors");
  const cases = golden.cases(".config");
  assert.deepEqual(cases, ["mlp", "swiglu_interp", "mlp_interp_down"]);
  for (const name of cases) {
    await t.step(name, async () => {
      const config = makeDinov2Config(JSON.parse(golden.metadata[`${name}.config`]), name);
      const model = new Dinov2ForImageClassification(config);
      loadGoldenWeights(model, golden, name);
      const px = golden.get(`${name}.pixels`);
      const pixels = Tensor.from(px.data, px.shape);
      const labels = [...golden.get(`${name}.labels`).data];
      const outputs = scope(() => {
        const out = model.forward(pixels, labels);
        out.loss!.backward();
        return [["logits", out.logits], ["loss", out.loss!]] as const;
      });
      // mask_token is unused without masked positions.
      const worst = await compareGolden(
        model,
        golden,
        name,
        outputs,
        GOLDEN_TOL,
        (key) => key.endsWith("mask_token"),
      );
      console.log(goldenLine(name, worst));
      pixels.dispose();
      model.dispose();
    });
  }
});

Deno.test("silu() is x · sigmoid(x), without overflow at large |x|", async () => {
  const xs = new Float32Array([-100, -5, -1, 0, 0.5, 3, 100]);
  const got = await scope(() => silu(Tensor.from(xs, [xs.length]))).toArray();
  const want = xs.map((x) => x / (1 + Math.exp(-x)));
  assertClose(got, want, { atol: 1e-5, rtol: 1e-5 }, "silu");
});

Deno.test(
  "a new DINOv2 starts as HF's _init_weights: zero mask token, layer scales of layerscale_value",
  async () => {
    const model = new Dinov2ForImageClassification(
      makeDinov2Config({ ...TINY, layerscale_value: 0.25 }),
      3,
    );
    const e = model.dinov2.embeddings;
    assert.ok((await e.maskToken!.toArray()).every((v) => v === 0));
    assert.ok((await e.clsToken.toArray()).some((v) => v !== 0));
    const layer = model.dinov2.encoder.layer.items[0];
    assert.ok((await layer.layerScale1.lambda1.toArray()).every((v) => v === 0.25));
    assert.ok((await layer.norm2.weight.toArray()).every((v) => v === 1));
    assert.equal(model.classifier.inFeatures, 64);
    model.dispose();
  },
);

Deno.test("makeDinov2Config() names the file and the field it rejects", () => {
  const bad = (fields: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => makeDinov2Config(fields, "dino/config.json"),
      (e) =>
        e instanceof ConfigError && e.message.startsWith("dino/config.json: ") &&
        pattern.test(e.message),
    );
  bad({ mlp_ratio: "4" }, /mlp_ratio must be a non-negative number/);
  bad({ use_swiglu_ffn: 1 }, /use_swiglu_ffn must be true or false/);
  bad({ drop_path_rate: 1 }, /drop_path_rate must be below 1/);
  bad({ model_type: "vit" }, /model_type is "vit", not "dinov2"/);
  bad({ mlp_ratio: 0.001 }, /leaves the MLP with no width/);
});

Deno.test(
  "AutoModelForImageClassification loads a dinov2 folder, and it runs at other image sizes",
  async () => {
    const dir = await testTempDir();
    try {
      const id2label = { "0": "a", "1": "b", "2": "c" };
      const saved = new Dinov2ForImageClassification(
        makeDinov2Config({ ...TINY, use_swiglu_ffn: true, id2label }),
        5,
      );
      await saved.savePretrained(dir);
      const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      assert.equal(config.model_type, "dinov2");
      assert.deepEqual(config.architectures, ["Dinov2ForImageClassification"]);
      assert.equal(config.use_swiglu_ffn, true);
      const logs: string[] = [];
      const loaded = await AutoModelForImageClassification.fromPretrained(dir, {
        log: (m) => logs.push(m),
      });
      assert.equal(logs.join("\n"), "");
      assert.ok(loaded instanceof Dinov2ForImageClassification);
      const x = Tensor.from(new Float32Array(3 * 42 * 56).map((_, i) => Math.sin(i)), [
        1,
        3,
        42,
        56,
      ]);
      const a = await scope(() => saved.eval().forward(x).logits).toArray();
      const b = await scope(() => loaded.eval().forward(x).logits).toArray();
      assert.deepEqual([...b], [...a]);
      assert.equal(a.length, 3);
      x.dispose();
      saved.dispose();
      loaded.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("DINOv2's drop path drops whole samples in training, none in evaluation", async () => {
  const model = new Dinov2ForImageClassification(
    makeDinov2Config({ ...TINY, drop_path_rate: 0.5 }),
    7,
  );
  const x = Tensor.from(new Float32Array(4 * 3 * 28 * 28).map((_, i) => Math.cos(i)), [
    4,
    3,
    28,
    28,
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
