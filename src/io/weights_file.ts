/**
 * Weights files on disk: the path versions of src/io/weights.ts, exported from files.ts. Reads
 * validate the header before the data; writes are atomic (a crash leaves any previous file
 * whole).
 */
import { readSafetensors, writeSafetensors } from "./safetensors_file.ts";
import type { Model } from "../model/model.ts";
import {
  applyWeights,
  type LoadedWeights,
  type LoadWeightsOptions,
  type SaveWeightsOptions,
  weightsTensors,
} from "./weights.ts";

/**
 * `loadWeights` from a file: reads `path` and loads it into `model` (strict and atomic;
 * errors name the file).
 *
 * ```ts
 * import { buildModel, Model, Runtime } from "@resgpu/resgpu";
 * import { loadWeightsFile } from "@resgpu/resgpu/files";
 * const rt = await Runtime.create();
 * const model = Model.create(rt, buildModel("resnet50"));
 * await loadWeightsFile(model, "resnet50.safetensors");
 * ```
 */
export async function loadWeightsFile(
  model: Model,
  path: string,
  opts: Omit<LoadWeightsOptions, "source"> = {},
): Promise<LoadedWeights> {
  model.assertLive("loadWeightsFile");
  return applyWeights(model, await readSafetensors(path), { ...opts, source: path });
}

/**
 * `saveWeights` to a file, written atomically.
 *
 * ```ts
 * import { buildModel, Model, Runtime } from "@resgpu/resgpu";
 * import { saveWeightsFile } from "@resgpu/resgpu/files";
 * const rt = await Runtime.create();
 * const model = Model.create(rt, buildModel("resnet20"));
 * await saveWeightsFile(model, "resnet20.safetensors");
 * ```
 */
export async function saveWeightsFile(
  model: Model,
  path: string,
  opts: SaveWeightsOptions = {},
): Promise<void> {
  const { tensors, metadata } = await weightsTensors(model, opts);
  await writeSafetensors(path, tensors, metadata);
}
