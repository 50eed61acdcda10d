/**
 * Inference: logits, probabilities and top-k classes for up to `maxBatch` images per call, with
 * the model's batch norms in eval mode (running statistics).
 *
 * Planned once: one eval step plan per batch-size bucket (1, 2, 4, … up to maxBatch), all sharing
 * the largest plan's activation memory, so a call for n images runs the smallest bucket ≥ n and a
 * single image never pays for maxBatch work. A call writes its input, records the optional pixel
 * normalization, the forward pass and the optional softmax, and submits once with the readback.
 */
import type { Model } from "../model/model.ts";
import { buildStepPlan, type StepPlan } from "../scheduler/step_plan.ts";
import type { Step } from "../gpu/plan.ts";
import { type PixelFormat, planPixels, planSoftmaxRows } from "../ops/infer.ts";
import { DisposedError } from "../util/disposed.ts";
import { checkImages, type ImageBatch, type InputKind } from "./input.ts";

export type { ImageBatch, InputKind };

/** How a call's `x` holds its images (defaults from {@link PredictorOptions}). */
export interface InputOptions {
  /**
   * "normalized": f32 NCHW, already normalized (the network's input as is; a Float32Array).
   * "pixels": raw pixels — a Uint8Array (or Uint8ClampedArray) of 0…255, or a Float32Array in
   * [0, 1] — normalized on the GPU with the model's preprocessing (mean/std per channel).
   */
  input?: InputKind;
  /** Order of raw pixels: "hwc" (channel fastest, as decoders give them) or "chw". */
  layout?: "hwc" | "chw";
}

/** Options of {@link Predictor.create}. */
export interface PredictorOptions extends InputOptions {
  /** Most images per call (default 1). */
  maxBatch?: number;
  /**
   * Batch sizes planned, ascending, the last one `maxBatch` (default: powers of two below
   * maxBatch, then maxBatch). A call for n images runs the smallest bucket ≥ n.
   */
  buckets?: number[];
}

/** One of an image's most probable classes. */
export interface TopClass {
  /** Class index. */
  index: number;
  /** Its softmax probability. */
  probability: number;
  /** The class's name, when the model's preprocessing has class names. */
  label?: string;
}

interface Bucket {
  size: number;
  plan: StepPlan;
  softmax: Step[];
  pixels: Map<string, Step[]>;
}

/**
 * Runs a model for inference. The model stays the caller's; dispose the predictor (or the model,
 * or the runtime) when done.
 *
 * ```ts
 * import { buildModel, Model, Predictor, Runtime } from "@resgpu/resgpu";
 * const rt = await Runtime.create();
 * const model = Model.create(rt, buildModel("resnet18", { inputShape: [3, 64, 64], classes: 10 }));
 * using predictor = await Predictor.create(model, { maxBatch: 4, input: "pixels" });
 * const image = new Uint8Array(64 * 64 * 3); // one RGB image, HWC, 0…255
 * const [top] = await predictor.topK(image, 1, 3);
 * console.log(top.map((t) => `${t.index}: ${t.probability.toFixed(3)}`));
 * ```
 */
export class Predictor {
  #disposed = false;
  #statsKey = "";
  #u8Pad: Uint8Array<ArrayBuffer> | null = null;

  private constructor(
    readonly model: Model,
    /** Most images per call. */
    readonly maxBatch: number,
    private buckets: Bucket[],
    private pixelsIn: GPUBuffer,
    private stats: GPUBuffer,
    private probs: GPUBuffer,
    private defaults: Required<InputOptions>,
  ) {}

  /** Plans every bucket (compiling what it needs); calls then only record and submit. */
  static async create(model: Model, opts: PredictorOptions = {}): Promise<Predictor> {
    model.assertLive("Predictor.create");
    const maxBatch = opts.maxBatch ?? 1;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    }
    const sizes = opts.buckets ?? defaultBuckets(maxBatch);
    checkBuckets(sizes, maxBatch);
    const defaults = checkInputOptions({ input: "normalized", layout: "hwc", ...opts });
    const rt = model.rt, [c, h, w] = model.graph.inputShape, classes = model.graph.classes;
    const buckets: Bucket[] = [];
    const pixelsIn = rt.pool.acquire(maxBatch * c * h * w * 4, "predictor pixels");
    const stats = rt.pool.acquire(c * 8, "predictor normalization");
    const probs = rt.pool.acquire(maxBatch * classes * 4, "predictor probabilities");
    try {
      // The largest plan first: the smaller ones run in its slots (same slots, each no larger).
      let shared: readonly GPUBuffer[] | undefined;
      for (const size of [...sizes].reverse()) {
        const plan = await buildStepPlan(model, { batchSize: size, mode: "eval", slots: shared });
        shared ??= plan.slots;
        const softmax = await planSoftmaxRows(rt, { rows: size, classes }, {
          logits: plan.logits,
          probs,
        });
        buckets.unshift({ size, plan, softmax: softmax.steps, pixels: new Map() });
      }
    } catch (e) {
      // Smaller plans first: the largest one owns the shared slots.
      for (const b of buckets) b.plan.dispose();
      for (const b of [pixelsIn, stats, probs]) rt.pool.release(b);
      throw e;
    }
    return new Predictor(model, maxBatch, buckets, pixelsIn, stats, probs, defaults);
  }

  /** The planned batch sizes, ascending. */
  get bucketSizes(): number[] {
    return this.buckets.map((b) => b.size);
  }

  /**
   * Logits of `n` images: a Float32Array of n × classes, row-major. `x` holds exactly n images
   * as `opts` (or the predictor's defaults) say.
   */
  logits(x: ImageBatch, n: number, opts: InputOptions = {}): Promise<Float32Array> {
    return this.#run("Predictor.logits", x, n, opts, false);
  }

  /** Softmax probabilities of `n` images: a Float32Array of n × classes, rows summing to 1. */
  probabilities(x: ImageBatch, n: number, opts: InputOptions = {}): Promise<Float32Array> {
    return this.#run("Predictor.probabilities", x, n, opts, true);
  }

  /** The `k` most probable classes of each of `n` images, most probable first. */
  async topK(x: ImageBatch, n: number, k: number, opts: InputOptions = {}): Promise<TopClass[][]> {
    const classes = this.model.graph.classes;
    if (!Number.isInteger(k) || k < 1 || k > classes) {
      throw new RangeError(`k must be an integer in 1…${classes} (the model's classes), got ${k}`);
    }
    const p = await this.#run("Predictor.topK", x, n, opts, true);
    const names = this.model.preprocessing.classNames;
    const out: TopClass[][] = [];
    for (let i = 0; i < n; i++) {
      const row = p.subarray(i * classes, (i + 1) * classes);
      // Ties keep the lower index first, as torch.topk on CPU does.
      const idx = Array.from({ length: classes }, (_, j) => j)
        .sort((a, b) => row[b] - row[a] || a - b)
        .slice(0, k);
      out.push(idx.map((j) => ({
        index: j,
        probability: row[j],
        ...(names ? { label: names[j] } : {}),
      })));
    }
    return out;
  }

  async #run(
    user: string,
    x: ImageBatch,
    n: number,
    opts: InputOptions,
    softmax: boolean,
  ): Promise<Float32Array> {
    this.assertLive(user);
    const o = checkInputOptions({ ...this.defaults, ...opts });
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`${user}: n must be a positive integer, got ${n}`);
    }
    if (n > this.maxBatch) {
      throw new RangeError(
        `${user}: ${n} images exceed this predictor's maxBatch of ${this.maxBatch}`,
      );
    }
    const format = checkImages(user, x, n, this.model.graph.inputShape, o.input, o.layout);
    const bucket = this.buckets.find((b) => b.size >= n)!;
    // Everything that awaits comes before the first write, so concurrent calls cannot interleave
    // their writes and records.
    const pixels = format ? await this.#pixelSteps(bucket, format) : null;
    this.assertLive(user);
    const rt = this.model.rt, classes = this.model.graph.classes;
    if (pixels) {
      this.#writeStats();
      this.#writePixels(x);
      rt.replay(pixels);
    } else {
      rt.write(bucket.plan.input, 0, x as Float32Array<ArrayBuffer>);
    }
    rt.replay(bucket.plan.forward);
    if (softmax) rt.replay(bucket.softmax);
    const out = softmax ? this.probs : bucket.plan.logits;
    return new Float32Array(await rt.read(out, n * classes * 4));
  }

  async #pixelSteps(bucket: Bucket, format: PixelFormat): Promise<Step[]> {
    const key = `${format.type}:${format.layout}`;
    let steps = bucket.pixels.get(key);
    if (!steps) {
      const [c, h, w] = this.model.graph.inputShape;
      const planned = await planPixels(this.model.rt, { n: bucket.size, c, h, w }, {
        src: this.pixelsIn,
        stats: this.stats,
        out: bucket.plan.input,
      }, format);
      steps = planned.steps;
      bucket.pixels.set(key, steps);
    }
    return steps;
  }

  /** The model's current normalization, written only when it changed. */
  #writeStats(): void {
    const { mean, std } = this.model.preprocessing;
    const key = `${mean}|${std}`;
    if (key === this.#statsKey) return;
    const data = new Float32Array(mean.length * 2);
    mean.forEach((m, c) => {
      data[2 * c] = m;
      data[2 * c + 1] = std[c];
    });
    this.model.rt.write(this.stats, 0, data);
    this.#statsKey = key;
  }

  #writePixels(x: ImageBatch): void {
    const rt = this.model.rt;
    if (x instanceof Float32Array) {
      rt.write(this.pixelsIn, 0, x as Float32Array<ArrayBuffer>);
      return;
    }
    // Queue writes move whole 4-byte words: pad a byte count that is not a multiple of 4.
    const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength) as Uint8Array<ArrayBuffer>;
    if (bytes.length % 4 === 0 && bytes.buffer instanceof ArrayBuffer) {
      rt.write(this.pixelsIn, 0, bytes);
      return;
    }
    const padded = Math.ceil(bytes.length / 4) * 4;
    if (!this.#u8Pad || this.#u8Pad.length < padded) this.#u8Pad = new Uint8Array(padded);
    this.#u8Pad.set(bytes);
    rt.write(this.pixelsIn, 0, this.#u8Pad.subarray(0, padded));
  }

  /** Whether {@link dispose} ran, or the model or runtime this predictor uses is gone. */
  get disposed(): boolean {
    return this.#disposed || this.model.disposed;
  }

  /** Throws a {@link DisposedError} naming `user` when this predictor, its model or runtime is gone. */
  assertLive(user = "Predictor"): void {
    if (this.#disposed) throw new DisposedError(`${user}: this predictor was disposed`);
    this.model.assertLive(user);
  }

  /** Returns the predictor's plans and buffers to the pool (the model stays). Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const rt = this.model.rt;
    for (const b of this.buckets) b.plan.dispose();
    if (rt.disposed) return;
    for (const b of [this.pixelsIn, this.stats, this.probs]) rt.pool.release(b);
  }

  /** {@link dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Powers of two below maxBatch, then maxBatch. */
export function defaultBuckets(maxBatch: number): number[] {
  const out: number[] = [];
  for (let b = 1; b < maxBatch; b *= 2) out.push(b);
  out.push(maxBatch);
  return out;
}

function checkBuckets(sizes: readonly number[], maxBatch: number): void {
  if (!Array.isArray(sizes) || sizes.length === 0) {
    throw new RangeError("buckets must be a non-empty array of batch sizes");
  }
  sizes.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 1 || (i > 0 && s <= sizes[i - 1])) {
      throw new RangeError(`buckets must be ascending positive integers, got [${sizes}]`);
    }
  });
  if (sizes[sizes.length - 1] !== maxBatch) {
    throw new RangeError(`the last bucket must be maxBatch (${maxBatch}), got [${sizes}]`);
  }
}

function checkInputOptions(o: InputOptions): Required<InputOptions> {
  if (o.input !== "normalized" && o.input !== "pixels") {
    throw new RangeError(`input must be "normalized" or "pixels", got ${JSON.stringify(o.input)}`);
  }
  if (o.layout !== "hwc" && o.layout !== "chw") {
    throw new RangeError(`layout must be "hwc" or "chw", got ${JSON.stringify(o.layout)}`);
  }
  return { input: o.input, layout: o.layout };
}
