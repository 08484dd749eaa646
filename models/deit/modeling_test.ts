import assert from "node:assert/strict";
import { makeDeiTConfig } from "./config.ts";
import {
  DeiTForImageClassification,
  DeiTForImageClassificationWithTeacher,
  DeiTModel,
} from "./modeling.ts";
import { parseSafetensors, type SafetensorsEntry } from "../../nn/safetensors.ts";
import { mul, sum } from "../../tensor/ops.ts";
import { init } from "../../tensor/runtime.ts";
import { scope, Tensor } from "../../tensor/tensor.ts";
import { assertClose } from "../../tensor/_test_util.ts";
import { testTempDir } from "../../io/_test_util.ts";

await init();

const FIXTURES = new URL("../../tests/fixtures/", import.meta.url);

Deno.test(
  "DeiT-B/16 has exactly Hugging Face's state-dict keys and shapes, in order, for both heads",
  async () => {
    const expected = JSON.parse(
      await Deno.readTextFile(new URL("deit_base_keys.json", FIXTURES)),
    ) as Record<string, [string, number[]][]>;
    // Build the backbone without filling 86M weights and name the heads as each class does (the
    // golden test below checks the classes' own names on small configs).
    const model = new DeiTModel(makeDeiTConfig({ num_labels: 1000 }), false);
    const backbone = model.namedParameters("deit.").map(([n, t]) => [n, [...t.shape]]);
    const head = (name: string) => [[`${name}.weight`, [1000, 768]], [`${name}.bias`, [1000]]];
    assert.deepEqual([...backbone, ...head("classifier")], expected.DeiTForImageClassification);
    assert.deepEqual(
      [...backbone, ...head("cls_classifier"), ...head("distillation_classifier")],
      expected.DeiTForImageClassificationWithTeacher,
    );
    assert.deepEqual(backbone.slice(0, 3), [
      ["deit.embeddings.cls_token", [1, 1, 768]],
      ["deit.embeddings.distillation_token", [1, 1, 768]],
      ["deit.embeddings.position_embeddings", [1, 14 * 14 + 2, 768]],
    ]);
    model.dispose();
  },
);

function maxAbs(values: Float32Array): number {
  return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/**
 * The golden ViT test's tolerance: every element within 1e-3 of PyTorch's, relative to the
 * largest magnitude of that tensor, with gradient scales floored at 1e-4 of the model's largest
 * gradient (a gradient that is zero in exact arithmetic, as the key bias's, is rounding noise).
 */
function assertRelative(
  actual: Float32Array,
  expected: Float32Array,
  label: string,
  floor = 0,
): void {
  const scale = Math.max(maxAbs(expected), floor) || 1;
  assertClose(actual, expected, { atol: 1e-3 * scale, rtol: 0 }, label);
}

Deno.test("DeiT logits, loss and every gradient equal PyTorch's, for both classes", async (t) => {
  const file = new URL("deit_golden.safetensors", FIXTURES);
  const { tensors, metadata } = parseSafetensors(await Deno.readFile(file), file.pathname);
  const get = (key: string): SafetensorsEntry => {
    const entry = tensors.get(key);
    assert.ok(entry, `fixture has ${key}`);
    return entry;
  };
  const cases = Object.keys(metadata).filter((k) => k.endsWith(".class")).map((k) =>
    k.slice(0, -".class".length)
  );
  assert.deepEqual(cases, [
    "cls_small",
    "cls_odd",
    "cls_interp",
    "teacher_small",
    "teacher_odd",
    "teacher_interp",
  ]);
  for (const name of cases) {
    await t.step(name, async () => {
      const config = makeDeiTConfig(JSON.parse(metadata[`${name}.config`]), name);
      const interpolatePosEncoding = JSON.parse(metadata[`${name}.interpolate`]) as boolean;
      const teacher = metadata[`${name}.class`] === "DeiTForImageClassificationWithTeacher";
      const model = teacher
        ? new DeiTForImageClassificationWithTeacher(config)
        : new DeiTForImageClassification(config);
      const prefix = `${name}.param.`;
      const fixtureNames = [...tensors.keys()].filter((k) => k.startsWith(prefix)).map((k) =>
        k.slice(prefix.length)
      );
      assert.deepEqual(model.namedParameters().map(([k]) => k), fixtureNames, "HF's names");
      for (const [key, param] of model.namedParameters()) {
        const entry = get(`${prefix}${key}`);
        assert.deepEqual(entry.shape, [...param.shape], key);
        param.assign(entry.data);
      }
      const px = get(`${name}.pixels`);
      const pixels = Tensor.from(px.data, px.shape);
      const outputs = scope(() => {
        if (model instanceof DeiTForImageClassificationWithTeacher) {
          // HF's WithTeacher has no loss: the fixture backpropagates sum(logits · upstream).
          const up = get(`${name}.upstream`);
          const out = model.forward(pixels, undefined, { interpolatePosEncoding });
          const loss = sum(mul(out.logits, Tensor.from(up.data, up.shape)));
          loss.backward();
          return [
            ["logits", out.logits],
            ["cls_logits", out.clsLogits],
            ["distillation_logits", out.distillationLogits],
            ["loss", loss],
          ] as const;
        }
        const labels = [...get(`${name}.labels`).data];
        const out = model.forward(pixels, labels, { interpolatePosEncoding });
        out.loss!.backward();
        return [["logits", out.logits], ["loss", out.loss!]] as const;
      });
      for (const [what, value] of outputs) {
        assertRelative(await value.toArray(), get(`${name}.${what}`).data, what);
        value.dispose();
      }
      const expectedGrads = model.namedParameters().map(([key]) => get(`${name}.grad.${key}`).data);
      const floor = 1e-4 * Math.max(...expectedGrads.map(maxAbs));
      for (const [i, [key, param]] of model.namedParameters().entries()) {
        assert.ok(param.grad, `${key} has .grad`);
        assertRelative(await param.grad.toArray(), expectedGrads[i], key, floor);
      }
      pixels.dispose();
      model.dispose();
    });
  }
});

const TINY = {
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 48,
  image_size: 32,
  patch_size: 16,
};

Deno.test("DeiTForImageClassificationWithTeacher refuses labels, as it has no loss", () => {
  const model = new DeiTForImageClassificationWithTeacher(makeDeiTConfig(TINY));
  assert.throws(
    () => model.forward(Tensor.zeros([1, 3, 32, 32]), [0]),
    /computes no loss .*fine-tune the checkpoint with DeiTForImageClassification/,
  );
  model.dispose();
});

Deno.test(
  "a new DeiT starts with zero tokens and position embeddings, as HF's _init_weights",
  async () => {
    const model = new DeiTForImageClassification(makeDeiTConfig(TINY), 3);
    const e = model.deit.embeddings;
    for (const p of [e.clsToken, e.distillationToken, e.positionEmbeddings]) {
      assert.ok((await p.toArray()).every((v) => v === 0));
    }
    assert.ok((await e.patchEmbeddings.projection.weight.toArray()).some((v) => v !== 0));
    model.dispose();
  },
);

Deno.test(
  "a distilled checkpoint loads as DeiTForImageClassification: fresh head, HF's messages",
  async () => {
    const dir = await testTempDir();
    try {
      const id2label = { "0": "a", "1": "b", "2": "c" };
      const distilled = new DeiTForImageClassificationWithTeacher(
        makeDeiTConfig({ ...TINY, id2label }),
        5,
      );
      await distilled.savePretrained(dir);
      const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      assert.equal(config.model_type, "deit");
      assert.deepEqual(config.architectures, ["DeiTForImageClassificationWithTeacher"]);
      assert.equal(config.encoder_stride, 16);

      const logs: string[] = [];
      const again = await DeiTForImageClassificationWithTeacher.fromPretrained(dir, {
        log: (m) => logs.push(m),
      });
      assert.equal(logs.join("\n"), "");
      const x = Tensor.from(new Float32Array(3 * 32 * 32).map((_, i) => Math.sin(i)), [
        1,
        3,
        32,
        32,
      ]);
      const a = await scope(() => distilled.eval().forward(x).logits).toArray();
      const b = await scope(() => again.eval().forward(x).logits).toArray();
      assert.deepEqual([...b], [...a]);

      const student = await DeiTForImageClassification.fromPretrained(dir, {
        numLabels: 2,
        log: (m) => logs.push(m),
      });
      assert.equal(student.numLabels, 2);
      const text = logs.join("\n");
      assert.match(text, /not used when initializing DeiTForImageClassification: .*cls_classifier/);
      assert.match(
        text,
        new RegExp(
          "DeiTForImageClassification were not initialized .*newly initialized: " +
            String.raw`\["classifier\.weight","classifier\.bias"\]`,
        ),
      );
      assertClose(
        await student.deit.embeddings.patchEmbeddings.projection.weight.toArray(),
        await distilled.deit.embeddings.patchEmbeddings.projection.weight.toArray(),
        { atol: 0, rtol: 0 },
        "backbone loaded",
      );
      for (const m of [distilled, again, student]) m.dispose();
      x.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
