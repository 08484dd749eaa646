import assert from "node:assert/strict";
import {
  colourTarget,
  DEFAULT_PRETRAIN,
  labelGroups,
  pretrain,
  type PretrainOptions,
} from "./pretrain.ts";
import { modelCard, reproduceCommand } from "./model_card.ts";
import { parseDensities, parseRange } from "../cli/pretrain.ts";
import {
  CONTOUR_DENSITIES,
  contourCategory,
  type ContourDensityName,
  MARK_ATTRIBUTES,
  renderAttributeScene,
  renderContourScene,
} from "./contours.ts";
import { fractalCategory, renderFractal, renderFractalScene } from "./fractal.ts";
import { parseSafetensors } from "../nn/safetensors.ts";
import { init } from "../tensor/runtime.ts";
import { noGrad, Tensor } from "../tensor/tensor.ts";

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

/** The default recipe shrunk to a test's size: 2 steps of 4 images, one layer, 24 px. */
function tinyRecipe(overrides: Partial<PretrainOptions>): PretrainOptions {
  return {
    ...DEFAULT_PRETRAIN,
    categories: 4,
    steps: 2,
    batchSize: 4,
    logEvery: 2,
    config: { ...DEFAULT_PRETRAIN.config, num_hidden_layers: 1, image_size: 24 },
    ...overrides,
  };
}

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

Deno.test(
  "a shortened pretraining run is deterministic and its recipe matches the bundled model",
  async () => {
    const options = {
      ...DEFAULT_PRETRAIN,
      categories: 4,
      steps: 3,
      batchSize: 4,
      logEvery: 3,
      config: { ...DEFAULT_PRETRAIN.config, num_hidden_layers: 1, image_size: 24 },
    };
    const runs = await twoRuns(options);
    assert.deepEqual(runs[0], runs[1], "same seed, same weights");
    const bundled = new URL("../models/vit-tiny-contours/", import.meta.url);
    const config = JSON.parse(await Deno.readTextFile(new URL("config.json", bundled)));
    const saved = { ...DEFAULT_PRETRAIN.config, image_size: DEFAULT_PRETRAIN.saveImageSize };
    for (const [k, v] of Object.entries(saved)) assert.equal(config[k], v, k);
    const preprocessor = JSON.parse(
      await Deno.readTextFile(new URL("preprocessor_config.json", bundled)),
    );
    assert.equal(preprocessor.size.height, DEFAULT_PRETRAIN.saveImageSize);
    assert.deepEqual(Object.values(config.id2label), labelGroups(DEFAULT_PRETRAIN).flat());
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
      text.split("\n").filter((l) => /categories|steps of|lr |Model:|Saved at/.test(l));
    assert.deepEqual(recipe(card), recipe(expected), "the model card states the default recipe");
  },
);

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

Deno.test("contour categories draw their density from the list they are given", () => {
  const drawn = (densities: ContourDensityName[]) =>
    new Set(
      Array.from({ length: 32 }, (_, i) => contourCategory(0, i, { densities }).instances[0]),
    );
  assert.deepEqual([...drawn(["small", "large"])].sort((a, b) => a - b), [1, 6]);
  assert.deepEqual([...drawn(["tiny"])], [CONTOUR_DENSITIES.tiny.instances[0]]);
  assert.equal(drawn(["small", "large", "tiny"]).size, 3);
  // Tiny marks are many and small: a scene of them changes fewer pixels than one of large marks.
  const cat = { ...contourCategory(0, 0), style: "filled" as const };
  const bare = renderContourScene({ ...cat, instances: [0, 0] }, 5, 96);
  const covered = (density: keyof typeof CONTOUR_DENSITIES) => {
    const { instances, scale } = CONTOUR_DENSITIES[density];
    const img = renderContourScene(
      { ...cat, instances: [...instances], scale: [...scale] },
      5,
      96,
    );
    return img.data.filter((v, i) => v !== bare.data[i]).length;
  };
  assert.ok(covered("tiny") > 0 && covered("tiny") < covered("large"));
  // Fewer hues than categories: categories i and i + hues share a hue.
  assert.equal(contourCategory(0, 9, { hues: 8 }).hue, contourCategory(0, 1, { hues: 8 }).hue);
  assert.notEqual(contourCategory(0, 9).hue, contourCategory(0, 1).hue);
  // Tones: each category a narrow lightness and saturation band of its own, the rest unchanged.
  const plain = contourCategory(0, 3);
  const toned = contourCategory(0, 3, { tones: true });
  assert.deepEqual({ ...toned, light: undefined, saturation: undefined }, {
    ...plain,
    light: undefined,
    saturation: undefined,
  });
  assert.equal(plain.light, undefined);
  const [l0, l1] = toned.light!;
  assert.ok(l0 >= 0.08 && l1 <= 0.8 && Math.abs(l1 - l0 - 0.12) < 1e-9, `${toned.light}`);
  const bands = Array.from(
    { length: 8 },
    (_, i) => contourCategory(0, i, { tones: true }).light![0],
  );
  assert.ok(new Set(bands).size === 8, "categories draw their own lightness");
  assert.deepEqual(parseDensities("small,large,tiny"), ["small", "large", "tiny"]);
  for (const bad of ["small,small", "huge", ""]) {
    assert.throws(() => parseDensities(bad), /--densities takes distinct names/, bad);
  }
});

Deno.test("a mixed fractal and contour pretraining run is deterministic", async () => {
  const options = tinyRecipe({ layout: "mixed" });
  const runs = await twoRuns(options);
  assert.deepEqual(runs[0], runs[1]);
});

Deno.test(
  "attribute scenes label every attribute and draw nothing when the density is none",
  () => {
    const names = Object.keys(MARK_ATTRIBUTES);
    let empty = 0;
    for (let seed = 0; seed < 24; seed++) {
      const { image, labels } = renderAttributeScene(seed, 48);
      assert.deepEqual(renderAttributeScene(seed, 48).image.data, image.data, "deterministic");
      assert.equal(labels.length, names.length);
      labels.forEach((label, i) => {
        const values = MARK_ATTRIBUTES[names[i] as keyof typeof MARK_ATTRIBUTES];
        assert.ok(label === -100 || (label >= 0 && label < values.length), `${names[i]} ${label}`);
      });
      if (labels[0] === 0) {
        empty++;
        assert.ok(labels.slice(1).every((l) => l === -100), "no marks, nothing else to score");
      } else {
        assert.ok(labels.every((l) => l >= 0));
      }
    }
    assert.ok(empty > 0 && empty < 24, `${empty} of 24 scenes empty`);
  },
);

Deno.test(
  "an attribute pretraining run with the colour objective is deterministic and names every label",
  async () => {
    const options = tinyRecipe({ layout: "attributes", colourWeight: 1 });
    const runs = await twoRuns(options);
    assert.deepEqual(runs[0], runs[1]);
    const { model, figures } = await pretrain(options, () => {});
    const labels = Object.values(model.config.id2label);
    model.dispose();
    assert.equal(labels.length, Object.values(MARK_ATTRIBUTES).flat().length + 512);
    assert.ok(labels.includes("density=none") && labels.includes("tone=dark"));
    assert.equal(labels.at(-1), "colour=224,224,224");
    assert.ok(figures.heldOutAccuracy >= 0 && figures.heldOutAccuracy <= 1);
  },
);

Deno.test(
  "--feature-scale scales the final LayerNorm and leaves the pretrained logits as they were",
  async () => {
    const options = tinyRecipe({});
    const plain = await pretrain({ ...options, featureScale: 1 }, () => {});
    const scaled = await pretrain({ ...options, featureScale: 8 }, () => {});
    const [g1, g8] = await Promise.all(
      [plain, scaled].map((r) => r.model.vit.layernorm.weight.toArray()),
    );
    assert.deepEqual(g8, g1.map((v) => v * 8));
    const [w1, w8] = await Promise.all(
      [plain, scaled].map((r) => r.model.classifier.weight.toArray()),
    );
    assert.deepEqual(w8, w1.map((v) => v / 8));
    // A power of two scales exactly, so the held-out predictions are the same ones.
    assert.equal(scaled.figures.heldOutAccuracy, plain.figures.heldOutAccuracy);
    const pixels = Tensor.from(new Float32Array(2 * 3 * 24 * 24).map((_, i) => Math.sin(i)), [
      2,
      3,
      24,
      24,
    ]);
    const [l1, l8] = await Promise.all(
      [plain, scaled].map((r) => noGrad(() => r.model.forward(pixels).logits).toArray()),
    );
    for (let i = 0; i < l1.length; i++) assert.ok(Math.abs(l1[i] - l8[i]) < 1e-4, `logit ${i}`);
    plain.model.dispose();
    scaled.model.dispose();
  },
);

Deno.test(
  "deno task pretrain refuses a save size off the patch grid before it trains",
  async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read=.",
        "--allow-env=LP_NATIVE_VECTOR_WIDTH",
        "--allow-run=grep",
        "--allow-write=.cache/test",
        new URL("../cli/pretrain.ts", import.meta.url).pathname,
        "--save-image-size",
        "100",
        "--out",
        ".cache/test/pretrain-refused",
      ],
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, /--save-image-size 100 is not a multiple of the patch size 12/);
    assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
    await assert.rejects(() => Deno.stat(".cache/test/pretrain-refused"), Deno.errors.NotFound);
  },
);

Deno.test("the colour target is a square-rooted histogram that still weighs a few pixels", () => {
  const data = new Uint8Array(100 * 3);
  data.fill(10); // 99 dark pixels…
  data.set([250, 250, 0], 99 * 3); // …and one yellow one
  const t = colourTarget(data);
  assert.equal(t.length, 512);
  assert.ok(Math.abs(t.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  // sqrt(99) : sqrt(1), not 99 : 1.
  assert.ok(Math.abs(t[0] - Math.sqrt(99) / (Math.sqrt(99) + 1)) < 1e-6, `${t[0]}`);
  assert.ok(Math.abs(t[7 * 64 + 7 * 8 + 0] - 1 / (Math.sqrt(99) + 1)) < 1e-6);
});

Deno.test("the model card's command reproduces the recipe, with only the flags that differ", () => {
  assert.equal(reproduceCommand(DEFAULT_PRETRAIN), "deno task pretrain");
  assert.equal(
    reproduceCommand({
      ...DEFAULT_PRETRAIN,
      layout: "attributes",
      steps: 200,
      config: { ...DEFAULT_PRETRAIN.config, image_size: 128, patch_size: 16 },
    }),
    "deno task pretrain --layout attributes --steps 200 --image-size 128 --patch-size 16",
  );
  assert.equal(
    reproduceCommand({ ...DEFAULT_PRETRAIN, tones: true, saveImageSize: 96 }),
    "deno task pretrain --tones --save-image-size 96",
  );
  assert.match(
    reproduceCommand({
      ...DEFAULT_PRETRAIN,
      config: { ...DEFAULT_PRETRAIN.config, hidden_size: 192 },
    }),
    /--config CONFIG.json \(.*"hidden_size":192/,
  );
});
