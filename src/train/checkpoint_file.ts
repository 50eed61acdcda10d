/**
 * Checkpoint files: the path-based wrappers over the bytes-based src/train/checkpoint.ts,
 * exported from files.ts. Writes are atomic (a crash leaves the previous file whole); reads look
 * at the header before reading the data.
 */
import { readSafetensors, readSafetensorsHeader, writeFileAtomic } from "../io/safetensors_file.ts";
import type { Model } from "../model/model.ts";
import type { Trainer } from "./trainer.ts";
import {
  applyCheckpoint,
  type ApplyCheckpointOptions,
  type Checkpoint,
  type CheckpointMeta,
  checkpointOf,
  encodeCheckpoint,
} from "./checkpoint.ts";

/**
 * Writes the checkpoint of `model` (and `trainer`'s optimizer state) to `path` atomically.
 * Refuses, writing nothing, when a weight or optimizer value is not finite.
 *
 * ```ts
 * import type { Model, Trainer } from "@resgpu/resgpu";
 * import { saveCheckpoint } from "@resgpu/resgpu/files";
 * declare const model: Model, trainer: Trainer;
 * await saveCheckpoint("runs/x/checkpoint.safetensors", model, trainer, {
 *   model: "resnet20", epoch: 1, step: 390, loader: { seed: 0, epoch: 1, batch: 0 }, config: {},
 * });
 * ```
 */
export async function saveCheckpoint(
  path: string,
  model: Model,
  trainer: Trainer | null,
  meta: CheckpointMeta,
): Promise<void> {
  await writeFileAtomic(path, await encodeCheckpoint(model, trainer, meta));
}

/**
 * Reads a checkpoint file and validates its metadata without touching any model.
 *
 * ```ts
 * import { readCheckpoint } from "@resgpu/resgpu/files";
 * console.log((await readCheckpoint("runs/x/checkpoint.safetensors")).meta.step);
 * ```
 */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  return checkpointOf(await readSafetensors(path), path);
}

/**
 * Reads only a checkpoint file's header and validates its metadata (where the run stood, its
 * settings); no tensor data is read.
 *
 * ```ts
 * import { readCheckpointMeta } from "@resgpu/resgpu/files";
 * console.log((await readCheckpointMeta("runs/x/checkpoint.safetensors")).config);
 * ```
 */
export async function readCheckpointMeta(path: string): Promise<CheckpointMeta> {
  const header = await readSafetensorsHeader(path);
  return checkpointOf({ tensors: new Map(), metadata: header.metadata }, path).meta;
}

/**
 * Loads a checkpoint file into `model` (and the optimizer state into `trainer`): strict and
 * atomic unless `{ strict: false }` (see applyCheckpoint). Returns where the run stood.
 *
 * ```ts
 * import type { Model, Trainer } from "@resgpu/resgpu";
 * import { loadCheckpoint } from "@resgpu/resgpu/files";
 * declare const model: Model, trainer: Trainer;
 * const meta = await loadCheckpoint("runs/x/checkpoint.safetensors", model, trainer);
 * trainer.steps = meta.step;
 * ```
 */
export async function loadCheckpoint(
  path: string,
  model: Model,
  trainer: Trainer | null,
  opts: ApplyCheckpointOptions = {},
): Promise<CheckpointMeta> {
  return applyCheckpoint(await readCheckpoint(path), model, trainer, opts);
}
