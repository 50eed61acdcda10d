/**
 * The image-folder batch loader: decodes and transforms on a pool of Deno workers, several
 * batches ahead, so the training loop only waits when decoding is slower than a step. Same shape
 * as BatchLoader (next(), epoch(), state/restore, batchesPerEpoch), so the training run drives
 * either.
 *
 * Randomness is counter-based as in BatchLoader: the epoch's order from Rng(seed, epoch), each
 * sample's crop and flip from Rng(seed, epoch, batch, index) — whichever worker decodes it — so
 * batches do not depend on the number of workers or on timing, and a restored state resumes the
 * same stream.
 *
 * A file that fails to decode is, with `onBadImage: "fail"`, an error naming it; with "skip" it is
 * remembered and counted, and its place is taken — in a training batch by the next good sample
 * of the epoch's order (batches stay full), in an evaluation batch by moving the rest up (the
 * batch's `size` shrinks, so it is not counted).
 */
import { Rng } from "../util/rng.ts";
import { batchGeometry } from "../data/batch_geometry.ts";
import { DisposedError } from "../util/disposed.ts";
import type { Batch, LoaderState } from "../data/loader.ts";
import type { DecodeLimits } from "./header.ts";
import type { ImageTransform } from "./transforms.ts";
import type { ImageList } from "./folder.ts";
import { cacheBytes } from "./cache.ts";
import { loadSample } from "./sample.ts";
import type { WorkerJob, WorkerResult } from "./decode_worker.ts";

const PERM_TAG = 0x5f1e;

/** Options of {@link ImageBatchLoader}. */
export interface ImageLoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** What each image goes through (a preset from transformPreset). */
  transform: ImageTransform;
  /** Shuffle each epoch (training). */
  shuffle?: boolean;
  /** Drop the last partial batch (training) or keep it (evaluation). */
  dropLast?: boolean;
  /** Seed of the order and of the random transforms (0). */
  seed?: number;
  /** Decode workers (default: the machine's cores, at least 1). */
  workers?: number;
  /** Batches decoded ahead of the one being trained on (default 2). */
  prefetch?: number;
  /** What a file that fails to decode does: "fail" (default) throws, "skip" replaces it. */
  onBadImage?: "skip" | "fail";
  /** Decoding limits (DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE). */
  limits?: DecodeLimits;
  /** Decoded-image cache: a directory and its size limit in bytes. */
  cache?: { dir: string; maxBytes: number };
}

/** A file skipped because it failed to decode, and why. */
export interface SkippedImage {
  /** The file. */
  path: string;
  /** Why it failed. */
  message: string;
}

interface Pending {
  promise: Promise<Batch>;
}

/**
 * Batches of an {@link ImageList}, decoded on workers.
 *
 * ```ts
 * import { ImageBatchLoader, scanImageFolder, transformPreset } from "@resgpu/resgpu/images";
 * const { train } = scanImageFolder("photos/");
 * using loader = new ImageBatchLoader(train, {
 *   batchSize: 32, transform: transformPreset("torchvision"), shuffle: true, dropLast: true,
 * });
 * for await (const b of loader.epoch()) console.log(b.index, b.x.length, b.y);
 * ```
 */
export class ImageBatchLoader {
  /** Images per batch. */
  readonly batchSize: number;
  /** Images in the list. */
  readonly count: number;
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
  /** Size of an epoch's last batch. */
  readonly lastBatchSize: number;
  /** Floats per sample (channels × size × size). */
  readonly sampleSize: number;
  /** Decode workers. */
  readonly workers: number;

  #list: ImageList;
  #opts: Required<Omit<ImageLoaderOptions, "cache" | "limits">> & { limits: DecodeLimits };
  #pool: Worker[] = [];
  /** The first error of a worker that died; every later request fails with it. */
  #workerError: string | undefined;
  #resolvers = new Map<number, (r: WorkerResult) => void>();
  #nextId = 0;
  #epoch = 0;
  #batch = 0;
  #perm: Int32Array;
  #permEpoch = -1;
  #pending = new Map<string, Pending>();
  #slots: Float32Array[];
  #labels: Int32Array[];
  #slot = 0;
  #bad = new Map<string, string>();
  #rng = new Rng();
  #disposed = false;
  #generation = 0;
  /** Milliseconds next() spent waiting for a batch not yet decoded, in all. */
  waitMs = 0;
  /** Milliseconds the workers spent decoding, in all. */
  decodeMs = 0;

  /** Starts the workers; call dispose() to stop them. */
  constructor(list: ImageList, opts: ImageLoaderOptions) {
    const n = list.files.length;
    if (n === 0) throw new RangeError(`${list.name}: no images`);
    const dropLast = opts.dropLast ?? false;
    this.#list = list;
    this.count = n;
    this.batchSize = opts.batchSize;
    ({ batchesPerEpoch: this.batchesPerEpoch, lastBatchSize: this.lastBatchSize } = batchGeometry(
      list.name,
      n,
      opts.batchSize,
      dropLast,
    ));
    const t = opts.transform;
    this.sampleSize = t.mean.length * t.size * t.size;
    const workers = opts.workers ?? Math.max(1, navigator.hardwareConcurrency ?? 1);
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`workers must be a positive integer: ${workers}`);
    }
    this.workers = workers;
    this.#opts = {
      batchSize: opts.batchSize,
      transform: t,
      shuffle: opts.shuffle ?? false,
      dropLast,
      seed: opts.seed ?? 0,
      workers,
      prefetch: Math.max(1, opts.prefetch ?? 2),
      onBadImage: opts.onBadImage ?? "fail",
      limits: opts.limits ?? {},
    };
    this.#perm = new Int32Array(n);
    const slots = this.#opts.prefetch + 2;
    this.#slots = Array.from(
      { length: slots },
      () => new Float32Array(this.batchSize * this.sampleSize),
    );
    this.#labels = Array.from({ length: slots }, () => new Int32Array(this.batchSize));
    let budget: { dir: string; left: number } | undefined;
    if (opts.cache) {
      Deno.mkdirSync(opts.cache.dir, { recursive: true });
      budget = {
        dir: opts.cache.dir,
        left: Math.max(0, opts.cache.maxBytes - cacheBytes(opts.cache.dir)),
      };
    }
    for (let w = 0; w < workers; w++) {
      const worker = new Worker(new URL("./decode_worker.ts", import.meta.url), { type: "module" });
      worker.onmessage = (e: MessageEvent<WorkerResult>) => {
        const resolve = this.#resolvers.get(e.data.id);
        this.#resolvers.delete(e.data.id);
        resolve?.(e.data);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        // A worker that died (it could not even load, say, without read permission for its
        // module) answers nothing more: later requests fail at once instead of waiting forever.
        this.#workerError ??= e.message;
        for (const r of this.#resolvers.values()) {
          r({ id: -1, x: new Float32Array(0), failed: [{ j: -1, message: e.message }], ms: 0 });
        }
        this.#resolvers.clear();
      };
      worker.postMessage({
        init: true,
        cache: budget && { dir: budget.dir, left: Math.floor(budget.left / workers) },
      });
      this.#pool.push(worker);
    }
  }

  /** Files skipped so far (onBadImage "skip"), each with its error. */
  get skipped(): SkippedImage[] {
    return [...this.#bad].map(([path, message]) => ({ path, message }));
  }

  /** Position of the next batch (saved in checkpoints). */
  get state(): LoaderState {
    return this.#batch >= this.batchesPerEpoch
      ? { seed: this.#opts.seed, epoch: this.#epoch + 1, batch: 0 }
      : { seed: this.#opts.seed, epoch: this.#epoch, batch: this.#batch };
  }

  /** Continues from a saved position; batches in flight are discarded. */
  restore(state: LoaderState): void {
    if (!(state.batch >= 0 && state.batch <= this.batchesPerEpoch) || !(state.epoch >= 0)) {
      throw new Error(`loader state out of range: epoch ${state.epoch}, batch ${state.batch}`);
    }
    this.#opts.seed = state.seed;
    this.#epoch = state.epoch;
    this.#batch = state.batch;
    this.#permEpoch = -1;
    this.#pending.clear();
    this.#generation++;
  }

  /** The next batch, rolling over into the next epoch after one with `last` set. */
  /** The next batch, rolling over into the next epoch after one with `last` set. */
  async next(): Promise<Batch> {
    if (this.#disposed) throw new DisposedError("ImageBatchLoader.next: the loader was disposed");
    if (this.#batch >= this.batchesPerEpoch) {
      this.#epoch++;
      this.#batch = 0;
    }
    const epoch = this.#epoch, k = this.#batch;
    const t0 = performance.now();
    const batch = await this.#request(epoch, k).promise;
    this.#pending.delete(`${epoch}:${k}`);
    this.waitMs += performance.now() - t0;
    this.#batch = k + 1;
    for (let a = 1; a <= this.#opts.prefetch; a++) {
      let [e2, k2] = [epoch, k + a];
      if (k2 >= this.batchesPerEpoch) [e2, k2] = [epoch + 1, k2 - this.batchesPerEpoch];
      this.#request(e2, k2);
    }
    return batch;
  }

  /** Iterates the rest of the current epoch. */
  async *epoch(): AsyncGenerator<Batch> {
    while (true) {
      const b = await this.next();
      yield b;
      if (b.last) return;
    }
  }

  /** Stops the workers; idempotent. next() afterwards throws DisposedError. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const w of this.#pool) w.terminate();
    this.#pool = [];
    this.#pending.clear();
  }

  /** Same as dispose(). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  #permutation(epoch: number): Int32Array {
    if (this.#permEpoch !== epoch) {
      const p = this.#perm;
      for (let i = 0; i < p.length; i++) p[i] = i;
      if (this.#opts.shuffle) this.#rng.seed(this.#opts.seed, epoch, PERM_TAG).shuffle(p);
      this.#permEpoch = epoch;
    }
    return this.#perm;
  }

  #request(epoch: number, k: number): Pending {
    const key = `${epoch}:${k}`;
    let p = this.#pending.get(key);
    if (!p) {
      p = { promise: this.#load(epoch, k) };
      // A failure surfaces when next() reaches this batch, not as an unhandled rejection now.
      p.promise.catch(() => {});
      this.#pending.set(key, p);
    }
    return p;
  }

  async #load(epoch: number, k: number): Promise<Batch> {
    const perm = Int32Array.from(this.#permutation(epoch));
    const start = k * this.batchSize;
    const size = Math.min(this.batchSize, this.count - start);
    const slotIndex = this.#slot++ % this.#slots.length;
    const x = this.#slots[slotIndex], y = this.#labels[slotIndex];
    const per = this.sampleSize;
    const seed = this.#opts.seed;
    const chunks = Math.min(this.workers, size);
    const jobs: Promise<[number, WorkerResult]>[] = [];
    for (let c = 0; c < chunks; c++) {
      const from = Math.floor((c * size) / chunks), to = Math.floor(((c + 1) * size) / chunks);
      const files = [];
      for (let i = from; i < to; i++) files.push(this.#list.files[perm[start + i]]);
      const id = this.#nextId++;
      const job: WorkerJob = {
        id,
        files,
        key: [seed, epoch, k, from],
        transform: this.#opts.transform,
        limits: this.#opts.limits,
      };
      jobs.push(
        new Promise((resolve) => {
          if (this.#workerError !== undefined) {
            resolve([from, {
              id: -1,
              x: new Float32Array(0),
              failed: [{ j: -1, message: this.#workerError }],
              ms: 0,
            }]);
            return;
          }
          this.#resolvers.set(id, (r) => resolve([from, r]));
          this.#pool[c % this.#pool.length].postMessage(job);
        }),
      );
    }
    const gen = this.#generation;
    const results = await Promise.all(jobs);
    if (this.#disposed || gen !== this.#generation) {
      throw new DisposedError("ImageBatchLoader: batch discarded");
    }
    const failed: { i: number; message: string }[] = [];
    for (const [from, r] of results) {
      if (r.id === -1) throw new Error(`image loader worker failed: ${r.failed[0]?.message}`);
      this.decodeMs += r.ms;
      x.set(r.x, from * per);
      for (const f of r.failed) failed.push({ i: from + f.j, message: f.message });
    }
    for (let i = 0; i < size; i++) y[i] = this.#list.labels[perm[start + i]];
    let kept = size;
    if (failed.length > 0) kept = this.#handleBad(failed, perm, epoch, k, start, size, x, y);
    x.fill(0, kept * per);
    y.fill(-1, kept);
    return { x, y, size: kept, epoch, index: k, last: k === this.batchesPerEpoch - 1 };
  }

  /** Replaces (training) or drops (evaluation) the failed samples; returns the batch's size. */
  #handleBad(
    failed: { i: number; message: string }[],
    perm: Int32Array,
    epoch: number,
    k: number,
    start: number,
    size: number,
    x: Float32Array,
    y: Int32Array,
  ): number {
    const per = this.sampleSize;
    for (const f of failed) {
      const path = this.#list.files[perm[start + f.i]];
      if (this.#opts.onBadImage === "fail") {
        throw new Error(`${path}: ${f.message} (--on-bad-image skip skips such files)`);
      }
      this.#bad.set(path, f.message);
    }
    if (!this.#opts.dropLast) {
      // Evaluation: move the good samples up, in order.
      const bad = new Set(failed.map((f) => f.i));
      let o = 0;
      for (let i = 0; i < size; i++) {
        if (bad.has(i)) continue;
        if (o !== i) {
          x.copyWithin(o * per, i * per, (i + 1) * per);
          y[o] = y[i];
        }
        o++;
      }
      return o;
    }
    // Training: the next good file of the epoch's order after the batch takes each failed place.
    let probe = start + size;
    for (const f of failed) {
      for (let tries = 0;; tries++) {
        if (tries >= this.count) throw new Error(`${this.#list.name}: no image decodes`);
        const idx = perm[probe++ % this.count];
        const path = this.#list.files[idx];
        if (this.#bad.has(path)) continue;
        try {
          loadSample(
            path,
            [this.#opts.seed, epoch, k, f.i],
            this.#opts.transform,
            this.#opts.limits,
            x,
            f.i * per,
            this.#rng,
          );
          y[f.i] = this.#list.labels[idx];
          break;
        } catch (e) {
          this.#bad.set(path, e instanceof Error ? e.message : String(e));
        }
      }
    }
    return size;
  }
}
