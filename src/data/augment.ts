/**
 * CPU side of the input pipeline: per-channel normalization and the ResNet paper's CIFAR augmentation (zero-pad 4, random crop back to size,
 * random horizontal flip), written straight into an NCHW Float32Array batch slot.
 */

import type { Dataset } from "./in_memory.ts";
import type { Rng } from "../util/rng.ts";

/** Mean and standard deviation per channel, in [0, 1] pixel units. */
export interface ChannelStats {
  /** Mean per channel. */
  mean: Float32Array;
  /** Standard deviation per channel (1 where a channel is constant). */
  std: Float32Array;
}

/** Uint8 images are 0..255; Float32 images are taken to be in [0, 1] already. */
export function pixelScale(ds: Pick<Dataset, "images">): number {
  return ds.images instanceof Uint8Array ? 1 / 255 : 1;
}

/** Per-channel statistics over the whole set; call it on the train split only. */
export function computeChannelStats(ds: Dataset): ChannelStats {
  const { channels: c, height, width, count, images } = ds;
  const plane = height * width;
  const scale = pixelScale(ds);
  const mean = new Float32Array(c);
  const std = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) {
    // Float64 accumulators: 60000×784 sums overflow float32 precision.
    let s = 0, s2 = 0;
    for (let i = 0; i < count; i++) {
      const off = (i * c + ch) * plane;
      for (let p = 0; p < plane; p++) {
        const v = images[off + p] * scale;
        s += v;
        s2 += v * v;
      }
    }
    const n = count * plane;
    const m = s / n;
    mean[ch] = m;
    std[ch] = Math.sqrt(Math.max(s2 / n - m * m, 0)) || 1;
  }
  return { mean, std };
}

/** Training-time augmentation: the paper's random crop after padding, and horizontal flips. */
export interface AugmentOptions {
  /** Zero padding before the random crop; 0 disables cropping. The paper uses 4. */
  pad: number;
  /** Flip each image left-right with probability ½. */
  flip: boolean;
}

export const PAPER_AUGMENT: AugmentOptions = { pad: 4, flip: true };
export const NO_AUGMENT: AugmentOptions = { pad: 0, flip: false };

/**
 * Whether a run augments when the user did not say: only CIFAR-10, the paper's setting. Its
 * augmentation is tuned for ~160-epoch runs; in the 3-epoch default run on Fashion-MNIST the net
 * underfits with it (ResNet-20 in PyTorch, experiments/torch-replica/torch_fmnist.py: 90.6% test with it, 92.3%
 * without; README), and a mirrored digit is another digit.
 */
export function augmentsByDefault(ds: Pick<Dataset, "name">): boolean {
  return ds.name.startsWith("cifar10/");
}

/** Where to crop from and whether to mirror; drawn per sample. */
export interface SampleTransform {
  /** Crop origin in the padded image, each in [0, 2·pad]; pad,pad is the identity crop. */
  dy: number;
  dx: number;
  flip: boolean;
}

export function drawTransform(rng: Rng, aug: AugmentOptions): SampleTransform {
  return {
    dy: aug.pad > 0 ? rng.int(2 * aug.pad + 1) : aug.pad,
    dx: aug.pad > 0 ? rng.int(2 * aug.pad + 1) : aug.pad,
    flip: aug.flip && rng.next() < 0.5,
  };
}

/**
 * Precomputed affine map pixel → (pixel·scale − mean)/std per channel, so the inner loop is one
 * multiply-add.
 */
export class Normalizer {
  readonly a: Float32Array;
  readonly b: Float32Array;

  constructor(stats: ChannelStats, scale: number) {
    const c = stats.mean.length;
    this.a = new Float32Array(c);
    this.b = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      this.a[ch] = scale / stats.std[ch];
      this.b[ch] = -stats.mean[ch] / stats.std[ch];
    }
  }
}

/**
 * Writes sample `index` of `ds`, normalized and transformed, into `out` at `outOffset` (CHW).
 * Padding is zero in the normalized output, i.e. the padded border reads as the mean colour
 * rather than black, so it adds no brightness bias.
 */
export function writeSample(
  ds: Dataset,
  index: number,
  norm: Normalizer,
  t: SampleTransform,
  pad: number,
  out: Float32Array,
  outOffset: number,
): void {
  const { channels: c, height: h, width: w, images } = ds;
  const plane = h * w;
  const oy = t.dy - pad, ox = t.dx - pad;
  for (let ch = 0; ch < c; ch++) {
    const src = (index * c + ch) * plane;
    const dst = outOffset + ch * plane;
    const a = norm.a[ch], b = norm.b[ch];
    for (let y = 0; y < h; y++) {
      const sy = y + oy;
      const row = dst + y * w;
      if (sy < 0 || sy >= h) {
        out.fill(0, row, row + w);
        continue;
      }
      const srow = src + sy * w;
      for (let x = 0; x < w; x++) {
        const sx = (t.flip ? w - 1 - x : x) + ox;
        out[row + x] = sx < 0 || sx >= w ? 0 : images[srow + sx] * a + b;
      }
    }
  }
}
