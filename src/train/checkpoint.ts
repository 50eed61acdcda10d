/**
 * Checkpoints in the safetensors format, written atomically (temp file + fsync + rename):
 * parameters and BN statistics under torchvision's state_dict names (with `num_batches_tracked`
 * as int64, so `torch.nn.Module.load_state_dict` accepts the file), optimizer state under
 * `optimizer.<param>.<slot>`, and the run's position (epoch, step, loader state, config) in the
 * string metadata.
 */
import { readSafetensors, type TensorIn, typedView, writeSafetensors } from "../io/safetensors.ts";
import { gatherRead, type Model } from "../model/model.ts";
import type { Trainer } from "./trainer.ts";
import type { LoaderState } from "../data/loader.ts";

export const CHECKPOINT_FORMAT = "resgpu-checkpoint-1";

export interface RunPosition {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  loader: LoaderState;
}

export interface CheckpointMeta extends RunPosition {
  model: string;
  config: Record<string, unknown>;
}

export async function saveCheckpoint(
  path: string,
  model: Model,
  trainer: Trainer | null,
  meta: CheckpointMeta,
): Promise<void> {
  const rt = model.rt;
  const items: [string, GPUBuffer, number][] = model.graph.params.map((p) => [
    p.name,
    model.param(p.name),
    p.shape.reduce((a, b) => a * b, 1),
  ]);
  if (trainer) {
    for (const [name, buf, n] of trainer.optimizerState()) {
      items.push([`optimizer.${name}`, buf, n]);
    }
  }
  const values = await gatherRead(rt, items);
  const tensors: Record<string, TensorIn> = {};
  for (const p of model.graph.params) {
    tensors[p.name] = { dtype: "F32", shape: [...p.shape], data: values.get(p.name)! };
    if (p.kind === "running_mean") {
      const module = p.name.slice(0, -".running_mean".length);
      tensors[`${module}.num_batches_tracked`] = {
        dtype: "I64",
        shape: [],
        data: new BigInt64Array([BigInt(meta.step)]),
      };
    }
  }
  if (trainer) {
    for (const [name, , n] of trainer.optimizerState()) {
      const key = `optimizer.${name}`;
      tensors[key] = { dtype: "F32", shape: [n], data: values.get(key)! };
    }
  }
  await writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    model: meta.model,
    epoch: String(meta.epoch),
    step: String(meta.step),
    loader: JSON.stringify(meta.loader),
    config: JSON.stringify(meta.config),
  });
}

/**
 * Loads a checkpoint into `model` (and the optimizer state into `trainer`), checking every name
 * and shape; returns where the run stood.
 */
export async function loadCheckpoint(
  path: string,
  model: Model,
  trainer: Trainer | null,
): Promise<CheckpointMeta> {
  const file = await readSafetensors(path);
  const md = file.metadata ?? {};
  if (md.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${path}: not a resgpu checkpoint (format ${md.format ?? "missing"})`);
  }
  const values = new Map<string, Float32Array>();
  for (const p of model.graph.params) {
    const t = file.tensors.get(p.name);
    if (!t) throw new Error(`${path}: missing tensor ${p.name}`);
    if (t.dtype !== "F32" || t.shape.join() !== p.shape.join()) {
      throw new Error(
        `${path}: ${p.name} is ${t.dtype} [${t.shape}], model expects F32 [${p.shape}]`,
      );
    }
    values.set(p.name, typedView(t) as Float32Array);
  }
  model.loadStateDict(values);
  if (trainer) {
    for (const [name, buf, n] of trainer.optimizerState()) {
      const t = file.tensors.get(`optimizer.${name}`);
      if (!t) throw new Error(`${path}: missing optimizer state optimizer.${name}`);
      if (t.dtype !== "F32" || t.shape.join() !== String(n)) {
        throw new Error(
          `${path}: optimizer.${name} is ${t.dtype} [${t.shape}], expected F32 [${n}]`,
        );
      }
      model.rt.write(buf, 0, typedView(t) as Float32Array<ArrayBuffer>);
    }
  }
  const num = (k: string) => {
    const v = Number(md[k]);
    if (!Number.isInteger(v) || v < 0) throw new Error(`${path}: bad metadata ${k}=${md[k]}`);
    return v;
  };
  return {
    model: md.model ?? "",
    epoch: num("epoch"),
    step: num("step"),
    loader: JSON.parse(md.loader ?? "null"),
    config: JSON.parse(md.config ?? "{}"),
  };
}
