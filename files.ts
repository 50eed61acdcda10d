/**
 * resgpu's file-system API: what reads or writes files (checkpoints, data sets on disk, whole
 * training runs with their run directory). Kept apart from `mod.ts` so the core — runtime,
 * models, training, inference, weights from bytes — needs no file access and no `Deno` global,
 * and runs in a browser from the bundle.
 *
 * ```ts
 * import { trainRun } from "@resgpu/resgpu/files";
 * const summary = await trainRun({
 *   model: "resnet20", data: "synthetic", subset: 256, testSubset: 128, epochs: 1,
 *   batch: 32, evalBatch: 64, optimizer: "sgd", lr: 0.1, momentum: 0.9, nesterov: false,
 *   wd: 5e-4, schedule: "cosine", warmup: 0, seed: 0, out: "runs/example", evalEvery: 1,
 *   logEvery: 4, gradNormEvery: 0,
 * });
 * console.log(summary.testAccuracy);
 * ```
 *
 * @module
 */
export {
  loadCheckpoint,
  readCheckpoint,
  readCheckpointMeta,
  saveCheckpoint,
} from "./src/train/checkpoint_file.ts";
export { DivergedError } from "./src/app/diverged_error.ts";
export { type RunHooks, type RunSummary, type TrainConfig, trainRun } from "./src/app/run.ts";
export { loadDataset, type LoadOptions } from "./src/data/dataset.ts";
export type { Sink } from "./src/app/progress.ts";
export { defaultTuneCachePath, runtimeOptionsFromEnv, tuneCacheFile } from "./src/host/deno_env.ts";
export type { ImageDataConfig } from "./src/app/data_source.ts";
export type { FinetuneConfig } from "./src/app/pretrained.ts";
export { loadWeightsFile, saveWeightsFile } from "./src/io/weights_file.ts";
