/**
 * Prediction on image files with a model rebuilt from a checkpoint or weights file (what
 * `deno task predict` runs): the images are decoded and put through the model's eval transform on
 * the image loader's workers, batches ahead, while the GPU runs the batch before on one
 * {@link Predictor}. A file that fails to decode is skipped (named, with its reason) or stops the
 * run, as `--on-bad-image` says.
 */
import { Runtime } from "../gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../host/deno_env.ts";
import { Predictor } from "../infer/predictor.ts";
import { ImageBatchLoader } from "../image/loader.ts";
import { type ImageTransform, transformPreset } from "../image/transforms.ts";
import { type Architecture, modelFromFile } from "./weights_model.ts";
import { collectImages, type SkippedFile } from "./image_inputs.ts";
import { formatDuration, ProgressReporter, type Sink } from "./progress.ts";

/** What to predict, and how. */
export interface PredictOptions {
  /** A run's checkpoint.safetensors or a weights file. */
  weights: string;
  /** Image files and folders. */
  inputs: string[];
  /**
   * Classes per image, capped at the model's classes (with a note); unset: 5, or all classes when
   * fewer.
   */
  top?: number;
  /** Images per GPU call. */
  batchSize: number;
  /** The model's zoo name, for a file that does not store it. */
  model?: string;
  /** Network input side, instead of the file's. */
  imageSize?: number;
  /** Shorter side after resizing, before the center crop, instead of the eval transform's. */
  resize?: number;
  /** Decode workers (default: the machine's cores). */
  workers?: number;
  /** A file that fails to decode: skipped (default) or an error. */
  onBadImage?: "skip" | "fail";
}

/** One of an image's most probable classes. */
export interface ClassScore {
  /** Class index. */
  index: number;
  /** Its name, when the file stores class names; else null. */
  name: string | null;
  /** Softmax probability. */
  probability: number;
}

/** One image's prediction. */
export interface ImagePrediction {
  /** The file. */
  file: string;
  /** Its most probable classes, most probable first. */
  top: ClassScore[];
}

/** What a prediction run did. */
export interface PredictResult {
  /** The weights file. */
  weights: string;
  /** The model's zoo name. */
  model: string;
  /** [C, H, W] the images were brought to. */
  inputShape: number[];
  /** Whether class names came from the file. */
  classNames: boolean;
  /** Every prediction, in input order. */
  predictions: ImagePrediction[];
  /** Files left out, with their reasons: not images by extension, or failed to decode. */
  skipped: SkippedFile[];
  /** The adapter that ran it. */
  adapter: string;
  /** Images per GPU call. */
  batchSize: number;
  /** Seconds from the first batch to the last prediction (model loading excluded). */
  seconds: number;
}

/** Where a prediction run reports as it goes. */
export interface PredictHooks {
  /** A runtime to use (default: one from the environment, disposed at the end). */
  runtime?: Runtime;
  /** Each batch's predictions, as soon as they are read back. */
  onPredictions?: (p: ImagePrediction[]) => void;
  /** One-line notes for the user (stderr in the CLI). */
  note?: (message: string) => void;
  /** Progress text (stderr in the CLI); none when unset or null. */
  progress?: Sink | null;
  /** Whether progress goes to a terminal (a live line) or a log (a line every ~30 s). */
  tty?: boolean;
}

/**
 * Predicts the top classes of every image under `opts.inputs` with the model in `opts.weights`.
 * Throws, naming the problem, for a missing path, a folder with no images, a file that is not a
 * weights file or does not say its model (without `model`), and, with `onBadImage: "fail"`, an
 * image that fails to decode.
 */
export async function predictImages(
  opts: PredictOptions,
  hooks: PredictHooks = {},
): Promise<PredictResult> {
  const note = hooks.note ?? (() => {});
  const inputs = collectImages(opts.inputs);
  for (const d of inputs.emptyDirs) note(`${d}: no PNG or JPEG images`);
  const rt = hooks.runtime ?? await Runtime.create(runtimeOptionsFromEnv());
  try {
    const { model, architecture } = await modelFromFile(rt, opts.weights, {
      model: opts.model,
      imageSize: opts.imageSize,
    });
    using _model = model;
    const [c, h, w] = model.graph.inputShape;
    const classes = model.graph.classes;
    const names = model.preprocessing.classNames;
    if (!names) note(`${opts.weights} stores no class names: classes are shown by index`);
    if (!architecture.preprocessing) {
      note(
        `${opts.weights} stores no normalization: pixels reach the network as [0, 1] values ` +
          "(tools/resgpu_torch.py convert --imagenet or --mean/--std stores one)",
      );
    }
    const k = Math.min(opts.top ?? 5, classes);
    if (opts.top !== undefined && k < opts.top) {
      note(`--top ${opts.top}: the model has ${classes} classes; showing ${k}`);
    }
    const transform = evalTransform(architecture, [c, h, w], model.preprocessing, opts.resize);
    const files = inputs.files;
    const batchSize = Math.min(opts.batchSize, files.length);
    const last = files.length - (Math.ceil(files.length / batchSize) - 1) * batchSize;
    using loader = new ImageBatchLoader(
      { files, labels: new Int32Array(files.length), classNames: [], name: "images" },
      {
        batchSize,
        transform,
        workers: Math.min(opts.workers ?? navigator.hardwareConcurrency ?? 1, files.length),
        onBadImage: opts.onBadImage ?? "skip",
      },
    );
    // The two batch sizes a run needs (full, last); a batch shrunk by skipped files runs in the
    // smallest one that holds it.
    using predictor = await Predictor.create(model, {
      maxBatch: batchSize,
      buckets: [...new Set([last, batchSize])].sort((a, b) => a - b),
    });
    const progress = !hooks.progress || loader.batchesPerEpoch < 2 ? null : new ProgressReporter({
      epochs: 1,
      totalSteps: loader.batchesPerEpoch,
      sink: hooks.progress,
      tty: hooks.tty ?? false,
      every: Number.MAX_SAFE_INTEGER,
      format: (s) =>
        `predict ${Math.min(s.step * batchSize, files.length)}/${files.length} images  ` +
        `${s.imagesPerSec ? Math.round(s.imagesPerSec) : "-"} img/s  ` +
        `ETA ${formatDuration(s.etaSec ?? NaN)}`,
    });
    const predictions: ImagePrediction[] = [];
    const per = c * h * w;
    const t0 = performance.now();
    let bad = 0, failedFiles = new Set<string>(), done = 0;
    // Off a terminal, a line at least every 30 s even while one batch takes longer.
    const heartbeat = progress ? setInterval(() => progress.tick(done), 5000) : undefined;
    try {
      for (let b = 0; b < loader.batchesPerEpoch; b++) {
        const batch = await loader.next();
        const inBatch = files.slice(b * batchSize, b * batchSize + batchSize);
        // Skipped files leave the batch and the rest move up, in order. (Batches decoded ahead may
        // have added theirs to the list already: membership, not a count, says which.)
        const failed = loader.skipped;
        if (failed.length !== bad) failedFiles = new Set(failed.map((s) => s.path));
        bad = failed.length;
        const kept = batch.size === inBatch.length
          ? inBatch
          : inBatch.filter((f) => !failedFiles.has(f));
        if (kept.length !== batch.size) {
          throw new Error(`internal: batch ${b} has ${batch.size} images for ${kept.length} files`);
        }
        if (batch.size > 0) {
          const top = await predictor.topK(batch.x.subarray(0, batch.size * per), batch.size, k);
          const out = top.map((t, i) => ({
            file: kept[i],
            top: t.map((s) => ({
              index: s.index,
              name: s.label ?? null,
              probability: s.probability,
            })),
          }));
          predictions.push(...out);
          hooks.onPredictions?.(out);
        }
        done = b + 1;
        progress?.update({
          epoch: 1,
          step: done,
          loss: NaN,
          accuracy: NaN,
          images: inBatch.length,
        });
      }
    } finally {
      clearInterval(heartbeat);
    }
    progress?.finish();
    const seconds = (performance.now() - t0) / 1000;
    return {
      weights: opts.weights,
      model: architecture.name,
      inputShape: [c, h, w],
      classNames: names !== undefined,
      predictions,
      skipped: [
        ...inputs.skipped,
        ...loader.skipped.map((s) => ({ file: s.path, reason: s.message })),
      ],
      adapter: rt.report.description,
      batchSize,
      seconds,
    };
  } finally {
    if (!hooks.runtime) rt.dispose();
  }
}

/**
 * The eval transform the model was evaluated with: a run's stored one (image-folder runs keep it
 * in their config); for a run on whole images at the input size (IDX, CIFAR, synthetic),
 * Resize(side) + CenterCrop(side); for a weights file, torchvision's Resize(round(side·256/224)) +
 * CenterCrop(side). The normalization is the model's. `resize` overrides the shorter side before
 * the crop.
 */
export function evalTransform(
  arch: Architecture,
  inputShape: readonly number[],
  normalization: { mean: readonly number[]; std: readonly number[] },
  resize?: number,
): ImageTransform {
  const [c, h, w] = inputShape;
  if (h !== w) {
    throw new RangeError(
      `the model takes ${h}×${w} images; image files are center-cropped to a square ` +
        "(pass --image-size to run it at a square size)",
    );
  }
  if (c !== 1 && c !== 3) {
    throw new RangeError(
      `the model takes ${c}-channel input; image files give 1 (gray) or 3 (RGB)`,
    );
  }
  const base = transformPreset("eval", {
    size: h,
    mean: [...normalization.mean],
    std: [...normalization.std],
  });
  const stored = (arch.config.preprocessing as { eval?: ImageTransform } | undefined)?.eval;
  // A run on IDX, CIFAR or synthetic data saw whole images at the input size: no crop margin.
  // At another --image-size, an image-folder run's resize keeps its ratio to the crop.
  const storedResize = stored?.kind === "eval"
    ? Math.round((stored.resize * h) / stored.size)
    : arch.kind === "checkpoint"
    ? h
    : undefined;
  const side = resize ?? storedResize;
  if (side !== undefined && side < h) {
    throw new RangeError(`--resize ${side}: smaller than the ${h}-pixel crop`);
  }
  return base.kind === "eval" && side !== undefined ? { ...base, resize: side } : base;
}
