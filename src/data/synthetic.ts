/**
 * A data set that needs no files: ten classes of procedurally drawn shapes and textures with
 * random placement, scale, rotation, intensity and pixel noise. Deterministic in the seed, so
 * tests and smoke runs of the trainer are reproducible anywhere; the jitter keeps it from being
 * solvable by a linear model on raw pixels, yet a small CNN learns it within an epoch or two.
 */

import { Rng } from "../util/rng.ts";

export const SYNTHETIC_CLASSES = [
  "circle",
  "square",
  "triangle",
  "cross",
  "h-stripes",
  "v-stripes",
  "checker",
  "ring",
  "diagonal",
  "blob",
];

export interface SyntheticOptions {
  count: number;
  seed: number;
  /** 1 → grey 28×28 by default, 3 → colour 32×32 by default. */
  channels?: 1 | 3;
  size?: number;
  classes?: number;
}

export interface SyntheticData {
  /** count × channels × size × size, 0..255. */
  images: Uint8Array;
  labels: Uint8Array;
}

/** Rotation jitter per class, radians; textures with an orientation get only a little. */
const ROT_JITTER = [Math.PI, Math.PI / 4, Math.PI, 0.35, 0.26, 0.26, 0.26, Math.PI, 0.26, Math.PI];
const SQRT3 = Math.sqrt(3);

export function generateSynthetic(opts: SyntheticOptions): SyntheticData {
  const channels = opts.channels ?? 1;
  const size = opts.size ?? (channels === 3 ? 32 : 28);
  const classes = opts.classes ?? SYNTHETIC_CLASSES.length;
  if (classes < 1 || classes > SYNTHETIC_CLASSES.length) {
    throw new Error(`synthetic: classes must be 1..${SYNTHETIC_CLASSES.length}, got ${classes}`);
  }
  const { count } = opts;
  const rng = new Rng(opts.seed, 0x5e7);
  // Exactly balanced classes (up to count % classes), in random order.
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % classes;
  rng.shuffle(labels);

  const plane = size * size;
  const images = new Uint8Array(count * channels * plane);
  const mask = new Float32Array(plane);
  const gauss = gaussianTable(rng);
  const scratch = { u: new Float32Array(plane), v: new Float32Array(plane) };
  for (let i = 0; i < count; i++) {
    drawMask(labels[i], rng, size, mask, scratch);
    const noise = rng.uniform(0.04, 0.14);
    // Pixel noise from an inline mulberry32 and a Gaussian table: a full Rng call plus
    // Box–Muller per pixel made generation several times slower.
    let state = rng.nextU32();
    for (let ch = 0; ch < channels; ch++) {
      // Contrast can be as low as 0.1 against noise up to 0.14: some samples are hard.
      const fg = rng.uniform(0.45, 1);
      const bg = rng.uniform(0, 0.35);
      const base = (i * channels + ch) * plane;
      for (let p = 0; p < plane; p++) {
        state = (state + 0x6d2b79f5) | 0;
        let t = Math.imul(state ^ (state >>> 15), state | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        const g = gauss[((t ^ (t >>> 14)) >>> 0) & GAUSS_MASK];
        const v = bg + (fg - bg) * mask[p] + noise * g;
        images[base + p] = v <= 0 ? 0 : v >= 1 ? 255 : (v * 255 + 0.5) | 0;
      }
    }
  }
  return { images, labels };
}

const GAUSS_MASK = 0xffff;

function gaussianTable(rng: Rng): Float32Array {
  const table = new Float32Array(GAUSS_MASK + 1);
  for (let i = 0; i < table.length; i++) table[i] = rng.normal();
  return table;
}

/** Scratch coordinates in shape space, reused across images to avoid allocation. */
interface Scratch {
  u: Float32Array;
  v: Float32Array;
}

/**
 * Renders class `cls` as an anti-aliased coverage mask in [0, 1]: first the signed distance
 * (negative inside, in shape units; textures use a pseudo-distance) into `out`, then the ramp.
 * One tight loop per class, because a per-pixel call through a switch was the bottleneck.
 */
function drawMask(cls: number, rng: Rng, size: number, out: Float32Array, sc: Scratch): void {
  const cx = rng.uniform(-0.25, 0.25);
  const cy = rng.uniform(-0.25, 0.25);
  const s = rng.uniform(0.4, 0.8);
  let theta = rng.uniform(-ROT_JITTER[cls], ROT_JITTER[cls]);
  if (cls === 8) theta += rng.next() < 0.5 ? Math.PI / 4 : -Math.PI / 4;
  const cos = Math.cos(theta) / s, sin = Math.sin(theta) / s;
  const { u: U, v: V } = sc;
  for (let y = 0; y < size; y++) {
    const py = ((y + 0.5) / size) * 2 - 1 - cy;
    for (let x = 0; x < size; x++) {
      const px = ((x + 0.5) / size) * 2 - 1 - cx;
      U[y * size + x] = cos * px + sin * py;
      V[y * size + x] = -sin * px + cos * py;
    }
  }
  const n = size * size;
  const freq = (2 * Math.PI) / rng.uniform(0.35, 0.55);
  const phase = rng.uniform(0, 2 * Math.PI);
  switch (cls) {
    case 0: // circle
      for (let p = 0; p < n; p++) out[p] = Math.sqrt(U[p] * U[p] + V[p] * V[p]) - 0.6;
      break;
    case 1: // square
      for (let p = 0; p < n; p++) out[p] = Math.max(Math.abs(U[p]), Math.abs(V[p])) - 0.55;
      break;
    case 2: // triangle
      for (let p = 0; p < n; p++) out[p] = triangle(U[p], V[p], 0.75);
      break;
    case 3: // cross
      for (let p = 0; p < n; p++) {
        const au = Math.abs(U[p]), av = Math.abs(V[p]);
        out[p] = Math.min(Math.max(au - 0.18, av - 0.75), Math.max(au - 0.75, av - 0.18));
      }
      break;
    case 4: // horizontal stripes inside a square patch
    case 5: // vertical stripes
    case 6: // checker
      for (let p = 0; p < n; p++) {
        const window = Math.max(Math.abs(U[p]), Math.abs(V[p])) - 0.85;
        if (window > 0.2) {
          out[p] = window;
          continue;
        }
        const t = cls === 4
          ? Math.sin(V[p] * freq + phase)
          : cls === 5
          ? Math.sin(U[p] * freq + phase)
          : Math.sin(U[p] * freq + phase) * Math.sin(V[p] * freq);
        out[p] = Math.max(window, -t / freq);
      }
      break;
    case 7: // ring
      for (let p = 0; p < n; p++) {
        out[p] = Math.abs(Math.sqrt(U[p] * U[p] + V[p] * V[p]) - 0.6) - 0.13;
      }
      break;
    case 8: // one thick diagonal band across the image
      for (let p = 0; p < n; p++) out[p] = Math.max(Math.abs(V[p]) - 0.2, Math.abs(U[p]) - 1.6);
      break;
    default: { // blob: thresholded sum of four compact bumps (Gaussian-like, no exp)
      const c = Array.from({ length: 8 }, () => rng.uniform(-0.45, 0.45));
      for (let p = 0; p < n; p++) {
        let f = 0;
        for (let k = 0; k < 8; k += 2) {
          const du = U[p] - c[k], dv = V[p] - c[k + 1];
          const w = 1 - (du * du + dv * dv) * 3;
          if (w > 0) f += w * w;
        }
        out[p] = (0.5 - f) * 0.3;
      }
    }
  }
  // Pixel footprint in shape units: the width of the anti-aliasing ramp.
  const aa = 2 / size / s;
  for (let p = 0; p < n; p++) {
    const d = out[p];
    out[p] = d <= -aa ? 1 : d >= aa ? 0 : 0.5 - d / (2 * aa);
  }
}

/** Equilateral triangle of circumradius-ish `r` (Inigo Quilez's exact SDF). */
function triangle(u: number, v: number, r: number): number {
  let px = Math.abs(u) - r;
  let py = -v + r / SQRT3;
  if (px + SQRT3 * py > 0) {
    const nx = (px - SQRT3 * py) / 2, ny = (-SQRT3 * px - py) / 2;
    px = nx;
    py = ny;
  }
  px -= Math.min(Math.max(px, -2 * r), 0);
  return -Math.sqrt(px * px + py * py) * Math.sign(py);
}
