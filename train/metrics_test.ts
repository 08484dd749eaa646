import assert from "node:assert/strict";
import { argmaxRows, classificationReport } from "./metrics.ts";

Deno.test(
  "classificationReport() gives accuracy, per-class precision, " +
    "recall, F1 and the confusion matrix",
  () => {
    // Labels 0 0 0 1 1 2, predicted 0 1 0 1 2 2; class 3 never occurs nor is predicted.
    const r = classificationReport([0, 1, 0, 1, 2, 2], [0, 0, 0, 1, 1, 2], 4);
    assert.deepEqual(r.confusionMatrix, [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]);
    assert.equal(r.accuracy, 4 / 6);
    assert.deepEqual(r.precision, [1, 0.5, 0.5, 0]);
    assert.deepEqual(r.recall, [2 / 3, 0.5, 1, 0]);
    const f1 = [0.8, 0.5, 2 / 3, 0];
    r.f1.forEach((v, i) => assert.ok(Math.abs(v - f1[i]) < 1e-12, `f1[${i}] = ${v}`));
    // sklearn's f1_score(average="macro", labels=range(4), zero_division=0).
    assert.ok(Math.abs(r.macroF1 - (0.8 + 0.5 + 2 / 3) / 4) < 1e-12);
  },
);

Deno.test("classificationReport() of no examples is all zeros, not NaN", () => {
  const r = classificationReport([], [], 2);
  assert.equal(r.accuracy, 0);
  assert.deepEqual([r.precision, r.recall, r.f1, r.macroF1], [[0, 0], [0, 0], [0, 0], 0]);
});

Deno.test("argmaxRows() takes the first of equal maxima, as torch.argmax does", () => {
  const logits = Float32Array.from([1, 3, 3, 0, -1, -2, -5, -4, -4.5]);
  assert.deepEqual(argmaxRows(logits, 3), [1, 0, 1]);
});
