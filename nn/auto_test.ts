import assert from "node:assert/strict";
import { ModelRegistry } from "./auto.ts";
import { ConfigError } from "./config.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { makeDeiTConfig } from "../models/deit/config.ts";
import {
  DeiTForImageClassification,
  DeiTForImageClassificationWithTeacher,
} from "../models/deit/modeling.ts";
import { MODEL_REGISTRY } from "../models/auto.ts";
import { init } from "../tensor/runtime.ts";

await init();

const TINY = {
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 48,
  image_size: 32,
  patch_size: 16,
};

const VIT = {
  modelType: "vit",
  makeConfig: makeViTConfig,
  imageClassification: [ViTForImageClassification],
};
const DEIT = {
  modelType: "deit",
  makeConfig: makeDeiTConfig,
  imageClassification: [DeiTForImageClassification, DeiTForImageClassificationWithTeacher],
};

Deno.test("a ModelRegistry knows only the families it was given, in their order", () => {
  const registry = new ModelRegistry([DEIT]);
  assert.deepEqual(registry.modelTypes, ["deit"]);
  assert.throws(
    () => registry.makeConfig({ ...TINY, model_type: "vit" }, "m/config.json"),
    (e) =>
      e instanceof ConfigError &&
      e.message === 'm/config.json: model_type "vit" is not one of "deit"',
  );
  registry.add(VIT);
  assert.deepEqual(registry.modelTypes, ["deit", "vit"]);
  assert.equal(registry.makeConfig({ ...TINY, model_type: "vit" }).model_type, "vit");
});

Deno.test("a ModelRegistry picks the class architectures names, else the family's first", () => {
  const registry = new ModelRegistry([VIT, DEIT]);
  const pick = (fields: Record<string, unknown>) =>
    registry.imageClassifierClass({ ...TINY, ...fields });
  assert.equal(pick({ model_type: "deit" }), DeiTForImageClassification);
  assert.equal(
    pick({ model_type: "deit", architectures: ["DeiTForImageClassificationWithTeacher"] }),
    DeiTForImageClassificationWithTeacher,
  );
  assert.equal(
    pick({ model_type: "deit", architectures: ["Unknown"] }),
    DeiTForImageClassification,
  );
  assert.equal(pick({ model_type: "vit" }), ViTForImageClassification);
});

Deno.test("registering on one ModelRegistry leaves the Auto classes' registry as it was", () => {
  const registry = new ModelRegistry([VIT]);
  registry.registerImageClassification("vit", [DeiTForImageClassification]);
  registry.registerConfig("deit", makeDeiTConfig);
  assert.equal(registry.imageClassifierClass({ model_type: "vit" }), DeiTForImageClassification);
  assert.deepEqual(MODEL_REGISTRY.modelTypes, ["vit", "deit", "dinov2", "convnext"]);
  assert.equal(
    MODEL_REGISTRY.imageClassifierClass({ model_type: "vit" }),
    ViTForImageClassification,
  );
});
