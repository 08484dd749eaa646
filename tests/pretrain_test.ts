import assert from "node:assert/strict";
import { DEFAULT_PRETRAIN, modelCard, parseRange, pretrain } from "../cli/pretrain.ts";
import { contourCategory, renderContourScene } from "../data/contours.ts";
import { fractalCategory, renderFractal, renderFractalScene } from "../data/fractal.ts";
import { parseSafetensors } from "../nn/safetensors.ts";
import { init } from "../tensor/runtime.ts";

await init();

Deno.test("fractal categories and instances are deterministic and fill the frame", () => {
  const a = fractalCategory(0, 5);
  const b = fractalCategory(0, 5);
  assert.deepEqual(a, b);
  assert.notDeepEqual(fractalCategory(0, 6).maps, a.maps);
  const img = renderFractal(a, 42, 64);
  assert.deepEqual(img.data, renderFractal(a, 42, 64).data);
  assert.notDeepEqual(img.data, renderFractal(a, 43, 64).data);
  const bg = img.data.slice(0, 3);
  let differs = 0;
  for (let i = 0; i < 64 * 64; i++) {
    if (Math.abs(img.data[3 * i] - bg[0]) + Math.abs(img.data[3 * i + 1] - bg[1]) > 60) differs++;
  }
  assert.ok(differs > 64 * 64 * 0.02, `the fractal covers part of the frame (${differs} px)`);
});

Deno.test("fractal scenes are deterministic and scatter several instances over a texture", () => {
  const cat = fractalCategory(0, 5);
  const one = renderFractalScene(cat, 9, 64, { instances: [1, 1], scale: [0.3, 0.3] });
  const many = renderFractalScene(cat, 9, 64, { instances: [6, 6], scale: [0.3, 0.3] });
  assert.deepEqual(
    one.data,
    renderFractalScene(cat, 9, 64, { instances: [1, 1], scale: [0.3, 0.3] }).data,
  );
  assert.notDeepEqual(
    one.data,
    renderFractalScene(cat, 10, 64, { instances: [1, 1], scale: [0.3, 0.3] }).data,
  );
  // The background is a texture, not a flat colour.
  const bg = renderFractalScene(cat, 9, 64, { instances: [0, 0] });
  const values = new Set<number>();
  for (let i = 0; i < 64 * 64; i++) values.add(bg.data[3 * i]);
  assert.ok(values.size > 10, `textured background (${values.size} levels of red)`);
  // Pixels that differ from the bare background: more instances cover more of the image.
  const covered = (img: { data: Uint8Array }) => {
    let n = 0;
    for (let i = 0; i < img.data.length; i++) if (img.data[i] !== bg.data[i]) n++;
    return n;
  };
  assert.ok(covered(one) > 0, "one instance is drawn");
  assert.ok(covered(many) > 2 * covered(one), `${covered(many)} vs ${covered(one)} channels`);
});

/** Pretrains twice with the same options; each run's first weights, its loss checked finite. */
async function twoRuns(options: Parameters<typeof pretrain>[0]): Promise<Float32Array[]> {
  const runs = [];
  for (let r = 0; r < 2; r++) {
    const { model, figures } = await pretrain(options, () => {});
    runs.push(await model.vit.embeddings.patchEmbeddings.projection.weight.toArray());
    assert.ok(Number.isFinite(figures.loss));
    model.dispose();
  }
  return runs;
}

Deno.test("a shortened pretraining run is deterministic and its recipe matches the bundled model", async () => {
  const options = {
    ...DEFAULT_PRETRAIN,
    categories: 4,
    steps: 3,
    batchSize: 4,
    logEvery: 3,
    config: { ...DEFAULT_PRETRAIN.config, num_hidden_layers: 1, image_size: 32 },
  };
  const runs = await twoRuns(options);
  assert.deepEqual(runs[0], runs[1], "same seed, same weights");
  const bundled = new URL("../models/vit-tiny-fractal/", import.meta.url);
  const config = JSON.parse(await Deno.readTextFile(new URL("config.json", bundled)));
  for (const [k, v] of Object.entries(DEFAULT_PRETRAIN.config)) assert.equal(config[k], v, k);
  assert.equal(Object.keys(config.id2label).length, DEFAULT_PRETRAIN.categories);
  const weights = parseSafetensors(
    await Deno.readFile(new URL("model.safetensors", bundled)),
    "bundled",
  );
  assert.ok([...weights.tensors.values()].every((t) => t.dtype === "F16"));
  const card = await Deno.readTextFile(new URL("README.md", bundled));
  const expected = modelCard(DEFAULT_PRETRAIN, {
    loss: 0,
    trainAccuracy: 0,
    heldOutAccuracy: 0,
    seconds: 0,
  }, "x");
  const recipe = (text: string) =>
    text.split("\n").filter((l) => /categories|steps of|lr |Model:/.test(l));
  assert.deepEqual(recipe(card), recipe(expected), "the model card states the default recipe");
});

Deno.test("pretrain's MIN,MAX flags parse ordered pairs and refuse anything else", () => {
  assert.deepEqual(parseRange("1,3", "--instances", true), [1, 3]);
  assert.deepEqual(parseRange(" 0.15 , 0.5 ", "--scale", false), [0.15, 0.5]);
  assert.deepEqual(parseRange("0,0", "--instances", true), [0, 0]);
  for (const bad of ["3,1", "1", "1,2,3", "1.5,2", "a,b", "-1,2"]) {
    assert.throws(() => parseRange(bad, "--instances", true), /--instances takes MIN,MAX/, bad);
  }
  for (const bad of ["0,0.5", "0.5,1.2", "0.6,0.5"]) {
    assert.throws(() => parseRange(bad, "--scale", false), /--scale takes MIN,MAX/, bad);
  }
});

Deno.test("contour categories and scenes are deterministic and draw marks over a texture", () => {
  const a = contourCategory(0, 4);
  assert.deepEqual(a, contourCategory(0, 4));
  assert.notDeepEqual(contourCategory(1, 4), a);
  const styles = new Set(Array.from({ length: 6 }, (_, i) => contourCategory(0, i).style));
  assert.deepEqual([...styles].sort(), ["filled", "halo", "outline"]);
  for (let i = 0; i < 8; i++) {
    const cat = contourCategory(0, i);
    assert.ok(cat.vertices >= 3 && cat.vertices <= 12 && cat.jitter < 0.5, `category ${i}`);
  }
  const img = renderContourScene(a, 9, 64);
  assert.deepEqual(img.data, renderContourScene(a, 9, 64).data);
  assert.notDeepEqual(img.data, renderContourScene(a, 10, 64).data);
  // The marks carry the category's hue: some pixels are close to a saturated colour of that hue,
  // which the smooth two-colour background rarely produces in quantity.
  const big = { ...a, style: "filled" as const, instances: [4, 4] as [number, number] };
  const scene = renderContourScene({ ...big, scale: [0.3, 0.3] }, 3, 64);
  const bare = renderContourScene({ ...big, instances: [0, 0] }, 3, 64);
  let changed = 0;
  for (let i = 0; i < 64 * 64; i++) {
    if (scene.data.subarray(3 * i, 3 * i + 3).some((v, c) => v !== bare.data[3 * i + c])) changed++;
  }
  assert.ok(changed > 64 * 64 * 0.05, `four marks of 30 % of the side cover ${changed} px`);
});

Deno.test("a mixed fractal and contour pretraining run is deterministic", async () => {
  const options = {
    ...DEFAULT_PRETRAIN,
    layout: "mixed" as const,
    categories: 4,
    steps: 2,
    batchSize: 4,
    logEvery: 2,
    config: { ...DEFAULT_PRETRAIN.config, num_hidden_layers: 1, image_size: 32 },
  };
  const runs = await twoRuns(options);
  assert.deepEqual(runs[0], runs[1]);
});
