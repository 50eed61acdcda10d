/**
 * A data set in memory: the one shape every source produces (IDX and CIFAR files, the synthetic
 * set, decoded images), so the loader and the trainer never care where the pixels came from.
 * Nothing here reads a file: it is part of the core that runs in a browser.
 */
import { generateSynthetic, SYNTHETIC_CLASSES } from "./synthetic.ts";

/**
 * Labelled images in memory, NCHW.
 *
 * @example
 * ```ts
 * import type { Dataset } from "@resgpu/resgpu";
 * const tiny: Dataset = {
 *   images: new Uint8Array(2 * 1 * 4 * 4), labels: Uint8Array.of(0, 1), count: 2,
 *   channels: 1, height: 4, width: 4, classes: 2, name: "tiny",
 * };
 * ```
 */
export interface Dataset {
  /** count × channels × height × width; Uint8 in 0..255, Float32 in [0, 1]. */
  images: Uint8Array | Float32Array;
  /** One class index per image, each below `classes`. */
  labels: Uint8Array;
  /** Images in the set. */
  count: number;
  /** Channels per image (1 grey, 3 colour). */
  channels: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Number of classes. */
  classes: number;
  /** Names the set in messages and logs (e.g. `fashion-mnist/train`). */
  name: string;
  /** A name per class, when the source has them. */
  classNames?: string[];
}

/** A training set and a test set of the same image shape and classes. */
export interface Splits {
  /** The images to train on. */
  train: Dataset;
  /** The held-out images to test on. */
  test: Dataset;
}

/**
 * The first `n` samples as views (no copy).
 *
 * @example
 * ```ts
 * import { subsetDataset, syntheticDataset } from "@resgpu/resgpu";
 * const { train } = syntheticDataset({ trainCount: 100 });
 * console.log(subsetDataset(train, 10).count); // 10
 * ```
 *
 * @throws {Error} `n` not a positive integer, or larger than the set (not a silent no-op).
 */
export function subsetDataset(ds: Dataset, n: number): Dataset {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`subset must be a positive integer: ${n}`);
  if (n > ds.count) {
    throw new Error(`subset ${n} is larger than ${ds.name} (${ds.count} samples)`);
  }
  const per = ds.channels * ds.height * ds.width;
  return {
    ...ds,
    images: ds.images.subarray(0, n * per),
    labels: ds.labels.subarray(0, n),
    count: n,
  };
}

/** Options of {@link syntheticDataset}. */
export interface SyntheticDatasetOptions {
  /** Draws both splits; the same seed gives the same images everywhere. Default 0. */
  seed?: number;
  /** Training images (default 10,000). */
  trainCount?: number;
  /** Test images (default 2,000). */
  testCount?: number;
  /** 1: grey 28×28 images (default); 3: colour 32×32. */
  channels?: 1 | 3;
}

/**
 * The synthetic set: ten classes of procedurally drawn shapes and textures (circle, square,
 * stripes, …) with random placement, scale, rotation and noise, drawn from the seed — a data set
 * that needs no file, so tests, demos and the browser page can train anywhere.
 *
 * @example
 * ```ts
 * import { syntheticDataset } from "@resgpu/resgpu";
 * const { train, test } = syntheticDataset({ seed: 1, trainCount: 512, testCount: 128 });
 * console.log(train.count, train.height, train.classNames?.[0]); // 512 28 circle
 * ```
 */
export function syntheticDataset(opts: SyntheticDatasetOptions = {}): Splits {
  const seed = opts.seed ?? 0;
  const channels = opts.channels ?? 1;
  const size = channels === 3 ? 32 : 28;
  const make = (count: number, s: number, split: string): Dataset => ({
    ...generateSynthetic({ count, seed: s, channels, size }),
    count,
    channels,
    height: size,
    width: size,
    classes: 10,
    name: `synthetic/${split}`,
    classNames: SYNTHETIC_CLASSES,
  });
  // Different seeds per split so test images are never copies of training images.
  return {
    train: make(opts.trainCount ?? 10000, seed * 2 + 1, "train"),
    test: make(opts.testCount ?? 2000, seed * 2 + 2, "test"),
  };
}
