/**
 * Batch loader: fills normalized (and, for training, augmented) NCHW batches into two
 * preallocated buffer pairs, preparing batch k+1 in a macrotask while the caller awaits the GPU
 * on batch k.
 *
 * All randomness is counter-based: the epoch's permutation comes from Rng(seed, epoch) and a
 * batch's augmentation from Rng(seed, epoch, batch). So the whole loader state is
 * {seed, epoch, batch}, it is unaffected by prefetching, and restoring it resumes the exact same
 * stream of batches.
 */

import {
  type AugmentOptions,
  type ChannelStats,
  NO_AUGMENT,
  Normalizer,
  PAPER_AUGMENT,
  pixelScale,
  type SampleTransform,
  writeSample,
} from "./augment.ts";
import { Rng } from "../util/rng.ts";
import { batchGeometry } from "./batch_geometry.ts";
import type { Dataset } from "./in_memory.ts";

const PERM_TAG = 0x5f1e;
const AUG_TAG = 0xa06;

/**
 * Options of the {@link BatchLoader} constructor ({@link BatchLoader.train} and
 * {@link BatchLoader.test} set the usual ones).
 */
export interface LoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Normalization statistics, normally `computeChannelStats(train)`. */
  stats: ChannelStats;
  /** Visit the samples in a fresh random order every epoch (default false). */
  shuffle?: boolean;
  /** Random crop and flip (default none). */
  augment?: AugmentOptions;
  /** Drop the last partial batch (training) or keep it (evaluation). */
  dropLast?: boolean;
  /** Seeds the order and the augmentation (default 0). */
  seed?: number;
  /** Use only the first N samples. */
  subset?: number;
}

/** One batch, normalized NCHW, in a buffer the loader reuses. */
export interface Batch {
  /** batchSize × C × H × W; rows past `size` are zero. Valid until the next `next()` call. */
  x: Float32Array;
  /** batchSize labels; rows past `size` are -1. */
  y: Int32Array;
  /** Real samples in this batch (less than batchSize only for a kept last partial batch). */
  size: number;
  /** The epoch it belongs to (0-based). */
  epoch: number;
  /** Batch index within the epoch. */
  index: number;
  /** Whether it is the epoch's last batch. */
  last: boolean;
}

/** A loader's whole position: restoring it resumes the exact same stream of batches. */
export interface LoaderState {
  /** The seed of the shuffle and augmentation streams. */
  seed: number;
  /** The epoch the next batch belongs to (epochs completed, at an epoch's end). */
  epoch: number;
  /** Next batch to be returned within `epoch`. */
  batch: number;
}

/**
 * Batches of a {@link Dataset} for training or testing: normalized (and, for training, shuffled
 * and augmented) NCHW f32 in two reused buffers, the next batch prepared while the caller waits
 * on the GPU with the current one. Deterministic in its seed: {@link BatchLoader.state} and
 * {@link BatchLoader.restore} resume the exact same stream.
 *
 * @example
 * ```ts
 * import { BatchLoader, computeChannelStats, syntheticDataset } from "@resgpu/resgpu";
 * const { train } = syntheticDataset({ trainCount: 256 });
 * const stats = computeChannelStats(train);
 * const loader = BatchLoader.train(train, { batchSize: 64, stats, seed: 0 });
 * for await (const b of loader.epoch()) console.log(b.index, b.x.length, b.y.length); // 4 batches
 * ```
 */
export class BatchLoader {
  /** Images per batch. */
  readonly batchSize: number;
  /** Samples it draws from (the data set, or its subset). */
  readonly count: number;
  /** Batches in one epoch. */
  readonly batchesPerEpoch: number;
  /** Size of the final batch of an epoch (= batchSize when the last partial one is dropped). */
  readonly lastBatchSize: number;
  /** Floats per sample (C·H·W). */
  readonly sampleSize: number;

  #ds: Dataset;
  #norm: Normalizer;
  #aug: AugmentOptions;
  #shuffle: boolean;
  #seed: number;
  #epoch = 0;
  #batch = 0;
  #slots: Batch[];
  #perm: Int32Array;
  #permEpoch = -1;
  #rng = new Rng();
  #t: SampleTransform = { dy: 0, dx: 0, flip: false };
  #pending: Promise<Batch> | null = null;
  /** Bumped by restore() so a prefetch scheduled before it is discarded. */
  #generation = 0;

  /**
   * A loader over `ds`.
   *
   * @throws {Error} a bad batch size or subset, or statistics of another channel count (named).
   */
  constructor(ds: Dataset, opts: LoaderOptions) {
    const n = opts.subset ?? ds.count;
    if (ds.count === 0) throw new Error(`${ds.name}: the data set has no images`);
    if (!Number.isInteger(n) || n <= 0 || n > ds.count) {
      throw new Error(`${ds.name}: subset ${n} out of range 1..${ds.count}`);
    }
    if (opts.stats.mean.length !== ds.channels) {
      throw new Error(
        `${ds.name}: stats have ${opts.stats.mean.length} channels, data has ${ds.channels}`,
      );
    }
    this.#ds = ds;
    this.count = n;
    this.batchSize = opts.batchSize;
    ({ batchesPerEpoch: this.batchesPerEpoch, lastBatchSize: this.lastBatchSize } = batchGeometry(
      ds.name,
      n,
      opts.batchSize,
      opts.dropLast ?? false,
    ));
    this.sampleSize = ds.channels * ds.height * ds.width;
    this.#norm = new Normalizer(opts.stats, pixelScale(ds));
    this.#aug = opts.augment ?? NO_AUGMENT;
    this.#shuffle = opts.shuffle ?? false;
    this.#seed = opts.seed ?? 0;
    this.#perm = new Int32Array(n);
    this.#slots = [0, 1].map(() => ({
      x: new Float32Array(this.batchSize * this.sampleSize),
      y: new Int32Array(this.batchSize),
      size: 0,
      epoch: 0,
      index: 0,
      last: false,
    }));
  }

  /** Shuffled, paper-augmented, last partial batch dropped. */
  static train(
    ds: Dataset,
    opts: { batchSize: number; stats: ChannelStats; seed?: number; subset?: number } & {
      augment?: AugmentOptions;
    },
  ): BatchLoader {
    return new BatchLoader(ds, { augment: PAPER_AUGMENT, ...opts, shuffle: true, dropLast: true });
  }

  /** In order, no augmentation, last partial batch kept. */
  static test(
    ds: Dataset,
    opts: { batchSize: number; stats: ChannelStats; subset?: number },
  ): BatchLoader {
    return new BatchLoader(ds, { ...opts, shuffle: false, augment: NO_AUGMENT, dropLast: false });
  }

  /** Position of the next batch; an epoch that has been fully consumed reads as the next one. */
  get state(): LoaderState {
    return this.#batch >= this.batchesPerEpoch
      ? { seed: this.#seed, epoch: this.#epoch + 1, batch: 0 }
      : { seed: this.#seed, epoch: this.#epoch, batch: this.#batch };
  }

  /**
   * Continues from `state` (as saved by {@link BatchLoader.state}): the same batches follow.
   *
   * @throws {Error} a state out of range for this loader.
   */
  restore(state: LoaderState): void {
    if (!(state.batch >= 0 && state.batch <= this.batchesPerEpoch) || !(state.epoch >= 0)) {
      throw new Error(
        `loader state out of range: epoch ${state.epoch}, batch ${state.batch} ` +
          `(epoch has ${this.batchesPerEpoch} batches)`,
      );
    }
    this.#seed = state.seed;
    this.#epoch = state.epoch;
    this.#batch = state.batch;
    this.#permEpoch = -1;
    this.#pending = null;
    this.#generation++;
  }

  /** The next batch, rolling over into the next epoch after a batch with `last` set. */
  async next(): Promise<Batch> {
    if (this.#batch >= this.batchesPerEpoch) {
      this.#epoch++;
      this.#batch = 0;
      this.#pending = null;
    }
    const k = this.#batch;
    const batch = this.#pending ? await this.#pending : this.#fill(this.#epoch, k);
    this.#pending = null;
    this.#batch = k + 1;
    if (k + 1 < this.batchesPerEpoch) this.#prefetch(this.#epoch, k + 1);
    return batch;
  }

  /** Iterates the rest of the current epoch, or the next epoch if the current one is done. */
  async *epoch(): AsyncGenerator<Batch> {
    while (true) {
      const b = await this.next();
      yield b;
      if (b.last) return;
    }
  }

  #prefetch(epoch: number, k: number): void {
    const gen = this.#generation;
    this.#pending = new Promise((resolve) => {
      macrotask(() => {
        // A restore() in between made this batch stale; next() will fill synchronously.
        if (gen === this.#generation) resolve(this.#fill(epoch, k));
      });
    });
  }

  #permutation(epoch: number): Int32Array {
    if (this.#permEpoch !== epoch) {
      const p = this.#perm;
      for (let i = 0; i < p.length; i++) p[i] = i;
      if (this.#shuffle) this.#rng.seed(this.#seed, epoch, PERM_TAG).shuffle(p);
      this.#permEpoch = epoch;
    }
    return this.#perm;
  }

  #fill(epoch: number, k: number): Batch {
    const slot = this.#slots[k & 1];
    const perm = this.#permutation(epoch);
    const start = k * this.batchSize;
    const size = Math.min(this.batchSize, this.count - start);
    const { pad, flip } = this.#aug;
    const rng = this.#rng.seed(this.#seed, epoch, k, AUG_TAG);
    const t = this.#t;
    const per = this.sampleSize;
    for (let i = 0; i < size; i++) {
      const idx = perm[start + i];
      t.dy = pad > 0 ? rng.int(2 * pad + 1) : 0;
      t.dx = pad > 0 ? rng.int(2 * pad + 1) : 0;
      t.flip = flip && rng.next() < 0.5;
      writeSample(this.#ds, idx, this.#norm, t, pad, slot.x, i * per);
      slot.y[i] = this.#ds.labels[idx];
    }
    slot.x.fill(0, size * per);
    slot.y.fill(-1, size);
    slot.size = size;
    slot.epoch = epoch;
    slot.index = k;
    slot.last = k === this.batchesPerEpoch - 1;
    return slot;
  }
}

/**
 * Runs `fn` as a macrotask, i.e. after the caller's pending microtasks, so it overlaps with
 * whatever the caller awaits. Not setTimeout: nested timers get clamped (~2 ms a batch here, so
 * ~1 s per Fashion-MNIST epoch). A fresh channel each time, closed after use, because an open
 * MessagePort keeps the process alive.
 */
function macrotask(fn: () => void): void {
  const ch = new MessageChannel();
  ch.port1.onmessage = () => {
    ch.port1.close();
    fn();
  };
  ch.port2.postMessage(null);
}
