import assert from "node:assert/strict";
import { confusionChart, lineChart, writePlots } from "./plots.ts";
import type { RgbImage } from "../data/image.ts";
import { decodePng } from "../data/png.ts";
import type { TrainerState } from "./state.ts";
import { removeOnUnload, testTempDir } from "../io/_test_util.ts";

const pixel = (
  img: RgbImage,
  x: number,
  y: number,
) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

Deno.test("lineChart() draws each series from its first point to its last, scaled to fit", () => {
  const red: [number, number, number] = [200, 60, 40];
  const img = lineChart("loss", [{ name: "train", color: red, points: [[0, 1], [10, 0]] }]);
  assert.deepEqual([img.width, img.height], [640, 400]);
  // Plot area x 60..620, y 40..360; the y range is [0, 1] widened by 5 % each side.
  const py = (y: number) => Math.round(360 - ((y + 0.05) / 1.1) * 320);
  assert.deepEqual(pixel(img, 60, py(1)), red, "first point");
  assert.deepEqual(pixel(img, 620, py(0)), red, "last point");
  assert.deepEqual(pixel(img, 340, py(0.5)), red, "the midpoint of the line");
  assert.deepEqual(pixel(img, 340, py(0.9)), [255, 255, 255], "background off the line");
});

Deno.test("lineChart() copes with a flat series, a single point and non-finite values", () => {
  const blue: [number, number, number] = [40, 90, 200];
  const flat = lineChart("flat", [{ name: "a", color: blue, points: [[0, 2], [5, 2]] }]);
  // A flat line sits in the middle of a range widened to [1, 3].
  assert.deepEqual(pixel(flat, 300, 200), blue);
  const one = lineChart("one", [{ name: "a", color: blue, points: [[3, 0.5], [4, NaN]] }]);
  assert.equal(one.data.length, 640 * 400 * 3);
});

Deno.test("confusionChart() shades the largest count darkest", () => {
  const img = confusionChart([[5, 1], [0, 3]], ["cat", "dog"]);
  assert.deepEqual([img.width, img.height], [150 + 2 * 90 + 20, 60 + 2 * 90 + 40]);
  // Near the top-left corner of each cell, clear of the count text.
  const cell = (r: number, c: number) => pixel(img, 150 + c * 90 + 5, 60 + r * 90 + 5);
  assert.deepEqual(cell(0, 0), [55, 135, 225], "count 5 of 5");
  assert.deepEqual(cell(1, 0), [255, 255, 255], "count 0");
  assert.deepEqual(cell(1, 1), [255 - 120, 255 - 72, 255 - 18], "count 3 of 5");
});

Deno.test("writePlots() writes the curves and the confusion matrix as PNGs", async () => {
  const dir = await testTempDir();
  removeOnUnload(dir);
  const state = {
    log_history: [
      { step: 1, loss: 2.0 },
      { step: 2, loss: 1.5 },
      { step: 2, eval_loss: 1.6, eval_accuracy: 0.5 },
      { step: 4, loss: 1.0 },
      { step: 4, eval_loss: 1.2, eval_accuracy: 0.75 },
    ],
  } as unknown as TrainerState;
  const written = await writePlots(dir, state, [[3, 1], [0, 4]], ["a", "b"]);
  assert.deepEqual(written, ["training_curves.png", "eval_curves.png", "confusion_matrix.png"]);
  for (const name of written) {
    const img = decodePng(await Deno.readFile(`${dir}/${name}`), name, 1e7);
    assert.ok(img.width > 100 && img.height > 100, name);
  }
  const none = await writePlots(dir, { log_history: [] } as unknown as TrainerState, null, []);
  assert.deepEqual(none, []);
});
