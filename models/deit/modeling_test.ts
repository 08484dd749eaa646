import assert from "node:assert/strict";
import { makeDeiTConfig } from "./config.ts";
import {
  DeiTForImageClassification,
  DeiTForImageClassificationWithTeacher,
  DeiTModel,
} from "./modeling.ts";
import { mul, sum } from "../../tensor/ops.ts";
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
const GOLDEN_TOL = 5e-4;

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

Deno.test("DeiT logits, loss and every gradient equal PyTorch's, for both classes", async (t) => {
  const golden = await readGolden("deit_golden.safetensors");
  const cases = golden.cases(".class");
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
      const config = makeDeiTConfig(JSON.parse(golden.metadata[`${name}.config`]), name);
      const interpolatePosEncoding = JSON.parse(golden.metadata[`${name}.interpolate`]) as boolean;
      const teacher = golden.metadata[`${name}.class`] === "DeiTForImageClassificationWithTeacher";
      const model = teacher
        ? new DeiTForImageClassificationWithTeacher(config)
        : new DeiTForImageClassification(config);
      loadGoldenWeights(model, golden, name);
      const px = golden.get(`${name}.pixels`);
      const pixels = Tensor.from(px.data, px.shape);
      const outputs = scope(() => {
        if (model instanceof DeiTForImageClassificationWithTeacher) {
          // HF's WithTeacher has no loss: the fixture backpropagates sum(logits · upstream).
          const up = golden.get(`${name}.upstream`);
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
        const labels = [...golden.get(`${name}.labels`).data];
        const out = model.forward(pixels, labels, { interpolatePosEncoding });
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
