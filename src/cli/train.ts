/**
 * `deno task train [flags]`: train a model of the zoo. With no flags: ResNet-20 on Fashion-MNIST
 * when it is installed (/usr/share/datasets/fashion-mnist), else on the embedded synthetic set.
 */
import { defineFlags, parseArgsOrExit } from "../app/args.ts";
import { fashionMnistAvailable } from "../data/dataset.ts";
import { type TrainConfig, trainRun } from "../app/run.ts";
import { readCheckpointMeta } from "../train/checkpoint_file.ts";
import { dirOf } from "../app/resume.ts";
import { Runtime } from "../gpu/runtime.ts";
import { defaultTuneCachePath, runtimeOptionsFromEnv, tuneCacheFile } from "../host/deno_env.ts";
import { listModels } from "../zoo/registry.ts";
import { exitOnError } from "./errors.ts";
import { type Dashboard, startDashboard } from "../app/dashboard.ts";

/** The no-flag job: minutes on a 2-core machine with a software GPU (see README). */
const DEFAULT_JOB = { subset: 3200, testSubset: 2000 };

const flags = defineFlags({
  model: { type: "string", default: "resnet20", help: `model name (${listModels().join(", ")})` },
  shortcut: {
    type: "enum",
    values: ["A", "B", "C"],
    help: "shortcut where shapes change: A zero-pad, B projection, C projection everywhere " +
      "(unset: A for CIFAR-style nets, B for ImageNet-style)",
  },
  width: { type: "number", default: 1, min: 0.01, help: "base-width multiplier" },
  data: {
    type: "string",
    help: "fashion-mnist | mnist | cifar10 | synthetic | a directory of IDX or CIFAR-10 " +
      "binary files | an image folder: one subfolder of PNG/JPEG files per class, optionally " +
      "under train/ and val/ (unset: fashion-mnist if installed, else synthetic)",
  },
  valSplit: {
    type: "number",
    default: 0.1,
    min: 0,
    max: 1,
    help: "image folder without val/: the fraction of each class held out for validation",
  },
  imageSize: { type: "int", default: 224, min: 8, help: "image folder: network input side" },
  transform: {
    type: "enum",
    values: ["torchvision", "paper"],
    default: "torchvision",
    help: "image folder training transform: torchvision's RandomResizedCrop + flip, or the " +
      "paper's scale augmentation (shorter side 256-480, random crop, flip); evaluation always " +
      "resizes to 256/224 of the size and center-crops",
  },
  workers: {
    type: "int",
    min: 1,
    help: "image folder: decode workers (unset: the machine's cores)",
  },
  onBadImage: {
    type: "enum",
    values: ["skip", "fail"],
    default: "skip",
    help: "image folder: a file that fails to decode is skipped (named and counted at the end) " +
      "or stops the run",
  },
  cache: {
    type: "string",
    help: "image folder: a directory for decoded images, reused by later epochs and runs " +
      "(entries are checked against the files' size and modification time)",
  },
  cacheSize: { type: "int", default: 1024, min: 1, help: "limit of --cache, in MiB" },
  weights: {
    type: "string",
    help: "fine-tune: start from this weights file (saveWeights, a torchvision-named " +
      "safetensors file, tools/resgpu_torch.py's export, or a run's checkpoint.safetensors); the " +
      "data is normalized as the file says when it stores a normalization",
  },
  trainOnly: {
    type: "string",
    help: "fine-tune: train only these comma-separated parameter name prefixes (e.g. layer4,fc); " +
      "the rest stay frozen. A head (fc) that does not fit the data's classes is replaced when " +
      "it trains, and refused when it would stay frozen",
  },
  newHead: {
    type: "boolean",
    default: false,
    help: "fine-tune: initialize a new head (fc) instead of loading the file's, even when its " +
      "shape fits",
  },
  frozenBn: {
    type: "enum",
    values: ["eval", "train"],
    help: "fine-tune with --train-only: frozen batch norms normalize with their running " +
      "statistics and keep them (eval, the default, as torchvision recipes do) or with batch " +
      "statistics (train, as PyTorch's model.train())",
  },
  epochs: { type: "int", default: 3, min: 1, help: "epochs" },
  batch: { type: "int", default: 128, min: 1, help: "training batch size" },
  evalBatch: { type: "int", default: 250, min: 1, help: "evaluation batch size" },
  optimizer: { type: "enum", values: ["sgd", "adamw"], default: "sgd", help: "optimizer" },
  lr: { type: "number", default: 0.1, min: 0, help: "peak learning rate" },
  momentum: { type: "number", default: 0.9, min: 0, max: 1, help: "SGD momentum" },
  nesterov: { type: "boolean", default: false, help: "Nesterov momentum" },
  wd: { type: "number", default: 5e-4, min: 0, help: "weight decay" },
  schedule: {
    type: "enum",
    values: ["step", "cosine", "constant"],
    default: "cosine",
    help: "learning-rate schedule (step: ×0.1 at 50% and 75% of the run)",
  },
  warmup: {
    type: "int",
    default: 100,
    min: 0,
    help: "linear warm-up steps (capped at a quarter of the run)",
  },
  subset: {
    type: "int",
    min: 1,
    help: `train on the first N training images (unset: ${DEFAULT_JOB.subset} when --data is ` +
      "not given, so the default job fits a software GPU; else all)",
  },
  testSubset: {
    type: "int",
    min: 1,
    help: `evaluate on the first N test images (unset: ${DEFAULT_JOB.testSubset} when --data ` +
      "is not given; else all)",
  },
  seed: { type: "int", default: 0, help: "seed for initialization, shuffling and augmentation" },
  out: { type: "string", help: "run directory (unset: runs/<model>-<data>-<time>)" },
  resume: {
    type: "string",
    help: "checkpoint to continue from (a run's checkpoint.safetensors): the run continues with " +
      "its settings (a flag given must agree with them), in its directory unless --out is given",
  },
  evalEvery: { type: "int", default: 1, min: 1, help: "evaluate on the test set every N epochs" },
  clipGradNorm: { type: "number", min: 0, help: "clip the global gradient L2 norm to this" },
  augment: {
    type: "boolean",
    optional: true,
    help: "the paper's pad-4 random crop + horizontal flip (unset: on for cifar10, as in the " +
      "paper; off for the grayscale sets, where short runs underfit with it; see README)",
  },
  tune: {
    type: "boolean",
    default: false,
    help: "autotune conv kernel variants per shape on this adapter before training (choices " +
      "cached in ~/.cache/resgpu/tune.json; also RESGPU_TUNE=1|FILE)",
  },
  logEvery: {
    type: "int",
    default: 20,
    min: 1,
    help: "read loss/accuracy from the GPU every N steps",
  },
  dashboard: {
    type: "int",
    min: 0,
    max: 65535,
    bare: 8765,
    help: "serve a live page of the run (loss, error, lr, images/s, gradient norms) on " +
      "http://localhost:PORT/ (PORT 8765 when not given; 0 picks a free one)",
  },
  gradNormEvery: {
    type: "int",
    default: 25,
    min: 0,
    help: "log per-layer gradient norms every N steps (0: off)",
  },
});

const args = parseArgsOrExit(flags, Deno.args, "deno task train [flags]");

const data = args.data ?? (fashionMnistAvailable() ? "fashion-mnist" : "synthetic");
if (!args.data && !args.resume && data === "synthetic") {
  console.log(
    "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): using the embedded synthetic set",
  );
}
const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
// A resumed run continues in its checkpoint's directory unless told otherwise.
const out = args.out ??
  (args.resume
    ? dirOf(args.resume)
    : `runs/${args.model}-${data.replace(/[^\w.-]/g, "_")}-${stamp}`);

const fromFlags: TrainConfig = {
  model: args.model,
  shortcut: args.shortcut,
  width: args.width,
  data,
  epochs: args.epochs,
  batch: args.batch,
  evalBatch: args.evalBatch,
  optimizer: args.optimizer,
  lr: args.lr,
  momentum: args.momentum,
  nesterov: args.nesterov,
  wd: args.wd,
  schedule: args.schedule,
  warmup: args.warmup,
  subset: args.subset ?? (args.data ? undefined : DEFAULT_JOB.subset),
  testSubset: args.testSubset ?? (args.data ? undefined : DEFAULT_JOB.testSubset),
  seed: args.seed,
  out,
  resume: args.resume,
  evalEvery: args.evalEvery,
  clipGradNorm: args.clipGradNorm,
  augment: args.augment,
  logEvery: args.logEvery,
  gradNormEvery: args.gradNormEvery,
  weights: args.weights,
  trainOnly: args.trainOnly?.split(",").map((s) => s.trim()).filter((s) => s !== ""),
  newHead: args.newHead || undefined,
  frozenBn: args.frozenBn,
  image: {
    valSplit: args.valSplit,
    imageSize: args.imageSize,
    transform: args.transform,
    workers: args.workers,
    onBadImage: args.onBadImage,
    cache: args.cache,
    cacheMiB: args.cacheSize,
  },
};

/**
 * With --resume, the run's settings are the checkpoint's; a flag given on the command line must
 * agree with them (trainRun refuses it, naming the setting, if it does not).
 */
async function resumedConfig(resume: string): Promise<TrainConfig> {
  const saved = (await readCheckpointMeta(resume)).config as Partial<TrainConfig>;
  const given = new Set(
    Deno.args.filter((a) => a.startsWith("--")).map((a) =>
      a.slice(2).split("=")[0].replace(/^no-/, "").replace(/-(\w)/g, (_, c) => c.toUpperCase())
    ),
  );
  // The image-folder flags make up one setting, `image`.
  const imageFlags = ["valSplit", "imageSize", "transform", "workers", "onBadImage", "cache"];
  if ([...imageFlags, "cacheSize"].some((f) => given.has(f))) given.add("image");
  const cfg: Record<string, unknown> = { ...fromFlags };
  for (const key of Object.keys(fromFlags)) {
    // A setting the checkpoint's run left unset stays unset (not this command line's default).
    if (key !== "out" && key !== "resume" && !given.has(key)) {
      cfg[key] = saved[key as keyof TrainConfig];
    }
  }
  return cfg as unknown as TrainConfig;
}

let dashboard: Dashboard | null = null;
try {
  if (args.dashboard !== undefined) {
    dashboard = startDashboard(out, args.dashboard);
    console.log(`dashboard: ${dashboard.url} (follows ${out}/metrics.jsonl)`);
  }
  const s = await trainRun(args.resume ? await resumedConfig(args.resume) : fromFlags, {
    handleSigint: true,
    runtime: args.tune
      ? await Runtime.create({
        ...runtimeOptionsFromEnv(),
        tune: { cache: tuneCacheFile(defaultTuneCachePath()) },
      })
      : undefined,
  });
  console.log(
    `done (${s.stopped}): test accuracy ${(100 * s.testAccuracy).toFixed(2)}%, ` +
      `${s.imagesPerSec.toFixed(1)} images/s, ${s.seconds.toFixed(0)} s → ${out}/ ` +
      "(metrics.jsonl, loss.svg, error.svg, grad_norms.svg, checkpoint.safetensors)",
  );
  if (s.skippedImages?.length) {
    console.log(
      `skipped ${s.skippedImages.length} image(s) that failed to decode (listed in summary.json)`,
    );
  }
  if (s.stopped === "interrupted") Deno.exit(130);
} catch (e) {
  await dashboard?.close();
  exitOnError(e);
}
await dashboard?.close();
