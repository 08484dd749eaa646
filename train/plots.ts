/**
 * PNG plots of a run: training loss, evaluation loss and accuracy by step, and the confusion
 * matrix, drawn with the built-in bitmap font.
 *
 * @module
 */

import { drawText } from "../data/font.ts";
import type { RgbImage } from "../data/image.ts";
import { encodePng } from "../data/png.ts";
import { joinPath, writeAtomic } from "../io/files.ts";
import type { TrainerState } from "./state.ts";

type Color = [number, number, number];

function canvas(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(255) };
}

function plot(img: RgbImage, x: number, y: number, c: Color): void {
  x = Math.round(x);
  y = Math.round(y);
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const i = (y * img.width + x) * 3;
  img.data.set(c, i);
}

function line(img: RgbImage, x0: number, y0: number, x1: number, y1: number, c: Color): void {
  const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  for (let k = 0; k <= n; k++) {
    const x = x0 + ((x1 - x0) * k) / n;
    const y = y0 + ((y1 - y0) * k) / n;
    plot(img, x, y, c);
    plot(img, x + 1, y, c);
  }
}

/**
 * A line chart of series over steps.
 *
 * @param title Title text.
 * @param series Name, colour and points of each line.
 * @returns The image.
 */
export function lineChart(
  title: string,
  series: { name: string; color: Color; points: [number, number][] }[],
): RgbImage {
  const W = 640;
  const H = 400;
  const m = { left: 60, right: 20, top: 40, bottom: 40 };
  const img = canvas(W, H);
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(1, ...xs);
  // Fit the data with a 5 % margin, so that a slowly falling loss is still visible.
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  let y0 = lo - 0.05 * (hi - lo);
  let y1 = hi + 0.05 * (hi - lo);
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const grey: Color = [200, 200, 200];
  for (let k = 0; k <= 4; k++) {
    const y = y0 + ((y1 - y0) * k) / 4;
    line(img, m.left, py(y), W - m.right, py(y), grey);
    drawText(
      img,
      y.toFixed(y1 - y0 < 0.2 ? 3 : y1 - y0 < 2 ? 2 : 1),
      4,
      py(y) - 4,
      [60, 60, 60],
      1,
    );
  }
  line(img, m.left, H - m.bottom, W - m.right, H - m.bottom, [0, 0, 0]);
  line(img, m.left, m.top, m.left, H - m.bottom, [0, 0, 0]);
  drawText(img, `step ${x0} - ${x1}`, W / 2 - 40, H - m.bottom + 12, [60, 60, 60], 1);
  drawText(img, title, m.left, 12, [0, 0, 0], 2);
  series.forEach((s, k) => {
    drawText(img, s.name, W - m.right - 150, m.top + 4 + k * 12, s.color, 1);
    for (let i = 1; i < s.points.length; i++) {
      const [a, b] = [s.points[i - 1], s.points[i]];
      line(img, px(a[0]), py(a[1]), px(b[0]), py(b[1]), s.color);
    }
    if (s.points.length === 1) plot(img, px(s.points[0][0]), py(s.points[0][1]), s.color);
  });
  return img;
}

/**
 * A confusion-matrix heat map with counts.
 *
 * @param matrix counts[true][predicted].
 * @param names Class names.
 * @returns The image.
 */
export function confusionChart(matrix: number[][], names: readonly string[]): RgbImage {
  const n = matrix.length;
  const cell = 90;
  const left = 150;
  const top = 60;
  const img = canvas(left + n * cell + 20, top + n * cell + 40);
  const max = Math.max(1, ...matrix.flat());
  drawText(img, "confusion matrix (rows: true, columns: predicted)", 8, 8, [0, 0, 0], 1);
  for (let r = 0; r < n; r++) {
    drawText(img, names[r].slice(0, 24), 4, top + r * cell + cell / 2 - 4, [0, 0, 0], 1);
    drawText(img, names[r].slice(0, 14), left + r * cell + 2, top - 14, [0, 0, 0], 1);
    for (let c = 0; c < n; c++) {
      const t = matrix[r][c] / max;
      const color: Color = [255 - 200 * t, 255 - 120 * t, 255 - 30 * t];
      for (let y = 1; y < cell - 1; y++) {
        for (let x = 1; x < cell - 1; x++) {
          plot(img, left + c * cell + x, top + r * cell + y, color);
        }
      }
      drawText(
        img,
        String(matrix[r][c]),
        left + c * cell + cell / 2 - 8,
        top + r * cell + cell / 2 - 6,
        t > 0.5 ? [255, 255, 255] : [0, 0, 0],
        2,
      );
    }
  }
  return img;
}

/**
 * Writes training_curves.png, eval_curves.png and (when given) confusion_matrix.png.
 *
 * @param dir The output folder.
 * @param state The trainer state (its log_history).
 * @param confusion The last evaluation's confusion matrix.
 * @param names Class names.
 * @returns The files written.
 */
export async function writePlots(
  dir: string,
  state: TrainerState,
  confusion: number[][] | null,
  names: readonly string[],
): Promise<string[]> {
  const written: string[] = [];
  const logs = state.log_history;
  const trainLoss = logs.filter((e) => "loss" in e).map((e) =>
    [e.step, e.loss] as [number, number]
  );
  const evalLoss = logs.filter((e) => "eval_loss" in e).map((e) =>
    [e.step, e.eval_loss] as [number, number]
  );
  const evalAcc = logs.filter((e) => "eval_accuracy" in e).map((e) =>
    [e.step, e.eval_accuracy] as [number, number]
  );
  const save = async (name: string, img: RgbImage) => {
    await writeAtomic(joinPath(dir, name), encodePng(img));
    written.push(name);
  };
  if (trainLoss.length > 0) {
    await save(
      "training_curves.png",
      lineChart("training loss", [
        { name: "train/loss", color: [200, 60, 40], points: trainLoss },
        { name: "eval/loss", color: [40, 90, 200], points: evalLoss },
      ]),
    );
  }
  if (evalAcc.length > 0) {
    await save(
      "eval_curves.png",
      lineChart("evaluation accuracy", [{
        name: "eval/accuracy",
        color: [30, 140, 60],
        points: evalAcc,
      }]),
    );
  }
  if (confusion) await save("confusion_matrix.png", confusionChart(confusion, names));
  return written;
}
