import assert from "node:assert/strict";
import { AutoConfig, AutoModelForImageClassification } from "./auto.ts";
import { ConfigError } from "../nn/config.ts";
import { makeDeiTConfig } from "./deit/config.ts";
import {
  DeiTForImageClassification,
  DeiTForImageClassificationWithTeacher,
} from "./deit/modeling.ts";
import { makeViTConfig } from "./vit/config.ts";
import { ViTForImageClassification } from "./vit/modeling.ts";
import { init } from "../tensor/runtime.ts";
import { testTempDir } from "../io/_test_util.ts";

await init();

const TINY = {
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 48,
  image_size: 32,
  patch_size: 16,
};

/** A ConfigError whose one-line message starts with `file: ` and matches `pattern`. */
function configErrorNaming(file: string, pattern: RegExp): (e: unknown) => boolean {
  return (e) =>
    e instanceof ConfigError && e.message.startsWith(`${file}: `) && !e.message.includes("\n") &&
    pattern.test(e.message);
}

Deno.test(
  "AutoModelForImageClassification builds the class that model_type and architectures name",
  async () => {
    const dir = await testTempDir();
    try {
      const cases = [
        [new ViTForImageClassification(makeViTConfig(TINY)), ViTForImageClassification],
        [new DeiTForImageClassification(makeDeiTConfig(TINY)), DeiTForImageClassification],
        [
          new DeiTForImageClassificationWithTeacher(makeDeiTConfig(TINY)),
          DeiTForImageClassificationWithTeacher,
        ],
      ] as const;
      for (const [i, [saved, cls]] of cases.entries()) {
        await saved.savePretrained(`${dir}/${i}`);
        const logs: string[] = [];
        const loaded = await AutoModelForImageClassification.fromPretrained(`${dir}/${i}`, {
          log: (m) => logs.push(m),
        });
        assert.ok(loaded instanceof cls, `${cls.architecture} from a folder`);
        assert.equal(logs.join("\n"), "");
        const files = await saved.toPretrainedFiles();
        const fromBytes = await AutoModelForImageClassification.fromPretrained(files, {
          log: (m) => logs.push(m),
        });
        assert.ok(fromBytes instanceof cls, `${cls.architecture} from bytes`);
        for (const m of [saved, loaded, fromBytes]) m.dispose();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "a DeiT config.json without architectures loads as DeiTForImageClassification with new labels",
  async () => {
    const saved = new DeiTForImageClassificationWithTeacher(makeDeiTConfig(TINY));
    const { config, weights } = await saved.toPretrainedFiles();
    const fields = JSON.parse(config);
    delete fields.architectures;
    const logs: string[] = [];
    const model = await AutoModelForImageClassification.fromPretrained(
      { config: fields, weights, source: "hub/deit-tiny" },
      { id2label: { "0": "cat", "1": "dog", "2": "bird" }, log: (m) => logs.push(m) },
    );
    assert.ok(model instanceof DeiTForImageClassification);
    assert.equal(model.numLabels, 3);
    assert.deepEqual(model.config.label2id, { cat: 0, dog: 1, bird: 2 });
    assert.match(logs.join("\n"), /checkpoint at hub\/deit-tiny were not used/);
    saved.dispose();
    model.dispose();
  },
);

Deno.test("an unknown or missing model_type is a one-line error naming config.json", async () => {
  const dir = await testTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/config.json`,
      JSON.stringify({ ...TINY, model_type: "swin" }),
    );
    await assert.rejects(
      () => AutoModelForImageClassification.fromPretrained(dir),
      configErrorNaming(
        `${dir}/config.json`,
        /model_type "swin" is not one of "vit", "deit", "dinov2", "convnext"$/,
      ),
    );
    await assert.rejects(
      () => AutoConfig.fromPretrained(dir),
      configErrorNaming(`${dir}/config.json`, /model_type "swin" is not one of/),
    );
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(TINY));
    await assert.rejects(
      () => AutoModelForImageClassification.fromPretrained(dir),
      configErrorNaming(
        `${dir}/config.json`,
        /has no model_type; Tessera knows "vit", "deit", "dinov2", "convnext"$/,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a class refuses another model type's config.json, naming the file", async () => {
  const saved = new DeiTForImageClassification(makeDeiTConfig(TINY));
  const files = { ...await saved.toPretrainedFiles(), source: "deit-folder" };
  await assert.rejects(
    () => ViTForImageClassification.fromPretrained(files),
    configErrorNaming("deit-folder/config.json", /model_type is "deit", not "vit"/),
  );
  assert.throws(
    () => makeDeiTConfig({ ...TINY, encoder_stride: 0 }, "x/config.json"),
    configErrorNaming("x/config.json", /encoder_stride must be a positive integer, got 0/),
  );
  saved.dispose();
});

Deno.test("AutoConfig builds each model type's config with its defaults", () => {
  const deit = AutoConfig.fromDict({ model_type: "deit", ...TINY, num_labels: 4 });
  assert.equal(deit.model_type, "deit");
  assert.equal(deit.encoder_stride, 16);
  assert.equal(Object.keys(deit.id2label).length, 4);
  const vit = AutoConfig.fromDict({ model_type: "vit", ...TINY });
  assert.equal(vit.model_type, "vit");
  assert.equal(vit.encoder_stride, undefined);
  assert.deepEqual(AutoConfig.modelTypes, ["vit", "deit", "dinov2", "convnext"]);
  const dino = AutoConfig.fromDict({ model_type: "dinov2", ...TINY, mlp_ratio: 2 });
  assert.equal(dino.model_type, "dinov2");
  assert.equal(dino.layerscale_value, 1);
  assert.equal(dino.intermediate_size, 64);
  const model = AutoModelForImageClassification.fromConfig(deit, 1);
  assert.ok(model instanceof DeiTForImageClassification);
  model.dispose();
});
