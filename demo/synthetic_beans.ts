/**
 * A generated stand-in for the beans dataset, deterministic from a seed: bean leaves of varied
 * shape, pose, colour and lighting on varied backgrounds, with the three classes' symptoms —
 * angular_leaf_spot (irregular angular brown patches between veins), bean_rust (small round
 * brown pustules with yellow halos) and healthy (none, but with harmless blemishes, so that
 * "any brown" is not the answer). Disease covers a small part of the leaf, so the classes
 * cannot be told apart by mean colour. No file I/O here.
 *
 * @module
 */

import { Rng } from "../tensor/rng.ts";
import type { RgbImage } from "../data/image.ts";
import { hsl, valueNoise } from "./paint.ts";

/** The beans dataset's class names, in its label order. */
export const BEANS_CLASSES = ["angular_leaf_spot", "bean_rust", "healthy"] as const;

/** The beans dataset's split sizes. */
export const BEANS_SPLITS = { train: 1034, validation: 133, test: 128 } as const;

interface Leaf {
  cx: number;
  cy: number;
  length: number;
  width: number;
  cos: number;
  sin: number;
  wobble: number;
  phase: number;
}

/** Leaf coordinate u of a pixel: along the midrib, -1 at the base, 1 at the tip. */
function leafU(leaf: Leaf, x: number, y: number): number {
  return ((x - leaf.cx) * leaf.cos + (y - leaf.cy) * leaf.sin) / (leaf.length / 2);
}

/** Leaf coordinate v of a pixel: across the midrib, ±1 at the widest half-width. */
function leafV(leaf: Leaf, x: number, y: number): number {
  return (-(x - leaf.cx) * leaf.sin + (y - leaf.cy) * leaf.cos) / (leaf.width / 2);
}

/** Half-width of an ovate leaf with a pointed tip at u, in v units (≤ 1). */
function halfWidth(leaf: Leaf, u: number): number {
  if (u <= -1 || u >= 1) return 0;
  const body = Math.pow(1 - u * u, 0.55) * (1 - 0.3 * u);
  const tip = u > 0.4 ? 1 - Math.pow((u - 0.4) / 0.6, 1.6) * 0.45 : 1;
  return Math.max(0, body * tip * (1 + leaf.wobble * Math.sin(u * 9 + leaf.phase)));
}

function makeLeaf(rng: Rng, size: number, scale: number): Leaf {
  const angle = rng.next() * Math.PI * 2;
  return {
    cx: size * (0.38 + 0.24 * rng.next()),
    cy: size * (0.38 + 0.24 * rng.next()),
    length: size * scale * (0.7 + 0.3 * rng.next()),
    width: size * scale * (0.45 + 0.2 * rng.next()),
    cos: Math.cos(angle),
    sin: Math.sin(angle),
    wobble: 0.02 + 0.05 * rng.next(),
    phase: rng.next() * 6.28,
  };
}

/**
 * Renders one leaf image.
 *
 * @param label Class index into {@link BEANS_CLASSES}.
 * @param seed Seed of this image.
 * @param size Width and height in pixels.
 * @returns The image.
 * @example
 * ```ts
 * import { renderBeanLeaf } from "./synthetic_beans.ts";
 * const img = renderBeanLeaf(1, 7, 64);
 * console.log(img.width, img.height, img.data.length); // 64 64 12288
 * ```
 */
export function renderBeanLeaf(label: number, seed: number, size = 160): RgbImage {
  const rng = new Rng(seed);
  const n = size * size;
  const rgb = new Float32Array(n * 3);
  // Background: soil, foliage or pale sky, with large soft blotches.
  const bgKind = rng.next();
  const [bh, bs, bl] = bgKind < 0.4
    ? [20 + 20 * rng.next(), 0.25 + 0.25 * rng.next(), 0.2 + 0.2 * rng.next()]
    : bgKind < 0.8
    ? [80 + 40 * rng.next(), 0.25 + 0.35 * rng.next(), 0.15 + 0.25 * rng.next()]
    : [190 + 40 * rng.next(), 0.1 + 0.2 * rng.next(), 0.55 + 0.25 * rng.next()];
  const bgNoise = valueNoise(rng, size, 4 + Math.floor(rng.next() * 5));
  const bgFine = valueNoise(rng, size, 24);
  for (let i = 0; i < n; i++) {
    const l = bl * (0.7 + 0.6 * bgNoise[i]) * (0.9 + 0.2 * bgFine[i]);
    const [r, g, b] = hsl(bh + 20 * (bgNoise[i] - 0.5), bs, Math.min(0.95, l));
    rgb[3 * i] = r;
    rgb[3 * i + 1] = g;
    rgb[3 * i + 2] = b;
  }
  // A blurred neighbouring leaf half out of frame, for clutter.
  if (rng.next() < 0.5) {
    const other = makeLeaf(rng, size, 0.9);
    other.cx += (rng.next() < 0.5 ? -1 : 1) * size * 0.45;
    const [r, g, b] = hsl(85 + 30 * rng.next(), 0.35, 0.18 + 0.15 * rng.next());
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const u = leafU(other, x, y);
        const v = leafV(other, x, y);
        const edge = halfWidth(other, u) - Math.abs(v);
        if (edge <= 0) continue;
        const a = Math.min(1, edge * 4) * 0.85;
        const i = y * size + x;
        rgb[3 * i] = rgb[3 * i] * (1 - a) + r * a;
        rgb[3 * i + 1] = rgb[3 * i + 1] * (1 - a) + g * a;
        rgb[3 * i + 2] = rgb[3 * i + 2] * (1 - a) + b * a;
      }
    }
  }
  // The main leaf.
  const leaf = makeLeaf(rng, size, 0.8 + 0.25 * rng.next());
  const hue = 72 + 45 * rng.next();
  const sat = 0.35 + 0.35 * rng.next();
  const light = 0.26 + 0.22 * rng.next();
  const lightAngle = rng.next() * Math.PI * 2;
  const leafNoise = valueNoise(rng, size, 6);
  const veins = 5 + Math.floor(rng.next() * 4);
  const veinSlope = 0.9 + 0.8 * rng.next();
  const inside = new Float32Array(n);
  const veinDist = new Float32Array(n);
  const [lightX, lightY] = [Math.cos(lightAngle), Math.sin(lightAngle)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = leafU(leaf, x, y);
      const v = leafV(leaf, x, y);
      const hw = halfWidth(leaf, u);
      const edge = hw - Math.abs(v);
      if (edge <= 0) continue;
      const i = y * size + x;
      const alpha = Math.min(1, edge * leaf.width * 0.5);
      inside[i] = alpha;
      // Secondary veins leave the midrib towards the tip at a slant.
      const along = u - Math.abs(v) * veinSlope * 0.35;
      const phase = ((along + 1) * veins) % 1;
      const dv = Math.min(phase, 1 - phase) / veins * (leaf.length / 2);
      const dm = Math.abs(v) * (leaf.width / 2);
      veinDist[i] = Math.min(dv, dm);
      const shade = 0.8 + 0.35 * (lightX * u + lightY * v) * 0.5 -
        0.25 * Math.pow(Math.abs(v) / Math.max(hw, 1e-3), 3);
      const vein = Math.exp(-veinDist[i] * veinDist[i] / 0.8) * 0.18;
      const l = light * shade * (0.9 + 0.2 * leafNoise[i]) + vein * 0.5;
      const [r, g, b] = hsl(hue + 8 * (leafNoise[i] - 0.5), sat, Math.max(0.04, Math.min(0.9, l)));
      rgb[3 * i] = rgb[3 * i] * (1 - alpha) + r * alpha;
      rgb[3 * i + 1] = rgb[3 * i + 1] * (1 - alpha) + g * alpha;
      rgb[3 * i + 2] = rgb[3 * i + 2] * (1 - alpha) + b * alpha;
    }
  }
  const paint = (x: number, y: number, color: [number, number, number], a: number) => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    const i = y * size + x;
    const w = a * inside[i];
    rgb[3 * i] = rgb[3 * i] * (1 - w) + color[0] * w;
    rgb[3 * i + 1] = rgb[3 * i + 1] * (1 - w) + color[1] * w;
    rgb[3 * i + 2] = rgb[3 * i + 2] * (1 - w) + color[2] * w;
  };
  const randomPointOnLeaf = (): [number, number] | null => {
    for (let t = 0; t < 50; t++) {
      const x = Math.floor(rng.next() * size);
      const y = Math.floor(rng.next() * size);
      if (inside[y * size + x] > 0.9) return [x, y];
    }
    return null;
  };
  const scale = leaf.length / 100;
  if (label === 0) {
    // Angular leaf spot: polygons bounded by veins, brown with a faint yellow rim.
    const count = 10 + Math.floor(rng.next() * 14);
    for (let k = 0; k < count; k++) {
      const p = randomPointOnLeaf();
      if (!p) break;
      const radius = (4 + 5 * rng.next()) * scale;
      const sides = 4 + Math.floor(rng.next() * 3);
      const rot = rng.next() * 6.28;
      const corners = Array.from({ length: sides }, (_, s) => {
        const a = rot + (s / sides) * 6.28 + (rng.next() - 0.5) * 0.8;
        const r = radius * (0.6 + 0.6 * rng.next());
        return [p[0] + Math.cos(a) * r, p[1] + Math.sin(a) * r];
      });
      const brown = hsl(22 + 16 * rng.next(), 0.45 + 0.2 * rng.next(), 0.16 + 0.14 * rng.next());
      const rim = hsl(50, 0.55, 0.45);
      const r = Math.ceil(radius * 1.4);
      for (let y = p[1] - r; y <= p[1] + r; y++) {
        for (let x = p[0] - r; x <= p[0] + r; x++) {
          let insidePoly = true;
          let minEdge = Infinity;
          for (let s = 0; s < sides; s++) {
            const [x0, y0] = corners[s];
            const [x1, y1] = corners[(s + 1) % sides];
            const cross = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0);
            const len = Math.hypot(x1 - x0, y1 - y0) || 1;
            const d = cross / len;
            if (d < 0) insidePoly = false;
            minEdge = Math.min(minEdge, Math.abs(d));
          }
          if (!insidePoly) continue;
          const i = y * size + x;
          if (x >= 0 && y >= 0 && x < size && y < size && veinDist[i] < 0.6) continue;
          paint(x, y, minEdge < 0.9 ? rim : brown, minEdge < 0.9 ? 0.5 : 0.92);
        }
      }
    }
  } else if (label === 1) {
    // Rust: many small round dark pustules, each in a pale yellow halo.
    const count = 45 + Math.floor(rng.next() * 50);
    const clusterX = rng.next();
    for (let k = 0; k < count; k++) {
      const p = randomPointOnLeaf();
      if (!p) break;
      if (rng.next() < 0.4 && clusterX < 0.5) p[0] = Math.min(size - 1, p[0] + 2);
      const core = (1.4 + 1.4 * rng.next()) * scale;
      const halo = core * (1.9 + 0.7 * rng.next());
      const dark = hsl(12 + 18 * rng.next(), 0.5 + 0.2 * rng.next(), 0.14 + 0.1 * rng.next());
      const yellow = hsl(52 + 10 * rng.next(), 0.6, 0.5 + 0.15 * rng.next());
      const r = Math.ceil(halo + 1);
      for (let y = p[1] - r; y <= p[1] + r; y++) {
        for (let x = p[0] - r; x <= p[0] + r; x++) {
          const d = Math.hypot(x - p[0], y - p[1]);
          if (d < core) paint(x, y, dark, 0.95);
          else if (d < halo) paint(x, y, yellow, 0.55 * (1 - (d - core) / (halo - core)));
        }
      }
    }
  } else {
    // Healthy leaves still have blemishes: soft diffuse yellowing and small dull specks.
    const blotches = Math.floor(rng.next() * 4);
    for (let k = 0; k < blotches; k++) {
      const p = randomPointOnLeaf();
      if (!p) break;
      const radius = (5 + 10 * rng.next()) * scale;
      const tint = hsl(60 + 20 * rng.next(), 0.4, 0.4);
      const r = Math.ceil(radius);
      for (let y = p[1] - r; y <= p[1] + r; y++) {
        for (let x = p[0] - r; x <= p[0] + r; x++) {
          const d = Math.hypot(x - p[0], y - p[1]) / radius;
          if (d < 1) paint(x, y, tint, 0.35 * (1 - d * d));
        }
      }
    }
    const specks = Math.floor(rng.next() * 6);
    for (let k = 0; k < specks; k++) {
      const p = randomPointOnLeaf();
      if (p) paint(p[0], p[1], hsl(30, 0.3, 0.3), 0.6);
    }
  }
  // Camera: exposure, white balance and sensor noise.
  const exposure = 0.75 + 0.5 * rng.next();
  const tint = [1 + 0.12 * (rng.next() - 0.5), 1, 1 + 0.12 * (rng.next() - 0.5)];
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n * 3; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = rgb[i + c] * exposure * tint[c] + (rng.next() - 0.5) * 10;
      out[i + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }
  return { width: size, height: size, data: out };
}

/** The seed of image `index` of a class in a split, from the dataset seed. */
export function beanSeed(seed: number, split: string, label: number, index: number): number {
  let h = seed >>> 0;
  for (const c of `${split}/${label}/${index}`) {
    h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  }
  return h;
}

/** How many images of each class a split gets (as even as the total allows). */
export function classCounts(total: number): number[] {
  const base = Math.floor(total / BEANS_CLASSES.length);
  return BEANS_CLASSES.map((_, i) => base + (i < total % BEANS_CLASSES.length ? 1 : 0));
}
