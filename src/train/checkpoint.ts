/**
 * Checkpoints in the safetensors format, as bytes (the file functions, atomic writes included,
 * are in checkpoint_file.ts): parameters and BN statistics under torchvision's state_dict names
 * (with `num_batches_tracked` as int64, so `torch.nn.Module.load_state_dict` accepts the file),
 * optimizer state under `optimizer.<param>.<slot>`, and the run's position (epoch, step, loader
 * state, config) in the string metadata.
 *
 * Loading is strict and atomic by default: metadata, every tensor name, dtype, shape and value
 * (finite) are checked — for the model (src/model/state.ts) and the optimizer state together —
 * before anything is written.
 */
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsFile,
  type TensorIn,
  type TensorOut,
  typedView,
} from "../io/safetensors.ts";
import { gatherRead, type Model } from "../model/model.ts";
import {
  checkState,
  countNonFinite,
  StateDictError,
  type StateEntry,
  type StateReport,
} from "../model/state.ts";
import {
  encodePreprocessing,
  parsePreprocessing,
  type Preprocessing,
  PREPROCESSING_KEY,
  preprocessingFor,
} from "../model/preprocessing.ts";
import type { Trainer } from "./trainer.ts";
import { createGuardFlag, planNonFiniteCheck } from "../ops/guard.ts";
import type { LoaderState } from "../data/loader.ts";

export const CHECKPOINT_FORMAT = "resgpu-checkpoint-1";

/** Where a training run stands: what a checkpoint needs to continue it exactly. */
export interface RunPosition {
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  /** The batch loader's position (seed, epoch, next batch), for `BatchLoader.restore`. */
  loader: LoaderState;
}

/** A checkpoint's metadata: the run's position, the model's name and the run's settings. */
export interface CheckpointMeta extends RunPosition {
  /** The model's registry name, e.g. `resnet20`. */
  model: string;
  /** The settings of the run that wrote it (a resumed run must use the same). */
  config: Record<string, unknown>;
  /**
   * The model's preprocessing when it was written (normalization, input shape, classes, class
   * names), which loading applies to the model. Read back only; writing stores the model's own.
   * Absent in checkpoints written before it was stored: loading those leaves the model's
   * preprocessing as it is (mean 0 and std 1 for a fresh model).
   */
  preprocessing?: Preprocessing;
}

/** A decoded checkpoint whose metadata has been validated; its tensors are not applied yet. */
export interface Checkpoint {
  /** The validated metadata. */
  meta: CheckpointMeta;
  /** Tensors by name, as stored (raw little-endian bytes with dtype and shape). */
  tensors: Map<string, TensorOut>;
  /** Where it came from (a path, or `<bytes>`), for messages. */
  source: string;
}

/** Options of {@link applyCheckpoint}. */
export interface ApplyCheckpointOptions {
  /**
   * `true` (default): the checkpoint must hold exactly the model's tensors (plus their
   * `num_batches_tracked`) and, when a trainer is given, exactly its optimizer state. `false`:
   * what is missing keeps its current value and what is unexpected is ignored. Shapes, dtypes
   * and finiteness are checked either way.
   */
  strict?: boolean;
}

const OPTIMIZER = "optimizer.";
/** The guard flag's name in the gathered readback (not a tensor name: it has a space). */
const FLAG = "non-finite flag";

/**
 * The checkpoint of `model` (and `trainer`'s optimizer state, if given) as safetensors bytes.
 * Every tensor is checked for NaN and ±Infinity on the GPU and read back with the verdict in one
 * gathered readback; a non-finite value anywhere refuses the checkpoint with an error naming the
 * tensors, so no file is ever written from poisoned weights.
 *
 * ```ts
 * import { encodeCheckpoint, type Model, type Trainer } from "@resgpu/resgpu";
 * declare const model: Model, trainer: Trainer;
 * const bytes = await encodeCheckpoint(model, trainer, {
 *   model: "resnet20", epoch: 1, step: 390, loader: { seed: 0, epoch: 1, batch: 0 }, config: {},
 * });
 * ```
 */
export async function encodeCheckpoint(
  model: Model,
  trainer: Trainer | null,
  meta: CheckpointMeta,
): Promise<Uint8Array> {
  model.assertLive("encodeCheckpoint");
  checkMeta(meta, "the checkpoint to write");
  const rt = model.rt;
  const items: [string, GPUBuffer, number][] = model.graph.params.map((p) => [
    p.name,
    model.param(p.name),
    p.shape.reduce((a, b) => a * b, 1),
  ]);
  const state = trainer?.optimizerState() ?? [];
  for (const [name, buf, n] of state) items.push([`${OPTIMIZER}${name}`, buf, n]);
  // Checked on the GPU (src/ops/guard.ts), the flag read back with the values in one readback.
  const flag = createGuardFlag(rt, "checkpoint guard");
  let values: Map<string, Float32Array>;
  try {
    rt.replay(await planNonFiniteCheck(rt, items.map(([, b, n]) => [b, n]), flag, 1));
    values = await gatherRead(rt, [...items, [FLAG, flag, 1]]);
  } finally {
    rt.pool.release(flag);
  }
  if (new Uint32Array(values.get(FLAG)!.buffer)[0] !== 0) {
    // Which tensors, for the message.
    const bad = items.map(([name]) => ({ name, count: countNonFinite(values.get(name)!) }))
      .filter((b) => b.count > 0);
    throw new NonFiniteStateError(bad);
  }
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
  for (const [name, , n] of state) {
    const key = `${OPTIMIZER}${name}`;
    tensors[key] = { dtype: "F32", shape: [n], data: values.get(key)! };
  }
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    model: meta.model,
    epoch: String(meta.epoch),
    step: String(meta.step),
    loader: JSON.stringify(meta.loader),
    config: JSON.stringify(meta.config),
    [PREPROCESSING_KEY]: encodePreprocessing(model.preprocessing),
  });
}

/** Weights or optimizer state holding NaN or ±Infinity, which no checkpoint may contain. */
export class NonFiniteStateError extends Error {
  /** `tensors`: each offending tensor's name and how many of its values are NaN or ±Infinity. */
  constructor(readonly tensors: { name: string; count: number }[]) {
    const total = tensors.reduce((a, t) => a + t.count, 0);
    const shown = tensors.slice(0, 3).map((t) => `${t.name}: ${t.count}`).join(", ");
    super(
      `${total} non-finite value(s) in ${tensors.length} tensor(s) (${shown}` +
        `${tensors.length > 3 ? ", …" : ""}): refusing to write a checkpoint of them`,
    );
    this.name = "NonFiniteStateError";
  }
}

/**
 * Decodes checkpoint bytes and validates the metadata (format, model, epoch, step, loader state,
 * config); the tensors are checked when applied ({@link applyCheckpoint}).
 *
 * ```ts
 * import { decodeCheckpoint } from "@resgpu/resgpu";
 * declare const bytes: Uint8Array; // a checkpoint file's contents
 * const ckpt = decodeCheckpoint(bytes);
 * console.log(ckpt.meta.model, ckpt.meta.step);
 * ```
 */
export function decodeCheckpoint(bytes: Uint8Array, source = "<bytes>"): Checkpoint {
  return checkpointOf(decodeSafetensors(bytes, source), source);
}

/** {@link decodeCheckpoint} for a decoded safetensors file. */
export function checkpointOf(file: SafetensorsFile, source: string): Checkpoint {
  const md = file.metadata;
  if (md.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${source}: not a resgpu checkpoint (format ${md.format ?? "missing"})`);
  }
  const json = (k: string): unknown => {
    if (md[k] === undefined) throw new Error(`${source}: metadata lacks ${k}`);
    try {
      return JSON.parse(md[k]);
    } catch (e) {
      throw new Error(`${source}: metadata ${k} is not JSON: ${(e as Error).message}`);
    }
  };
  const num = (k: string) => {
    const v = /^\d+$/.test(md[k] ?? "") ? Number(md[k]) : NaN;
    if (!Number.isSafeInteger(v)) {
      throw new Error(`${source}: bad metadata ${k}=${JSON.stringify(md[k] ?? null)}`);
    }
    return v;
  };
  const meta: CheckpointMeta = {
    model: md.model ?? "",
    epoch: num("epoch"),
    step: num("step"),
    loader: json("loader") as LoaderState,
    config: json("config") as Record<string, unknown>,
  };
  const pre = md[PREPROCESSING_KEY];
  if (pre !== undefined) meta.preprocessing = parsePreprocessing(pre, source);
  checkMeta(meta, source);
  return { meta, tensors: file.tensors, source };
}

function checkMeta(meta: CheckpointMeta, source: string): void {
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (typeof meta.model !== "string" || meta.model === "") {
    throw new Error(`${source}: metadata model must name the model`);
  }
  if (!count(meta.epoch) || !count(meta.step)) {
    throw new Error(`${source}: metadata epoch and step must be counts`);
  }
  const l = meta.loader as unknown as Record<string, unknown> | null;
  if (
    typeof l !== "object" || l === null || Array.isArray(l) || !Number.isSafeInteger(l.seed) ||
    !count(l.epoch) || !count(l.batch)
  ) {
    throw new Error(
      `${source}: metadata loader must be {"seed": int, "epoch": count, "batch": count}, got ` +
        JSON.stringify(meta.loader),
    );
  }
  if (typeof meta.config !== "object" || meta.config === null || Array.isArray(meta.config)) {
    throw new Error(`${source}: metadata config must be a JSON object`);
  }
}

function f32Entry(t: TensorOut, name: string, source: string): StateEntry {
  if (t.dtype !== "F32") {
    throw new Error(`${source}: ${name} is ${t.dtype}, checkpoints hold F32`);
  }
  return { shape: t.shape, data: typedView(t) as Float32Array };
}

/**
 * Loads a decoded checkpoint into `model` (and its optimizer state into `trainer`): every name,
 * dtype, shape and value of both is checked first, and nothing is written unless all of it fits
 * (a `StateDictError` lists what does not). Returns where the run stood.
 *
 * ```ts
 * import { applyCheckpoint, decodeCheckpoint, type Model, type Trainer } from "@resgpu/resgpu";
 * declare const bytes: Uint8Array, model: Model, trainer: Trainer;
 * const meta = applyCheckpoint(decodeCheckpoint(bytes), model, trainer);
 * trainer.steps = meta.step;
 * ```
 */
export function applyCheckpoint(
  ckpt: Checkpoint,
  model: Model,
  trainer: Trainer | null,
  opts: ApplyCheckpointOptions = {},
): CheckpointMeta {
  model.assertLive("applyCheckpoint");
  const strict = opts.strict ?? true;
  const { tensors, source } = ckpt;
  const modelEntries = new Map<string, StateEntry>();
  const optimizer = new Map<string, TensorOut>();
  for (const [name, t] of tensors) {
    if (name.startsWith(OPTIMIZER)) optimizer.set(name.slice(OPTIMIZER.length), t);
    else if (name.endsWith(".num_batches_tracked")) modelEntries.set(name, dummy);
    else modelEntries.set(name, f32Entry(t, name, source));
  }
  let plan;
  try {
    plan = checkState(model, modelEntries, { strict });
  } catch (e) {
    if (e instanceof StateDictError) {
      throw new StateDictError(e.report, `model ${model.name} (from ${source})`);
    }
    throw e;
  }
  const { inputShape, classes } = model.graph;
  const pre = ckpt.meta.preprocessing &&
    preprocessingFor(ckpt.meta.preprocessing, inputShape, classes, source);
  const writes: [GPUBuffer, Float32Array][] = [];
  if (trainer) {
    const report: StateReport = { missing: [], unexpected: [], mismatched: [], nonFinite: [] };
    const wanted = new Set<string>();
    for (const [name, buf, n] of trainer.optimizerState()) {
      wanted.add(name);
      const t = optimizer.get(name);
      if (!t) {
        report.missing.push(OPTIMIZER + name);
        continue;
      }
      const e = f32Entry(t, OPTIMIZER + name, source);
      if (e.shape.join() !== String(n)) {
        report.mismatched.push({ name: OPTIMIZER + name, expected: [n], got: [...e.shape] });
        continue;
      }
      const bad = countNonFinite(e.data);
      if (bad > 0) report.nonFinite.push({ name: OPTIMIZER + name, count: bad });
      writes.push([buf, e.data]);
    }
    for (const name of optimizer.keys()) {
      if (!wanted.has(name)) report.unexpected.push(OPTIMIZER + name);
    }
    if (!strict) {
      report.missing = [];
      report.unexpected = [];
    }
    if (Object.values(report).some((l) => l.length > 0)) {
      throw new StateDictError(
        report,
        `the optimizer state of model ${model.name} (from ${source})`,
      );
    }
  }
  for (const name of plan.loaded) {
    model.rt.write(
      model.param(name),
      0,
      modelEntries.get(name)!.data as Float32Array<ArrayBuffer>,
    );
  }
  for (const [buf, data] of writes) model.rt.write(buf, 0, data as Float32Array<ArrayBuffer>);
  if (pre) model.setPreprocessing(pre);
  return ckpt.meta;
}

/** `num_batches_tracked` is I64 and not loaded: a placeholder that only carries the name. */
const dummy: StateEntry = { shape: [], data: new Float32Array(1) };
