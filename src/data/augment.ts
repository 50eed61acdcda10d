/**
 * CPU side of the input pipeline: the seeded PRNG every data component shares, per-channel
 * normalization and the ResNet paper's CIFAR augmentation (zero-pad 4, random crop back to size,
 * random horizontal flip), written straight into an NCHW Float32Array batch slot.
 */

import type { Dataset } from "./dataset.ts";

/**
 * sfc32: small, fast, and its whole state is four u32s, so a training checkpoint can store it
 * and resume the exact same stream.
 */
export class Rng {
  #s = new Uint32Array(4);

  /** Seeds from any number of integers (e.g. seed, epoch, batch) mixed with splitmix32. */
  constructor(...seed: number[]) {
    this.seed(...seed);
  }

  /** Re-seeds in place, so per-batch streams need no new object. */
  seed(...seed: number[]): this {
    let h = 0x9e3779b9;
    for (const part of seed.length ? seed : [0]) {
      h = splitmix32(h ^ (part >>> 0)) ^ splitmix32(Math.floor(part / 2 ** 32) + 0x632be5ab);
    }
    for (let i = 0; i < 4; i++) this.#s[i] = h = splitmix32(h + i);
    // sfc32's first outputs are correlated with the seed; burn them.
    for (let i = 0; i < 12; i++) this.nextU32();
    return this;
  }

  nextU32(): number {
    const s = this.#s;
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal via Box–Muller (one value per call; simplicity over speed). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** In-place Fisher–Yates. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  getState(): number[] {
    return Array.from(this.#s);
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error(`Rng state must have 4 words, got ${state.length}`);
    for (let i = 0; i < 4; i++) this.#s[i] = state[i] >>> 0;
  }
}

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Mean and standard deviation per channel, in [0, 1] pixel units. */
export interface ChannelStats {
  mean: Float32Array;
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

export interface AugmentOptions {
  /** Zero padding before the random crop; 0 disables cropping. The paper uses 4. */
  pad: number;
  flip: boolean;
}

export const PAPER_AUGMENT: AugmentOptions = { pad: 4, flip: true };
export const NO_AUGMENT: AugmentOptions = { pad: 0, flip: false };

/**
 * Whether a run augments when the user did not say: only CIFAR-10, the paper's setting. Its
 * augmentation is tuned for ~160-epoch runs; in the 3-epoch default run on Fashion-MNIST the net
 * underfits with it (ResNet-20 in PyTorch, bench/torch_fmnist.py: 90.6% test with it, 92.3%
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
