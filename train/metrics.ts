/**
 * Classification metrics: accuracy, per-class precision, recall and F1, and the confusion
 * matrix (rows are true classes, columns predictions).
 *
 * @module
 */

/** Metrics of one evaluation. */
export interface ClassificationReport {
  /** Fraction correct. */
  accuracy: number;
  /** Per class, by index. */
  precision: number[];
  /** Per class, by index. */
  recall: number[];
  /** Per class, by index. */
  f1: number[];
  /** Unweighted mean of the per-class F1 scores. */
  macroF1: number;
  /** counts[true][predicted]. */
  confusionMatrix: number[][];
}

/** The index of the largest value in each row of a [N, C] array. */
export function argmaxRows(logits: Float32Array, classes: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < logits.length / classes; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    }
    out.push(best);
  }
  return out;
}

/**
 * Compares predictions with labels.
 *
 * @param predictions Predicted class per example.
 * @param labels True class per example.
 * @param classes Number of classes.
 * @returns The report.
 * @example
 * ```ts
 * import { classificationReport } from "./metrics.ts";
 * console.log(classificationReport([0, 1, 1], [0, 1, 0], 2).accuracy); // 0.6666666666666666
 * ```
 */
export function classificationReport(
  predictions: readonly number[],
  labels: readonly number[],
  classes: number,
): ClassificationReport {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  predictions.forEach((p, i) => {
    m[labels[i]][p]++;
    if (p === labels[i]) correct++;
  });
  const precision: number[] = [];
  const recall: number[] = [];
  const f1: number[] = [];
  for (let c = 0; c < classes; c++) {
    const tp = m[c][c];
    const predicted = m.reduce((s, row) => s + row[c], 0);
    const actual = m[c].reduce((s, v) => s + v, 0);
    const p = predicted ? tp / predicted : 0;
    const r = actual ? tp / actual : 0;
    precision.push(p);
    recall.push(r);
    f1.push(p + r ? (2 * p * r) / (p + r) : 0);
  }
  return {
    accuracy: predictions.length ? correct / predictions.length : 0,
    precision,
    recall,
    f1,
    macroF1: f1.reduce((s, v) => s + v, 0) / Math.max(1, classes),
    confusionMatrix: m,
  };
}
