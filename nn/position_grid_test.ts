/**
 * ViT position embeddings on non-square patch grids against Hugging Face's
 * interpolate_pos_encoding (tests/fixtures/gen_pos_grid.py, torch in f64 stored as f32): outputs
 * within atol 2e-5 + rtol 2e-4, embedding gradients within atol 1e-4 + rtol 1e-3. A model resized
 * once by atImageSize gives the logits that interpolating in every forward pass gives.
 */
import assert from "node:assert/strict";
import { atImageSize, interpolatePositions } from "./position_grid.ts";
import { parseSafetensors } from "./safetensors.ts";
import { makeDeiTConfig } from "../models/deit/config.ts";
import { DeiTForImageClassification } from "../models/deit/modeling.ts";
import { makeViTConfig } from "../models/vit/config.ts";
import { ViTForImageClassification } from "../models/vit/modeling.ts";
import { noGrad, scope, Tensor } from "../tensor/tensor.ts";
import { assertClose } from "../tensor/_test_util.ts";
import { init } from "../tensor/runtime.ts";

await init();

const FILE = new URL("../tests/fixtures/pos_grid.safetensors", import.meta.url);

Deno.test(
  "position embeddings resized to non-square grids match Hugging Face's, with gradients",
  async () => {
    const { tensors } = parseSafetensors(await Deno.readFile(FILE), FILE.pathname);
    const grids = [...tensors.keys()].filter((k) => k.endsWith(".out")).map((k) => k.slice(0, -4));
    if (grids.length < 4) {
      throw new Error("pos_grid.safetensors is incomplete: rerun its generator");
    }
    for (const grid of grids) {
      const [gh, gw] = grid.split("x").map(Number);
      const get = (part: string) => tensors.get(`${grid}.${part}`)!;
      const emb = Tensor.from(get("in0").data, get("in0").shape, { requiresGrad: true });
      const out = scope(() => {
        const y = interpolatePositions(emb, 1, gh, gw);
        y.backward(Tensor.from(get("gout").data, y.shape));
        return y;
      });
      assertClose(
        await out.toArray(),
        get("out").data,
        { atol: 2e-5, rtol: 2e-4 },
        `${grid} output`,
      );
      assertClose(
        await emb.grad!.toArray(),
        get("grad0").data,
        { atol: 1e-4, rtol: 1e-3 },
        `${grid} gradient`,
      );
      out.dispose();
      emb.grad!.dispose();
      emb.dispose();
    }
  },
);

Deno.test(
  "atImageSize resizes the position grid as interpolate_pos_encoding, keeping every other weight",
  async () => {
    const config = makeViTConfig({
      hidden_size: 16,
      num_attention_heads: 4,
      num_hidden_layers: 1,
      intermediate_size: 32,
      image_size: 24,
      patch_size: 6,
      num_labels: 3,
    });
    const random = new ViTForImageClassification(config, 5);
    // Position embeddings are zeros at initialisation; a smooth grid makes the resize visible.
    const pos = random.vit.embeddings.positionEmbeddings;
    pos.assign(new Float32Array(pos.size).map((_, i) => Math.sin(i / 7)));
    const model = await atImageSize(random, 24, { dtype: "F16" }); // the copy the saved file holds
    const bigger = await atImageSize(model, 36);
    assert.equal(bigger.config.image_size, 36);
    assert.deepEqual(bigger.vit.embeddings.positionEmbeddings.shape, [1, 1 + 6 * 6, 16]);
    const before = new Map(model.namedParameters());
    for (const [name, param] of bigger.namedParameters()) {
      if (name.endsWith("position_embeddings")) continue;
      assert.deepEqual(await param.toArray(), await before.get(name)!.toArray(), name);
    }
    const values = await random.vit.embeddings.positionEmbeddings.toArray();
    const rounded = await model.vit.embeddings.positionEmbeddings.toArray();
    for (let i = 0; i < values.length; i++) {
      assert.ok(Math.abs(values[i] - rounded[i]) <= 1e-3 * Math.abs(values[i]) + 1e-7, `F16 ${i}`);
    }
    const pixels = Tensor.from(new Float32Array(2 * 3 * 36 * 36).map((_, i) => Math.cos(i / 3)), [
      2,
      3,
      36,
      36,
    ]);
    const expected = await noGrad(() =>
      model.forward(pixels, undefined, { interpolatePosEncoding: true }).logits
    ).toArray();
    const got = await noGrad(() => bigger.forward(pixels).logits).toArray();
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - expected[i]) < 1e-5, `${i}`);
    await assert.rejects(
      () => atImageSize(model, 40),
      /not a positive multiple of the patch size 6/,
    );
    for (const m of [random, model, bigger]) m.dispose();
    pixels.dispose();
  },
);

Deno.test("atImageSize keeps DeiT's CLS and distillation rows, resizes only the grid", async () => {
  const config = makeDeiTConfig({
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 4,
    intermediate_size: 32,
    image_size: 24,
    patch_size: 6,
    num_labels: 3,
  });
  const model = new DeiTForImageClassification(config, 5);
  const pos = model.deit.embeddings.positionEmbeddings;
  pos.assign(new Float32Array(pos.size).map((_, i) => Math.sin(i / 5)));
  const bigger = await atImageSize(model, 30);
  assert.ok(bigger instanceof DeiTForImageClassification);
  const resized = await bigger.deit.embeddings.positionEmbeddings.toArray();
  assert.equal(resized.length, (2 + 5 * 5) * 16);
  assert.deepEqual(resized.slice(0, 2 * 16), (await pos.toArray()).slice(0, 2 * 16));
  const pixels = Tensor.from(
    new Float32Array(2 * 3 * 30 * 30).map((_, i) => Math.cos(i / 4)),
    [2, 3, 30, 30],
  );
  const expected = await noGrad(() =>
    model.forward(pixels, undefined, { interpolatePosEncoding: true }).logits
  ).toArray();
  const got = await noGrad(() => bigger.forward(pixels).logits).toArray();
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - expected[i]) < 1e-5, `${i}`);
  for (const m of [model, bigger]) m.dispose();
  pixels.dispose();
});
