import assert from "node:assert/strict";
import { makeViTConfig, vitBase16 } from "./config.ts";
import { ViTForImageClassification, ViTModel } from "./modeling.ts";
import { parseSafetensors, serializeSafetensors } from "../../nn/safetensors.ts";
import { scope, Tensor } from "../../tensor/tensor.ts";
import { assertClose } from "../../tensor/_test_util.ts";
import { CheckpointError } from "../../nn/checkpoint.ts";
import { testTempDir } from "../../io/_test_util.ts";
import { init } from "../../tensor/runtime.ts";

await init();

const FIXTURES = new URL("../../tests/fixtures/", import.meta.url);

Deno.test("ViT-B/16 has exactly Hugging Face's state-dict keys and shapes, in order", async () => {
  const expected = JSON.parse(
    await Deno.readTextFile(new URL("vit_base_keys.json", FIXTURES)),
  ) as [string, number[]][];
  // Build the tree without filling 86M weights: the keys and shapes are what matter here.
  const model = new ViTModel(vitBase16({ num_labels: 3 }), false);
  const names = [
    ...model.namedParameters("vit."),
    ["classifier.weight", { shape: [3, 768] }],
    ["classifier.bias", { shape: [3] }],
  ] as [string, { shape: readonly number[] }][];
  assert.deepEqual(names.map(([n, t]) => [n, [...t.shape]]), expected);
  model.dispose();
});

function maxAbs(values: Float32Array): number {
  return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/**
 * Tolerance of the golden ViT test: every element of logits, loss and each parameter's
 * gradient within 1e-5 of PyTorch's (float64), relative to the largest magnitude of that tensor.
 */
function assertRelative(actual: Float32Array, expected: Float32Array, label: string): void {
  const scale = maxAbs(expected) || 1;
  assertClose(actual, expected, { atol: 1e-5 * scale, rtol: 0 }, label);
}

/**
 * The key bias's gradient is zero in exact arithmetic (softmax ignores a shift of a query's
 * scores), so both sides hold only rounding noise: it is held to 5e-8 of the model's largest
 * gradient element.
 */
const KEY_BIAS = /attention\.attention\.key\.bias$/;

Deno.test("logits, loss and every gradient equal PyTorch's on small and odd configs", async (t) => {
  const file = new URL("vit_golden.safetensors", FIXTURES);
  const { tensors, metadata } = parseSafetensors(await Deno.readFile(file), file.pathname);
  for (const name of ["small", "odd", "interp"]) {
    await t.step(name, async () => {
      const fields = JSON.parse(metadata[`${name}.config`]);
      const interpolate = JSON.parse(metadata[`${name}.interpolate`]) as boolean;
      const model = new ViTForImageClassification(makeViTConfig(fields, name));
      for (const [key, param] of model.namedParameters()) {
        const entry = tensors.get(`${name}.param.${key}`);
        assert.ok(entry, `fixture has ${key}`);
        assert.deepEqual(entry.shape, [...param.shape], key);
        param.assign(entry.data);
      }
      const px = tensors.get(`${name}.pixels`)!;
      const labels = [...tensors.get(`${name}.labels`)!.data];
      const { logits, loss } = scope(() => {
        const out = model.forward(Tensor.from(px.data, px.shape), labels, {
          interpolatePosEncoding: interpolate,
        });
        out.loss!.backward();
        return out;
      });
      assertRelative(await logits.toArray(), tensors.get(`${name}.logits`)!.data, "logits");
      assertRelative(await loss!.toArray(), tensors.get(`${name}.loss`)!.data, "loss");
      const expectedGrads = model.namedParameters().map(([key]) =>
        tensors.get(`${name}.grad.${key}`)!.data
      );
      const largest = Math.max(...expectedGrads.map(maxAbs));
      for (const [i, [key, param]] of model.namedParameters().entries()) {
        assert.ok(param.grad, `${key} has .grad`);
        const grad = await param.grad.toArray();
        if (KEY_BIAS.test(key)) {
          assertClose(grad, expectedGrads[i], { atol: 5e-8 * largest, rtol: 0 }, key);
        } else assertRelative(grad, expectedGrads[i], key);
      }
      logits.dispose();
      loss!.dispose();
      model.dispose();
    });
  }
});

const TINY = {
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 48,
  image_size: 32,
  patch_size: 16,
};

Deno.test("savePretrained() then fromPretrained() gives identical logits", async () => {
  const dir = await testTempDir();
  try {
    const id2label = { "0": "angular_leaf_spot", "1": "bean_rust", "2": "healthy" };
    const model = new ViTForImageClassification(makeViTConfig({ ...TINY, id2label }), 7);
    await model.savePretrained(dir);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assert.deepEqual(config.architectures, ["ViTForImageClassification"]);
    assert.deepEqual(config.label2id, { angular_leaf_spot: 0, bean_rust: 1, healthy: 2 });
    assert.equal(config.model_type, "vit");
    const saved = parseSafetensors(await Deno.readFile(`${dir}/model.safetensors`), "saved");
    assert.equal(saved.metadata.format, "pt");
    assert.deepEqual([...saved.tensors.keys()], model.namedParameters().map(([n]) => n));
    const logs: string[] = [];
    const loaded = await ViTForImageClassification.fromPretrained(dir, {
      log: (m) => logs.push(m),
    });
    assert.deepEqual(logs, []);
    const x = Tensor.from(new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i)), [
      2,
      3,
      32,
      32,
    ]);
    const a = await scope(() => model.eval().forward(x).logits).toArray();
    const b = await scope(() => loaded.eval().forward(x).logits).toArray();
    assert.deepEqual([...b], [...a]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "a prefix-less checkpoint with a pooler and no head loads into numLabels: 3",
  async () => {
    const dir = await testTempDir();
    try {
      const base = new ViTModel(makeViTConfig(TINY), true);
      const entries = [];
      for (const [name, t] of base.namedParameters()) {
        const data = new Float32Array(t.size).map((_, i) => Math.cos(i + name.length));
        entries.push([name, { shape: t.shape, data }] as const);
      }
      await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(entries));
      await Deno.writeTextFile(
        `${dir}/config.json`,
        JSON.stringify({ ...TINY, architectures: ["ViTModel"], model_type: "vit" }),
      );
      const logs: string[] = [];
      const model = await ViTForImageClassification.fromPretrained(dir, {
        numLabels: 3,
        log: (m) => logs.push(m),
      });
      assert.equal(model.numLabels, 3);
      assert.deepEqual(model.classifier.weight.shape, [3, 32]);
      const cls = await model.vit.embeddings.clsToken.toArray();
      assertClose(cls, entries[0][1].data, { atol: 0, rtol: 0 }, "cls_token loaded without prefix");
      assert.match(logs.join("\n"), /not used when initializing.*pooler\.dense\.weight/s);
      assert.match(
        logs.join("\n"),
        /newly initialized: \["classifier\.weight","classifier\.bias"\]/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "a checkpoint whose shapes contradict its config is refused, naming the file",
  async () => {
    const dir = await testTempDir();
    try {
      const model = new ViTForImageClassification(makeViTConfig(TINY));
      await model.savePretrained(dir);
      await Deno.writeTextFile(
        `${dir}/config.json`,
        JSON.stringify({ ...TINY, intermediate_size: 64, model_type: "vit" }),
      );
      await assert.rejects(
        () => ViTForImageClassification.fromPretrained(dir, { log: () => {} }),
        (e: unknown) =>
          e instanceof CheckpointError && e.message.startsWith(`${dir}/model.safetensors: `) &&
          /intermediate\.dense\.weight' has shape \[48,32\] but the config gives \[64,32\]/.test(
            e.message,
          ),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
