/**
 * Formula-driven contour images for pretraining without natural images, after the radial
 * contour database of Kataoka et al. ("Replacing Labeled Real-image Datasets with Auto-generated
 * Contours", CVPR 2022), which pretrained ViTs better than fractals: each category is a family
 * of star-shaped polygons (a vertex count, how irregular their radii are, an aspect ratio, a
 * style: filled, outlined or filled with a halo) with a hue and a density of its own (a few large
 * marks or many small ones). A scene scatters instances of one category over a two-colour
 * value-noise texture, so that naming the category means finding small marks and telling round
 * from angular, filled from ringed, anywhere in the image. Deterministic from seeds; no I/O.
 *
 * @module
 */

import { Rng } from "../tensor/rng.ts";
import type { RgbImage } from "../data/image.ts";
import { hsl, texturedBackground } from "./paint.ts";

/** One contour category. */
export interface ContourCategory {
  /** Vertices of each polygon (3–12; many with little jitter look round). */
  vertices: number;
  /** Radial irregularity: each vertex's radius is 1 ± this (0–0.45). */
  jitter: number;
  /** Minor over major axis (0.5–1). */
  aspect: number;
  /** Filled, an outline (a ring), or filled with a lighter halo around it. */
  style: "filled" | "outline" | "halo";
  /** Hue in degrees (category index × the golden angle, as fractal categories). */
  hue: number;
  /** Fewest and most instances per scene. */
  instances: [number, number];
  /** Instance size range as fractions of the image side. */
  scale: [number, number];
  /** Lightness range of the marks (default: 0.25–0.65). */
  light?: [number, number];
  /** Saturation range of the marks (default: 0.45–0.95). */
  saturation?: [number, number];
}

const STYLES = ["filled", "outline", "halo"] as const;

/** How many marks a scene of a category holds and how large they are. */
export interface ContourDensity {
  /** Fewest and most instances per scene. */
  instances: [number, number];
  /** Instance size range as fractions of the image side. */
  scale: [number, number];
}

/**
 * The densities a category can draw: a few large marks, many small ones, and (opt-in) a
 * sprinkle of tiny dots, as many and as small as pustules on a leaf.
 */
export const CONTOUR_DENSITIES = {
  small: { instances: [6, 16], scale: [0.06, 0.16] },
  large: { instances: [1, 4], scale: [0.18, 0.4] },
  tiny: { instances: [20, 60], scale: [0.02, 0.06] },
} as const satisfies Record<string, ContourDensity>;

/** A density's name. */
export type ContourDensityName = keyof typeof CONTOUR_DENSITIES;

/** How a contour database draws its categories. */
export interface ContourDatabaseOptions {
  /** The densities categories draw from, with equal odds (default: small and large). */
  densities?: readonly ContourDensityName[];
  /**
   * Distinct hues: category `i` takes hue `i mod hues`, so that categories sharing a hue differ
   * only in shape, style and density (default: one hue per category).
   */
  hues?: number;
  /**
   * Gives each category a narrow lightness band and saturation band of its own, so that naming
   * a category means telling dark from light and dull from vivid marks as well as hues; by
   * default every category spans the same wide ranges, which teaches features to ignore them.
   */
  tones?: boolean;
}

/**
 * Draws category `index` of a contour database seeded by `seed`.
 *
 * @param seed Database seed.
 * @param index Category index.
 * @param options Densities and hues.
 * @returns The category.
 * @example
 * ```ts
 * import { contourCategory } from "./contours.ts";
 * const cat = contourCategory(0, 3);
 * console.log(cat.vertices >= 3 && cat.vertices <= 12); // true
 * ```
 */
export function contourCategory(
  seed: number,
  index: number,
  options: ContourDatabaseOptions = {},
): ContourCategory {
  const { densities = ["small", "large"], hues, tones = false } = options;
  const rng = new Rng(
    (Math.imul(seed + 7, 0x9e3779b1) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0,
  );
  const vertices = 3 + Math.floor(rng.next() * 10);
  const jitter = rng.next() * 0.45;
  const aspect = 0.5 + 0.5 * rng.next();
  const style = STYLES[index % 3];
  const density = CONTOUR_DENSITIES[densities[Math.floor(rng.next() * densities.length)]];
  const cat: ContourCategory = {
    vertices,
    jitter,
    aspect,
    style,
    hue: ((hues ? index % hues : index) * 137.508) % 360,
    instances: [...density.instances],
    scale: [...density.scale],
  };
  if (tones) {
    const light = 0.14 + 0.6 * rng.next();
    const saturation = 0.3 + 0.6 * rng.next();
    cat.light = [light - 0.06, light + 0.06];
    cat.saturation = [saturation - 0.1, Math.min(1, saturation + 0.1)];
  }
  return cat;
}

/** Crossing-number test of a point against a closed polygon. */
function inside(xs: Float64Array, ys: Float64Array, x: number, y: number): boolean {
  let hit = false;
  for (let i = 0, j = xs.length - 1; i < xs.length; j = i++) {
    if (
      (ys[i] > y) !== (ys[j] > y) && x < ((xs[j] - xs[i]) * (y - ys[i])) / (ys[j] - ys[i]) + xs[i]
    ) {
      hit = !hit;
    }
  }
  return hit;
}

/** Paints the pixels inside `outer` (and not inside `hole`, when given). */
function fill(
  data: Uint8Array,
  size: number,
  outer: [Float64Array, Float64Array],
  colour: readonly number[],
  hole?: [Float64Array, Float64Array],
): void {
  const [xs, ys] = outer;
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const x1 = Math.min(size - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(size - 1, Math.ceil(Math.max(...ys)));
  const rgb = colour.map((v) => Math.max(0, Math.min(255, v)));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!inside(xs, ys, x + 0.5, y + 0.5)) continue;
      if (hole && inside(hole[0], hole[1], x + 0.5, y + 0.5)) continue;
      data.set(rgb, (y * size + x) * 3);
    }
  }
}

/**
 * Renders a scene of one contour category: instances (each with its own vertex radii, size,
 * position, rotation and colour near the category's hue) scattered over a two-colour
 * value-noise texture.
 *
 * @param cat The category.
 * @param instanceSeed Seed of this image.
 * @param size Width and height.
 * @returns The image.
 * @example
 * ```ts
 * import { contourCategory, renderContourScene } from "./contours.ts";
 * const image = renderContourScene(contourCategory(0, 1), 7, 64);
 * console.log(image.width, image.data.length); // 64 12288
 * ```
 */
export function renderContourScene(
  cat: ContourCategory,
  instanceSeed: number,
  size: number,
): RgbImage {
  const rng = new Rng(instanceSeed);
  const data = texturedBackground(rng, size);
  const [nMin, nMax] = cat.instances;
  const [sMin, sMax] = cat.scale;
  const count = nMin + Math.floor(rng.next() * (nMax - nMin + 1));
  const n = cat.vertices;
  const [light0, light1] = cat.light ?? [0.25, 0.65];
  for (let k = 0; k < count; k++) {
    const radius = ((sMin + (sMax - sMin) * rng.next()) * size) / 2;
    const cx = radius + rng.next() * (size - 2 * radius);
    const cy = radius + rng.next() * (size - 2 * radius);
    const rot = rng.next() * 2 * Math.PI;
    const cos = Math.cos(rot);
    const sin = Math.sin(rot);
    const radii = Array.from({ length: n }, () => 1 + cat.jitter * (2 * rng.next() - 1));
    const polygon = (s: number): [Float64Array, Float64Array] => {
      const xs = new Float64Array(n);
      const ys = new Float64Array(n);
      for (let v = 0; v < n; v++) {
        const a = (2 * Math.PI * v) / n;
        const px = Math.cos(a) * radii[v] * radius * s;
        const py = Math.sin(a) * radii[v] * radius * s * cat.aspect;
        xs[v] = cx + px * cos - py * sin;
        ys[v] = cy + px * sin + py * cos;
      }
      return [xs, ys];
    };
    const hue = cat.hue + (rng.next() - 0.5) * 30;
    // Spelled out, not from a default range: 0.95 - 0.45 is not 0.5 in floating point.
    const sat = cat.saturation
      ? cat.saturation[0] + (cat.saturation[1] - cat.saturation[0]) * rng.next()
      : 0.45 + 0.5 * rng.next();
    const fg = hsl(hue, sat, light0 + (light1 - light0) * rng.next());
    if (cat.style === "halo") {
      fill(data, size, polygon(1.45), hsl(cat.hue + 60, 0.8, 0.6 + 0.2 * rng.next()));
    }
    fill(data, size, polygon(1), fg, cat.style === "outline" ? polygon(0.55) : undefined);
  }
  return { width: size, height: size, data };
}

/** An attribute of an attribute scene's marks. */
export type MarkAttribute = "density" | "vertices" | "outline" | "style" | "hue" | "tone";

/**
 * The attributes the marks of an attribute scene share, and their values. Each attribute is
 * drawn independently per image and predicted by its own group of logits, so that no single cue
 * (a hue, say) names the scene and the features must carry all of them: how many marks and how
 * large, their outline, whether they are ringed or haloed, their hue and how dark they are.
 */
export const MARK_ATTRIBUTES: Readonly<Record<MarkAttribute, readonly string[]>> = {
  density: ["none", "tiny", "small", "large"],
  vertices: ["3", "4", "5", "6", "8", "12", "round"],
  outline: ["regular", "irregular"],
  style: STYLES,
  hue: Array.from({ length: 12 }, (_, i) => `${i * 30}-${i * 30 + 30}`),
  tone: ["dark", "mid", "light"],
};

const VERTICES = [3, 4, 5, 6, 8, 12, 24];
const TONES: [number, number][] = [[0.12, 0.28], [0.3, 0.5], [0.52, 0.72]];
const DENSITY_OF: (ContourDensityName | undefined)[] = [undefined, "tiny", "small", "large"];

/** An attribute scene and the value index of each attribute, in `MARK_ATTRIBUTES` order. */
export interface AttributeScene {
  /** The image. */
  image: RgbImage;
  /** One value index per attribute; -100 (ignored by the loss) for marks' attributes when none. */
  labels: number[];
}

/**
 * Renders an attribute scene: every attribute of {@link MARK_ATTRIBUTES} drawn at random, then
 * a contour scene of marks with those attributes (none when the density is "none").
 *
 * @param seed Seed of this image.
 * @param size Width and height.
 * @returns The image and its attribute labels.
 * @example
 * ```ts
 * import { MARK_ATTRIBUTES, renderAttributeScene } from "./contours.ts";
 * const { image, labels } = renderAttributeScene(7, 64);
 * console.log(image.width, labels.length === Object.keys(MARK_ATTRIBUTES).length); // 64 true
 * ```
 */
export function renderAttributeScene(seed: number, size: number): AttributeScene {
  const rng = new Rng(seed);
  const labels = Object.values(MARK_ATTRIBUTES).map((values) =>
    Math.floor(rng.next() * values.length)
  );
  const [density, vertices, outline, style, hue, tone] = labels;
  const kind = DENSITY_OF[density];
  const cat: ContourCategory = {
    vertices: VERTICES[vertices],
    jitter: outline === 0 ? 0.08 * rng.next() : 0.25 + 0.2 * rng.next(),
    aspect: 0.5 + 0.5 * rng.next(),
    style: STYLES[style],
    hue: hue * 30 + 15,
    light: TONES[tone],
    instances: kind ? [...CONTOUR_DENSITIES[kind].instances] : [0, 0],
    scale: kind ? [...CONTOUR_DENSITIES[kind].scale] : [0.1, 0.1],
  };
  const image = renderContourScene(cat, Math.floor(rng.next() * 2 ** 32), size);
  return { image, labels: kind ? labels : labels.map((v, i) => (i === 0 ? v : -100)) };
}
