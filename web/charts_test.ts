import assert from "node:assert/strict";
import { lineChart } from "./charts.ts";

/** The numbers of every `<text>` under the grid with the given anchor. */
function tickLabels(svg: string, anchor: string): number[] {
  return [
    ...svg.matchAll(new RegExp(`<text [^>]*text-anchor="${anchor}"[^>]*>([^<]+)</text>`, "g")),
  ]
    .map((m) => Number(m[1])).filter((v) => Number.isFinite(v));
}

/** Each circle's centre and fill or stroke, in drawing order. */
function circles(svg: string): { x: number; y: number; color: string }[] {
  return [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" [^>]*(?:fill|stroke)="(#\w+)"/g)]
    .map((m) => ({ x: Number(m[1]), y: Number(m[2]), color: m[3] }));
}

Deno.test(
  "lineChart() frames a single evaluation inside the run's " +
    "steps and a 0–1 accuracy axis",
  () => {
    const svg = lineChart("evaluation accuracy and loss", [
      { name: "accuracy", points: [[30, 1]], color: "#17714f", dots: true },
      { name: "loss", points: [[30, 0.42]], color: "#b0432b", dots: true, right: true },
    ], { zero: true, xRange: [0, 90], yRange: [0, 1] });
    const x = tickLabels(svg, "middle");
    assert.equal(x[0], 0, `the step axis starts at 0: ${x}`);
    assert.ok(x.at(-1)! >= 80, `and reaches the run's last step: ${x}`);
    const y = tickLabels(svg, "end");
    assert.deepEqual([y[0], y.at(-1)], [0, 1], `accuracy axis: ${y}`);
    const dots = circles(svg);
    assert.equal(dots.length, 2);
    const accuracy = dots.at(-1)!;
    assert.equal(accuracy.color, "#17714f", "the accuracy dot is drawn last, on top");
    // The plot area is x 44…372, y 24…188 of the 420 × 220 view.
    assert.ok(accuracy.x > 44 && accuracy.x < 372, `dot x ${accuracy.x} inside the plot`);
    assert.ok(accuracy.x > 44 + 328 * 0.3, "step 30 of 90 is a third of the way, not the middle");
    assert.ok(accuracy.y >= 24 && accuracy.y < 188, `dot y ${accuracy.y} inside the plot`);
  },
);

Deno.test("lineChart() without ranges keeps a lone point's axis around it", () => {
  const svg = lineChart("x", [{ name: "a", points: [[30, 0.5]], color: "#123456" }]);
  const x = tickLabels(svg, "middle");
  assert.ok(x.every((v) => v > 25 && v < 35), `ticks around 30: ${x}`);
  assert.equal(circles(svg).length, 1, "a lone point is drawn as a dot");
});
