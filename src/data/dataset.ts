/**
 * Data sets from disk by name or folder (IDX, CIFAR-10 binary batches) and the synthetic set, as
 * the in-memory {@link Dataset} every source produces (src/data/in_memory.ts).
 */

import { CIFAR10_CLASSES, findCifarDir, loadCifar10 } from "./cifar.ts";
import { findIdxFile, IDX_FILES, readIdxPair } from "./idx.ts";
import { type Dataset, type Splits, subsetDataset, syntheticDataset } from "./in_memory.ts";

export { type Dataset, type Splits, subsetDataset };

export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist/";
export const MNIST_DIR = "/usr/share/datasets/mnist/";
export const CIFAR10_DIR = "/usr/share/datasets/cifar10/";

export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** Options of {@link loadDataset}. */
export interface LoadOptions {
  /** Overrides the default directory of a named data set. */
  dir?: string;
  /** Keep only the first N training samples (`--subset N`). */
  subset?: number;
  /** Keep only the first N test samples. */
  testSubset?: number;
  /** Synthetic only: the seed its images are drawn from. */
  seed?: number;
  /** Synthetic only: training images (default 10,000). */
  trainCount?: number;
  /** Synthetic only: test images (default 2,000). */
  testCount?: number;
  /** Synthetic only: 1 grey 28×28 (default) or 3 colour 32×32. */
  channels?: 1 | 3;
}

/**
 * A data set from disk as training and test {@link Dataset}s: `spec` is a name
 * (`fashion-mnist`, `mnist`, `cifar10` from their Debian folders, or `synthetic`, drawn from the
 * seed) or a folder, recognised as IDX (MNIST-style) files or CIFAR-10 binary batches by what it
 * holds.
 *
 * @example
 * ```ts
 * import { loadDataset } from "@resgpu/resgpu/files";
 * const { train, test } = await loadDataset("synthetic", { subset: 512, testSubset: 128 });
 * console.log(train.name, train.count, test.count); // synthetic/train 512 128
 * ```
 *
 * @throws {Error} an unknown name or folder, a missing or malformed file (named in the message).
 */
export async function loadDataset(spec: string, opts: LoadOptions = {}): Promise<Splits> {
  let splits: Splits;
  switch (spec) {
    case "fashion-mnist":
      splits = await loadIdxDir(opts.dir ?? FASHION_MNIST_DIR, "fashion-mnist");
      break;
    case "mnist":
      splits = await loadIdxDir(opts.dir ?? MNIST_DIR, "mnist");
      break;
    case "cifar10":
    case "cifar-10":
      splits = await loadCifarDir(opts.dir ?? CIFAR10_DIR);
      break;
    case "synthetic":
      splits = syntheticDataset(opts);
      break;
    default:
      splits = await loadDirectory(spec);
  }
  return {
    train: opts.subset ? subsetDataset(splits.train, opts.subset) : splits.train,
    test: opts.testSubset ? subsetDataset(splits.test, opts.testSubset) : splits.test,
  };
}

export function fashionMnistAvailable(dir = FASHION_MNIST_DIR): boolean {
  return Object.values(IDX_FILES).every((stem) => findIdxFile(dir, stem) !== null);
}

async function loadDirectory(dir: string): Promise<Splits> {
  try {
    if (!Deno.statSync(dir).isDirectory) throw new Error(`${dir}: not a directory`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `unknown data set "${dir}": not one of fashion-mnist, mnist, cifar10, synthetic, ` +
          `and no such directory`,
      );
    }
    throw e;
  }
  if (findIdxFile(dir, IDX_FILES.trainImages) || findIdxFile(dir, IDX_FILES.testImages)) {
    const name = /fashion/i.test(dir) ? "fashion-mnist" : dir.replace(/\/+$/, "");
    return await loadIdxDir(dir, name);
  }
  if (findCifarDir(dir)) return await loadCifarDir(dir);
  throw new Error(
    `${dir}: neither IDX files (${IDX_FILES.trainImages}[.gz], ...) nor CIFAR-10 batches ` +
      `(data_batch_1.bin, ...) found`,
  );
}

async function loadIdxDir(dir: string, name: string): Promise<Splits> {
  const paths = Object.fromEntries(
    Object.entries(IDX_FILES).map(([k, stem]) => [k, findIdxFile(dir, stem)]),
  ) as Record<keyof typeof IDX_FILES, string | null>;
  const missing = Object.entries(paths).filter(([, p]) => p === null).map(([k]) =>
    IDX_FILES[k as keyof typeof IDX_FILES]
  );
  if (missing.length > 0) {
    throw new Error(`${dir}: missing IDX file(s): ${missing.join(", ")} (raw or .gz)`);
  }
  const [train, test] = await Promise.all([
    readIdxPair(paths.trainImages!, paths.trainLabels!),
    readIdxPair(paths.testImages!, paths.testLabels!),
  ]);
  const classNames = name === "fashion-mnist" ? FASHION_MNIST_CLASSES : undefined;
  const make = (s: typeof train, split: string): Dataset => ({
    images: s.data,
    labels: s.labels,
    count: s.count,
    channels: 1,
    height: s.height,
    width: s.width,
    classes: 10,
    name: `${name}/${split}`,
    ...(classNames ? { classNames } : {}),
  });
  return { train: make(train, "train"), test: make(test, "test") };
}

async function loadCifarDir(dir: string): Promise<Splits> {
  const { train, test } = await loadCifar10(dir);
  const make = (s: typeof train, split: string): Dataset => ({
    images: s.images,
    labels: s.labels,
    count: s.count,
    channels: 3,
    height: 32,
    width: 32,
    classes: 10,
    name: `cifar10/${split}`,
    classNames: CIFAR10_CLASSES,
  });
  return { train: make(train, "train"), test: make(test, "test") };
}
