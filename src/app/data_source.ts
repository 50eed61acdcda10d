/**
 * Where a training run's batches come from: an in-memory data set (IDX, CIFAR-10, synthetic)
 * through BatchLoader, or an image folder through the worker ImageBatchLoader. The run loop sees
 * one shape either way. The image modules are imported only for an image folder, so runs on the
 * other sets load no image decoder.
 */
import { findCifarDir } from "../data/cifar.ts";
import { findIdxFile, IDX_FILES } from "../data/idx.ts";
import { type Dataset, loadDataset } from "../data/dataset.ts";
import type { Normalization } from "../model/preprocessing.ts";
import {
  augmentsByDefault,
  type ChannelStats,
  computeChannelStats,
  NO_AUGMENT,
  PAPER_AUGMENT,
} from "../data/augment.ts";
import { type Batch, BatchLoader, type LoaderState } from "../data/loader.ts";
import { Rng } from "../util/rng.ts";

/** What the run loop needs of a loader. */
export interface BatchSource {
  readonly batchesPerEpoch: number;
  readonly state: LoaderState;
  restore(state: LoaderState): void;
  next(): Promise<Batch>;
}

/** Settings of an image-folder run (all optional: defaults in parentheses). */
export interface ImageDataConfig {
  /** Validation fraction when the folder has no val/ (0.1). */
  valSplit?: number;
  /** Network input side (224). */
  imageSize?: number;
  /** Training transform preset: torchvision's RandomResizedCrop + flip, or the paper's recipe. */
  transform?: "torchvision" | "paper";
  /** Decode workers (the machine's cores). */
  workers?: number;
  /** A file that fails to decode: skip it (counted) or fail the run ("skip"). */
  onBadImage?: "skip" | "fail";
  /** Decoded-image cache directory (none). */
  cache?: string;
  /** The cache's size limit in MiB (1024). */
  cacheMiB?: number;
}

export interface TrainData {
  train: BatchSource;
  /** A fresh, in-order pass over the test or validation set. */
  evalPass(batchSize: number): AsyncGenerator<Batch>;
  inputShape: [number, number, number];
  classes: number;
  classNames?: string[];
  /** The per-channel normalization its batches get ([0, 1] pixel units): the model's. */
  normalization: { mean: number[]; std: number[] };
  name: string;
  trainCount: number;
  testCount: number;
  /** What the run's config.json and checkpoint record about the data. */
  meta: Record<string, unknown>;
  /** Files skipped because they failed to decode (image folders). */
  skipped(): { path: string; message: string }[];
  dispose(): void;
}

/** Whether `data` names an image folder rather than a data set name or an IDX/CIFAR directory. */
export function isImageFolderSpec(data: string): boolean {
  if (["fashion-mnist", "mnist", "cifar10", "cifar-10", "synthetic"].includes(data)) return false;
  try {
    if (!Deno.statSync(data).isDirectory) return false;
  } catch {
    return false;
  }
  if (findIdxFile(data, IDX_FILES.trainImages) || findIdxFile(data, IDX_FILES.testImages)) {
    return false;
  }
  if (findCifarDir(data)) return false;
  for (const e of Deno.readDirSync(data)) {
    if (!e.name.startsWith(".") && (e.isDirectory || e.isSymlink)) return true;
  }
  return false;
}

export async function openTrainData(
  cfg: {
    data: string;
    subset?: number;
    testSubset?: number;
    seed: number;
    batch: number;
    augment?: boolean;
    image?: ImageDataConfig;
  },
  normalization?: Normalization,
): Promise<TrainData> {
  if (isImageFolderSpec(cfg.data)) return await openImageFolder(cfg, normalization);
  const { train, test } = await loadDataset(cfg.data, {
    subset: cfg.subset,
    testSubset: cfg.testSubset,
    seed: cfg.seed,
  });
  checkSplits(train, test);
  const stats = normalization ? givenStats(normalization, train) : computeChannelStats(train);
  const augment = cfg.augment ?? augmentsByDefault(train);
  const loader = BatchLoader.train(train, {
    batchSize: cfg.batch,
    stats,
    seed: cfg.seed,
    augment: augment ? PAPER_AUGMENT : NO_AUGMENT,
  });
  return {
    train: loader,
    async *evalPass(batchSize: number) {
      const l = BatchLoader.test(test, { batchSize, stats });
      for (let i = 0; i < l.batchesPerEpoch; i++) yield await l.next();
    },
    inputShape: [train.channels, train.height, train.width],
    classes: train.classes,
    classNames: train.classNames,
    normalization: { mean: Array.from(stats.mean), std: Array.from(stats.std) },
    name: train.name,
    trainCount: train.count,
    testCount: test.count,
    meta: { augment },
    skipped: () => [],
    dispose() {},
  };
}

/** Train and test images must have one shape and one label space, known before training. */
function checkSplits(train: Dataset, test: Dataset): void {
  for (const ds of [train, test]) {
    if (ds.count === 0) throw new Error(`${ds.name}: the data set has no images`);
  }
  const shape = (d: Dataset) => `${d.channels}×${d.height}×${d.width}`;
  if (shape(train) !== shape(test)) {
    throw new Error(
      `${train.name} images are ${shape(train)} but ${test.name} images are ${shape(test)}: ` +
        "train and test sets must have one image shape",
    );
  }
  if (train.classes !== test.classes) {
    throw new Error(
      `${train.name} has ${train.classes} classes but ${test.name} has ${test.classes}`,
    );
  }
}

/** A given normalization (pretrained weights') as loader statistics, one value per channel. */
function givenStats(n: Normalization, ds: Dataset): ChannelStats {
  if (n.mean.length !== ds.channels) {
    throw new Error(
      `the weights were trained on ${n.mean.length}-channel images but ${ds.name} has ` +
        `${ds.channels} channel(s)`,
    );
  }
  return { mean: Float32Array.from(n.mean), std: Float32Array.from(n.std) };
}

async function openImageFolder(
  cfg: Parameters<typeof openTrainData>[0],
  normalization?: Normalization,
): Promise<TrainData> {
  const { scanImageFolder } = await import("../image/folder.ts");
  const { ImageBatchLoader } = await import("../image/loader.ts");
  const { evalTransformFor, transformPreset } = await import("../image/transforms.ts");
  const img = cfg.image ?? {};
  const split = scanImageFolder(cfg.data, { valSplit: img.valSplit, seed: cfg.seed });
  const take = <T extends { files: string[]; labels: Int32Array }>(l: T, n?: number): T => {
    if (n === undefined) return l;
    if (n > l.files.length) {
      throw new Error(`subset ${n} is larger than ${cfg.data} (${l.files.length} images)`);
    }
    return { ...l, files: l.files.slice(0, n), labels: l.labels.slice(0, n) };
  };
  const shuffled = <T extends { files: string[]; labels: Int32Array }>(l: T, n?: number): T => {
    if (n === undefined) return l;
    const order = new Rng(cfg.seed, 0x5b2).shuffle(Int32Array.from(l.files, (_, i) => i));
    const keep = [...order.subarray(0, n)].sort((a, b) => a - b);
    return take({
      ...l,
      files: keep.map((i) => l.files[i]),
      labels: Int32Array.from(keep, (i) => l.labels[i]),
    });
  };
  // A subset of a sorted folder would be its first classes only: take it in a seeded order.
  const train = shuffled(split.train, cfg.subset);
  const val = shuffled(split.val, cfg.testSubset);
  const size = img.imageSize ?? 224;
  // A fine-tune normalizes as its pretrained weights were trained (src/app/pretrained.ts).
  const norm = normalization ? { mean: [...normalization.mean], std: [...normalization.std] } : {};
  if (normalization && normalization.mean.length !== 3) {
    throw new Error(
      `the weights were trained on ${normalization.mean.length}-channel images; ` +
        `${cfg.data} gives RGB images`,
    );
  }
  const trainT = transformPreset(img.transform ?? "torchvision", { size, ...norm });
  const evalT = evalTransformFor(trainT);
  const common = {
    workers: img.workers,
    onBadImage: img.onBadImage ?? "skip",
    cache: img.cache ? { dir: img.cache, maxBytes: (img.cacheMiB ?? 1024) * 2 ** 20 } : undefined,
  } as const;
  const loader = new ImageBatchLoader(train, {
    ...common,
    batchSize: cfg.batch,
    transform: trainT,
    shuffle: true,
    dropLast: true,
    seed: cfg.seed,
  });
  const evalLoaders: InstanceType<typeof ImageBatchLoader>[] = [];
  return {
    train: loader,
    async *evalPass(batchSize: number) {
      const l = new ImageBatchLoader(val, { ...common, batchSize, transform: evalT });
      evalLoaders.push(l);
      try {
        for (let i = 0; i < l.batchesPerEpoch; i++) yield await l.next();
      } finally {
        l.dispose();
      }
    },
    inputShape: [3, size, size],
    classes: split.classNames.length,
    classNames: split.classNames,
    // Prediction sees the evaluation transform's normalization.
    normalization: { mean: [...evalT.mean], std: [...evalT.std] },
    name: cfg.data.replace(/\/+$/, ""),
    trainCount: train.files.length,
    testCount: val.files.length,
    meta: {
      augment: img.transform ?? "torchvision",
      classNames: split.classNames,
      preprocessing: { train: trainT, eval: evalT, channels: "rgb" },
      imageFolder: {
        split: split.source,
        valSplit: split.source === "split" ? img.valSplit ?? 0.1 : undefined,
        skippedAtScan: {
          nonImage: split.skipped.nonImage.length,
          unsupported: split.skipped.unsupported.length,
          hiddenDirs: split.skipped.hiddenDirs.length,
          outsideClasses: split.skipped.outsideClasses.length,
        },
        workers: loader.workers,
      },
    },
    skipped: () => {
      const all = new Map<string, string>();
      for (const l of [loader, ...evalLoaders]) {
        for (const s of l.skipped) all.set(s.path, s.message);
      }
      return [...all].map(([path, message]) => ({ path, message }));
    },
    dispose() {
      loader.dispose();
      for (const l of evalLoaders) l.dispose();
    },
  };
}
