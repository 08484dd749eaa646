/**
 * The page's charts as inline SVG text: line charts of (step, value) series with their own
 * axes, and the confusion matrix as a shaded grid. Plain strings, so that they need no DOM and
 * no chart library, and scale with the page.
 *
 * @module
 */

/** One line of a chart. */
export interface Series {
  /** Its name in the legend. */
  name: string;
  /** (x, y) points in x order. */
  points: [number, number][];
  /** A CSS colour. */
  color: string;
  /** Draw each point as a dot as well (for sparse series such as evaluations). */
  dots?: boolean;
  /** Plot against a second y axis on the right. */
  right?: boolean;
}

/** Escapes text for SVG and HTML. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A short label for an axis value. */
function tick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toExponential(0).replace("e+", "e");
  return String(Number(v.toPrecision(2)));
}

/** Up to `n` round values spanning [lo, hi]. */
function ticks(lo: number, hi: number, n = 4): number[] {
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

/** The range of values, widened when flat and padded a little. */
function extent(values: number[], zero: boolean): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (zero) lo = Math.min(0, lo);
  if (hi - lo < 1e-12) [lo, hi] = [lo - (Math.abs(lo) || 1) * 0.1, hi + (Math.abs(hi) || 1) * 0.1];
  return [lo, hi + (hi - lo) * 0.05];
}

/**
 * A line chart.
 *
 * @param title The chart's accessible title.
 * @param series The lines (those with `right` use the right-hand axis).
 * @param options Size, the x axis label, whether y starts at zero, and ranges the axes cover
 * at least (`xRange`: say, step 0 to the last step; `yRange`: the left axis, say [0, 1] for
 * an accuracy), so that a single point sits inside a sensible frame.
 * @returns SVG text.
 * @example
 * ```ts
 * import { lineChart } from "./charts.ts";
 * const svg = lineChart("loss", [{ name: "loss", points: [[1, 1.1], [2, 0.9]], color: "#36c" }]);
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function lineChart(
  title: string,
  series: Series[],
  options: {
    width?: number;
    height?: number;
    xLabel?: string;
    zero?: boolean;
    xRange?: [number, number];
    yRange?: [number, number];
  } = {},
): string {
  const width = options.width ?? 420;
  const height = options.height ?? 220;
  const pad = { left: 44, right: 48, top: 24, bottom: 32 };
  const all = series.flatMap((s) => s.points);
  const head = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" ` +
    `role="img" aria-label="${escapeXml(title)}"><title>${escapeXml(title)}</title>`;
  if (all.length === 0) {
    return `${head}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" ` +
      `class="empty">no data yet</text></svg>`;
  }
  const [x0, x1] = extent([...all.map((p) => p[0]), ...options.xRange ?? []], false);
  const left = series.filter((s) => !s.right).flatMap((s) => s.points.map((p) => p[1]));
  const right = series.filter((s) => s.right).flatMap((s) => s.points.map((p) => p[1]));
  const yl = left.length
    ? extent([...left, ...options.yRange ?? []], options.zero ?? false)
    : [0, 1];
  const yr = right.length ? extent(right, true) : [0, 1];
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const sx = (x: number) => pad.left + ((x - x0) / (x1 - x0)) * w;
  const sy = (y: number, r = false) => {
    const [lo, hi] = r ? yr : yl;
    return pad.top + h - ((y - lo) / (hi - lo)) * h;
  };
  const parts = [head, `<g class="grid">`];
  for (const v of ticks(yl[0], yl[1])) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${pad.left}" x2="${pad.left + w}" y1="${y}" y2="${y}"/>`);
    if (left.length) {
      parts.push(
        `<text x="${pad.left - 6}" y="${y}" text-anchor="end" dy="0.3em">${tick(v)}</text>`,
      );
    }
  }
  if (right.length) {
    for (const v of ticks(yr[0], yr[1])) {
      parts.push(
        `<text x="${pad.left + w + 6}" y="${sy(v, true).toFixed(1)}" dy="0.3em">${tick(v)}</text>`,
      );
    }
  }
  for (const v of ticks(x0, x1, 5)) {
    const x = sx(v).toFixed(1);
    parts.push(`<text x="${x}" y="${pad.top + h + 16}" text-anchor="middle">${tick(v)}</text>`);
  }
  parts.push(
    `<text x="${pad.left + w / 2}" y="${height - 2}" text-anchor="middle" class="axis">` +
      `${escapeXml(options.xLabel ?? "step")}</text></g>`,
  );
  let legendX = pad.left + 4;
  const dots: string[] = [];
  series.forEach((s) => {
    if (s.points.length === 0) return;
    const d = s.points.map((p, j) =>
      `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1], s.right).toFixed(1)}`
    ).join("");
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" ` +
        `stroke-linejoin="round" class="series"/>`,
    );
    if (s.dots || s.points.length === 1) {
      // Right-axis dots are rings, left-axis dots solid and drawn last: two series on their
      // own axes can land on the same spot (an accuracy of 1 and the highest loss do).
      const style = s.right
        ? `r="4.5" fill="none" stroke="${s.color}" stroke-width="2"`
        : `r="3" fill="${s.color}"`;
      const circles = s.points.map((p) =>
        `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1], s.right).toFixed(1)}" ${style} ` +
        `class="dot"/>`
      );
      if (s.right) dots.unshift(...circles);
      else dots.push(...circles);
    }
    const lx = legendX;
    const label = `${s.name}${s.right ? " (right)" : ""}`;
    legendX += 26 + 6 * label.length;
    parts.push(
      `<rect x="${lx}" y="6" width="10" height="10" rx="2" fill="${s.color}"/>` +
        `<text x="${lx + 14}" y="15" class="legend">${escapeXml(label)}</text>`,
    );
  });
  parts.push(...dots);
  parts.push("</svg>");
  return parts.join("");
}

/**
 * A confusion matrix: true classes as rows, predictions as columns, cells shaded by the share
 * of their row.
 *
 * @param labels Class names.
 * @param matrix Counts, [true][predicted].
 * @param title The accessible title.
 * @returns SVG text.
 * @example
 * ```ts
 * import { confusionMatrixChart } from "./charts.ts";
 * const svg = confusionMatrixChart(["a", "b"], [[3, 1], [0, 4]], "step 10");
 * console.log(svg.includes(">3<")); // true
 * ```
 */
export function confusionMatrixChart(labels: string[], matrix: number[][], title: string): string {
  const n = labels.length;
  const cell = Math.max(28, Math.min(64, Math.floor(320 / Math.max(1, n))));
  const labelWidth = Math.min(140, 12 + 7 * Math.max(...labels.map((l) => l.length)));
  const size = labelWidth + n * cell;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size + 8} ${size + 24}" role="img" ` +
    `aria-label="${escapeXml(title)}"><title>${escapeXml(title)}</title>`,
    `<text x="${
      labelWidth + (n * cell) / 2
    }" y="12" text-anchor="middle" class="axis">predicted</text>`,
  ];
  const short = (l: string) => (l.length > 18 ? `${l.slice(0, 17)}…` : l);
  labels.forEach((l, j) => {
    const x = labelWidth + j * cell + cell / 2;
    const y = 24 + n * cell + 4;
    parts.push(
      `<text x="${x}" y="${y}" text-anchor="end" transform="rotate(-40 ${x} ${y})" ` +
        `class="tick">${escapeXml(short(l))}</text>`,
    );
  });
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    parts.push(
      `<text x="${labelWidth - 6}" y="${24 + i * cell + cell / 2}" text-anchor="end" dy="0.3em" ` +
        `class="tick">${escapeXml(short(labels[i]))}</text>`,
    );
    row.forEach((v, j) => {
      const share = v / total;
      const x = labelWidth + j * cell;
      const y = 24 + i * cell;
      const fill = i === j
        ? `rgba(22, 128, 84, ${0.08 + 0.85 * share})`
        : `rgba(200, 60, 40, ${v ? 0.1 + 0.8 * share : 0.03})`;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell - 2}" height="${cell - 2}" rx="3" fill="${fill}"/>` +
          `<text x="${x + cell / 2 - 1}" y="${y + cell / 2}" text-anchor="middle" dy="0.3em" ` +
          `class="${share > 0.55 ? "count strong" : "count"}">${v}</text>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("");
}
