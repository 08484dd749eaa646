/**
 * Formula-driven images for pretraining without natural images, after FractalDB (Kataoka et
 * al., ACCV 2020; Nakashima et al., AAAI 2022): each category is an iterated function system of
 * 2–4 contractive affine maps, kept only if its attractor fills a reasonable part of the
 * frame; each instance perturbs one map parameter by ±20 % (FractalDB's intra-category
 * variation), then flips, slightly rotates and colours the rendering. Deterministic from seeds;
 * no I/O.
 *
 * @module
 */

import { Rng } from "../tensor/rng.ts";
import type { RgbImage } from "../data/image.ts";
import { hsl, texturedBackground } from "./paint.ts";

/** An affine map `(x, y) → (a x + b y + e, c x + d y + f)`. */
export type AffineMap = [number, number, number, number, number, number];

/** One category: its maps and their selection probabilities. */
export interface FractalCategory {
  /** The maps. */
  maps: AffineMap[];
  /** Probability of each map (∝ |det|). */
  weights: number[];
  /**
   * The hue (degrees) of the category's instances in scenes, spread by the golden angle over
   * categories: colour is part of what a category looks like, as it is in natural images.
   */
  hue: number;
}

function singularValues(m: AffineMap): [number, number] {
  const [a, b, c, d] = m;
  const s1 = a * a + b * b + c * c + d * d;
  const s2 = Math.sqrt((a * a + b * b - c * c - d * d) ** 2 + 4 * (a * c + b * d) ** 2);
  return [Math.sqrt((s1 + s2) / 2), Math.sqrt(Math.max(0, (s1 - s2) / 2))];
}

function weightsOf(maps: AffineMap[]): number[] {
  const dets = maps.map((m) => Math.max(1e-3, Math.abs(m[0] * m[3] - m[1] * m[2])));
  const total = dets.reduce((s, v) => s + v, 0);
  return dets.map((v) => v / total);
}

/** Runs the chaos game and returns `points` coordinates (after a burn-in). */
function chaosGame(cat: FractalCategory, rng: Rng, points: number): Float32Array {
  const out = new Float32Array(points * 2);
  let x = 0;
  let y = 0;
  for (let i = -20; i < points; i++) {
    let r = rng.next();
    let k = 0;
    while (k < cat.maps.length - 1 && r > cat.weights[k]) r -= cat.weights[k++];
    const [a, b, c, d, e, f] = cat.maps[k];
    const nx = a * x + b * y + e;
    y = c * x + d * y + f;
    x = nx;
    if (i >= 0) {
      out[2 * i] = x;
      out[2 * i + 1] = y;
    }
  }
  return out;
}

/** Fraction of a 32×32 grid that the attractor covers, after fitting it to the grid. */
function fillRatio(pts: Float32Array): number {
  const grid = new Uint8Array(32 * 32);
  const [x0, x1, y0, y1] = bounds(pts);
  const s = Math.max(x1 - x0, y1 - y0) || 1;
  for (let i = 0; i < pts.length; i += 2) {
    const gx = Math.min(31, Math.floor(((pts[i] - x0) / s) * 32));
    const gy = Math.min(31, Math.floor(((pts[i + 1] - y0) / s) * 32));
    grid[gy * 32 + gx] = 1;
  }
  return grid.reduce((n, v) => n + v, 0) / grid.length;
}

function bounds(pts: Float32Array): [number, number, number, number] {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < pts.length; i += 2) {
    x0 = Math.min(x0, pts[i]);
    x1 = Math.max(x1, pts[i]);
    y0 = Math.min(y0, pts[i + 1]);
    y1 = Math.max(y1, pts[i + 1]);
  }
  return [x0, x1, y0, y1];
}

/**
 * A copy of a category with one map parameter scaled by 0.8–1.2: FractalDB's intra-category
 * variation.
 */
function jittered(cat: FractalCategory, rng: Rng): FractalCategory {
  const maps = cat.maps.map((m) => [...m] as AffineMap);
  maps[Math.floor(rng.next() * maps.length)][Math.floor(rng.next() * 4)] *= 0.8 +
    0.4 * rng.next();
  return { ...cat, maps, weights: weightsOf(maps) };
}

/** Where and how {@link plot} draws an attractor. */
interface Placement {
  /** Centre in pixels. */
  x: number;
  /** Centre in pixels. */
  y: number;
  /** The longer side of the attractor's bounding box, in pixels. */
  side: number;
  /** Rotation in radians. */
  angle: number;
  /** 1, or -1 to mirror horizontally. */
  flip: number;
}

/** Paints chaos-game points into an RGB buffer, fitted to `at.side` pixels and placed. */
function plot(
  data: Uint8Array,
  size: number,
  pts: Float32Array,
  at: Placement,
  colour: readonly number[],
): void {
  const [x0, x1, y0, y1] = bounds(pts);
  const zoom = at.side / (Math.max(x1 - x0, y1 - y0) || 1);
  const cos = Math.cos(at.angle);
  const sin = Math.sin(at.angle);
  const rgb = colour.map((v) => Math.max(0, Math.min(255, v)));
  for (let i = 0; i < pts.length; i += 2) {
    const dx = (pts[i] - (x0 + x1) / 2) * at.flip;
    const dy = pts[i + 1] - (y0 + y1) / 2;
    const px = Math.floor(at.x + (dx * cos - dy * sin) * zoom);
    const py = Math.floor(at.y + (dx * sin + dy * cos) * zoom);
    if (px >= 0 && py >= 0 && px < size && py < size) data.set(rgb, (py * size + px) * 3);
  }
}

/**
 * Draws category `index` of a database seeded by `seed`: random contractive maps, redrawn until
 * the attractor covers 8–55 % of the frame.
 *
 * @param seed Database seed.
 * @param index Category index.
 * @returns The category.
 * @example
 * ```ts
 * import { fractalCategory } from "./fractal.ts";
 * console.log(fractalCategory(0, 3).maps.length >= 2); // true
 * ```
 */
export function fractalCategory(seed: number, index: number): FractalCategory {
  const rng = new Rng((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  for (;;) {
    const n = 2 + Math.floor(rng.next() * 3);
    const maps: AffineMap[] = [];
    while (maps.length < n) {
      const m = Array.from({ length: 6 }, () => rng.next() * 2 - 1) as AffineMap;
      const [s1, s2] = singularValues(m);
      if (s1 < 0.95 && s2 > 0.05) maps.push(m);
    }
    const cat = { maps, weights: weightsOf(maps), hue: (index * 137.508) % 360 };
    const ratio = fillRatio(chaosGame(cat, new Rng(index), 3000));
    if (ratio > 0.08 && ratio < 0.55) return cat;
  }
}

/**
 * Renders instance `instance` of a category at `size` pixels.
 *
 * @param cat The category.
 * @param instanceSeed Seed of this instance (parameter jitter, pose, colours).
 * @param size Width and height.
 * @param points Chaos-game iterations.
 * @returns The image.
 */
export function renderFractal(
  cat: FractalCategory,
  instanceSeed: number,
  size: number,
  points = 5000,
): RgbImage {
  const rng = new Rng(instanceSeed);
  const pts = chaosGame(jittered(cat, rng), rng, points);
  const angle = (rng.next() - 0.5) * 0.5;
  const flip = rng.next() < 0.5 ? -1 : 1;
  const side = (0.75 + 0.2 * rng.next()) * size;
  const bg = [0, 1, 2].map(() => 30 + rng.next() * 200);
  const fg = bg.map((v) => (v > 128 ? v - 80 - rng.next() * 60 : v + 80 + rng.next() * 60));
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) data.set(bg.map((v) => v + (rng.next() - 0.5) * 16), i * 3);
  plot(data, size, pts, { x: size / 2, y: size / 2, side, angle, flip }, fg);
  return { width: size, height: size, data };
}

/** Options of {@link renderFractalScene}. */
export interface FractalSceneOptions {
  /** Fewest and most instances of the category in one image. */
  instances?: [number, number];
  /** Smallest and largest instance, as a fraction of the image side. */
  scale?: [number, number];
  /** Chaos-game points of an instance that fills the whole image (fewer for smaller ones). */
  points?: number;
}

/**
 * Renders a scene: several instances of one category (each with its own parameter jitter,
 * size, position, rotation, flip and colour) scattered over a two-colour value-noise texture.
 * To name the category, a model must find small shapes anywhere on a textured surface and
 * pool what it found across the image, the skills that telling diseased leaves apart needs
 * and that one centred fractal on a flat background does not teach.
 *
 * @param cat The category.
 * @param instanceSeed Seed of this image.
 * @param size Width and height.
 * @param options Instance count, scale range and point budget.
 * @returns The image.
 * @example
 * ```ts
 * import { fractalCategory, renderFractalScene } from "./fractal.ts";
 * const image = renderFractalScene(fractalCategory(0, 1), 7, 64);
 * console.log(image.width, image.data.length); // 64 12288
 * ```
 */
export function renderFractalScene(
  cat: FractalCategory,
  instanceSeed: number,
  size: number,
  options: FractalSceneOptions = {},
): RgbImage {
  const [nMin, nMax] = options.instances ?? [2, 8];
  const [sMin, sMax] = options.scale ?? [0.15, 0.5];
  const budget = options.points ?? 4000;
  const rng = new Rng(instanceSeed);
  const data = texturedBackground(rng, size);
  const count = nMin + Math.floor(rng.next() * (nMax - nMin + 1));
  for (let n = 0; n < count; n++) {
    const instance = jittered(cat, rng);
    const scale = sMin + (sMax - sMin) * rng.next();
    const pts = chaosGame(instance, rng, Math.max(150, Math.round(budget * scale * scale)));
    const angle = rng.next() * 2 * Math.PI;
    const flip = rng.next() < 0.5 ? -1 : 1;
    const x = scale * size / 2 + rng.next() * size * (1 - scale);
    const y = scale * size / 2 + rng.next() * size * (1 - scale);
    const fg = hsl(
      cat.hue + (rng.next() - 0.5) * 30,
      0.45 + 0.5 * rng.next(),
      0.25 + 0.4 * rng.next(),
    );
    plot(data, size, pts, { x, y, side: scale * size, angle, flip }, fg);
  }
  return { width: size, height: size, data };
}
