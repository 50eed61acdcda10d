/**
 * Weights files: a model's parameters and batch-norm statistics under torchvision's state_dict
 * names, as safetensors bytes (the path versions are in weights_file.ts, exported from files.ts).
 *
 * Loading reads any safetensors file with torchvision/timm names — resgpu's weights files and
 * checkpoints, or one converted from PyTorch (tools/resgpu_torch.py) — converting F16, BF16 and F64
 * to f32, through the one strict, atomic loader (src/model/state.ts): on any error nothing in the
 * model changed. Saving writes exactly what `torchvision.models.resnet50().load_state_dict(…,
 * strict=True)` accepts, plus the model's preprocessing in the metadata.
 */
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsFile,
  type TensorIn,
  type TensorOut,
} from "./safetensors.ts";
import { toFloat32 } from "./float.ts";
import { typeName } from "../util/typed.ts";
import { gatherRead, type Model } from "../model/model.ts";
import { initParameter } from "../model/init.ts";
import {
  type AppliedState,
  applyState,
  type ApplyStateOptions,
  checkState,
  countNonFinite,
  StateDictError,
  type StateEntry,
} from "../model/state.ts";
import {
  encodePreprocessing,
  type Normalization,
  parsePreprocessing,
  type Preprocessing,
  PREPROCESSING_KEY,
  preprocessingFor,
} from "../model/preprocessing.ts";

/** The `format` metadata of weights files resgpu writes. */
export const WEIGHTS_FORMAT = "resgpu-weights-1";

const BATCHES_TRACKED = ".num_batches_tracked";
const CHECKPOINT_FORMAT_PREFIX = "resgpu-checkpoint-";
const OPTIMIZER = "optimizer.";

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions extends ApplyStateOptions {
  /**
   * Re-initialize the model's tensors that `skip` matches the way the zoo initializes them (from
   * the model's seed), so a new head starts as a fresh model's would (default true); `false`
   * leaves their current values.
   */
  reinitialize?: boolean;
  /** What to call the source in errors (a file name); default `<bytes>`. */
  source?: string;
}

/** What {@link loadWeights} did. */
export interface LoadedWeights extends AppliedState {
  /** The model's tensors matched by `skip` and re-initialized. */
  reinitialized: string[];
  /** Tensors converted to f32 from another dtype, by dtype (e.g. `{ F16: 122 }`). */
  converted: Record<string, number>;
  /**
   * Which of the file's stored preprocessing was applied to the model: its normalization (mean
   * and std), its class names (only when the class count matches the model's), neither (the file
   * has none: the model keeps its own).
   */
  preprocessing: { normalization: boolean; classNames: boolean };
}

/**
 * Loads a safetensors file's tensors into `model` by torchvision name: strict by default (every
 * tensor of the model present, no unknown names, all shapes equal — a `StateDictError` names the
 * first of each kind, then counts), `num_batches_tracked` accepted, a checkpoint's optimizer state
 * ignored. `skip` patterns (`["fc.*"]`) leave tensors out, e.g. a 1000-class head when the model
 * has 37 classes; the model's skipped tensors are re-initialized as the zoo does. Atomic: on any
 * error — a malformed file, a wrong name, shape or dtype, a NaN — nothing in the model changed.
 * The file's stored preprocessing (normalization, class names), when it has one, becomes the
 * model's.
 *
 * ```ts
 * import { buildModel, loadWeights, Model, Runtime } from "@resgpu/resgpu";
 * const rt = await Runtime.create();
 * const model = Model.create(rt, buildModel("resnet18", { classes: 37 }));
 * const bytes = await fetch("resnet18.safetensors").then((r) => r.bytes());
 * const done = loadWeights(model, bytes, { skip: ["fc.*"] });
 * console.log(`${done.loaded.length} loaded, ${done.reinitialized.join(", ")} re-initialized`);
 * ```
 */
export function loadWeights(
  model: Model,
  bytes: Uint8Array,
  opts: LoadWeightsOptions = {},
): LoadedWeights {
  const source = opts.source ?? "<bytes>";
  model.assertLive("loadWeights");
  checkFileBytes(bytes, "loadWeights");
  return applyWeights(model, decodeSafetensors(bytes, source), { ...opts, source });
}

/** {@link loadWeights} for a decoded safetensors file (the file reader validates it first). */
export function applyWeights(
  model: Model,
  file: SafetensorsFile,
  opts: LoadWeightsOptions = {},
): LoadedWeights {
  const source = opts.source ?? "<bytes>";
  model.assertLive("loadWeights");
  const fromCheckpoint = (file.metadata.format ?? "").startsWith(CHECKPOINT_FORMAT_PREFIX);
  const entries = new Map<string, StateEntry>();
  const converted: Record<string, number> = {};
  // Tensors first, counters after: a report of unexpected names then starts with layers.
  const names = [...file.tensors.keys()].filter((n) =>
    !(fromCheckpoint && n.startsWith(OPTIMIZER))
  );
  const tracked = (n: string) => n.endsWith(BATCHES_TRACKED);
  for (const name of [...names.filter((n) => !tracked(n)), ...names.filter(tracked)]) {
    entries.set(name, entryOf(model, name, file.tensors.get(name)!, source, converted));
  }
  const strict = opts.strict ?? true;
  const skip = opts.skip ?? [];
  const preprocessing = storedPreprocessing(model, file.metadata, source);

  // Validate first (throws before any write), then load the file's tensors together with the
  // re-initialized ones in one atomic apply.
  const plan = withHint(model, source, () => checkState(model, entries, { strict, skip }));
  const reinit = (opts.reinitialize ?? true)
    ? plan.skipped.filter((name) => model.specs.has(name))
    : [];
  const all = new Map<string, StateEntry>();
  for (const name of plan.loaded) all.set(name, entries.get(name)!);
  for (const name of reinit) {
    const spec = model.specs.get(name)!;
    all.set(name, {
      shape: spec.shape,
      data: initParameter(spec, model.graph.params, model.seed),
    });
  }
  applyState(model, all, { strict: false });
  if (preprocessing) {
    model.setPreprocessing({
      mean: preprocessing.mean,
      std: preprocessing.std,
      ...(preprocessing.classNames ? { classNames: preprocessing.classNames } : {}),
    });
  }
  return {
    ...plan,
    reinitialized: reinit,
    converted,
    preprocessing: {
      normalization: preprocessing !== null,
      classNames: preprocessing?.classNames !== undefined,
    },
  };
}

/** What a weights file holds, read without a model: see {@link weightsInfo}. */
export interface WeightsInfo {
  /** Its `format` metadata: `resgpu-weights-1`, `resgpu-checkpoint-1`, or another writer's. */
  format?: string;
  /** The resgpu model name it was written for, when stored (e.g. `resnet50`). */
  model?: string;
  /** The stored preprocessing (normalization, input shape, classes, class names), if any. */
  preprocessing?: Preprocessing;
  /** Every tensor's name, dtype and shape, in file order. */
  tensors: { name: string; dtype: string; shape: number[] }[];
}

/**
 * Reads a weights file's header and metadata without loading it, to pick the model to build.
 *
 * ```ts
 * import { buildModel, loadWeights, Model, Runtime, weightsInfo } from "@resgpu/resgpu";
 * const bytes = await fetch("resnet50.safetensors").then((r) => r.bytes());
 * const info = weightsInfo(bytes);
 * const rt = await Runtime.create();
 * const model = Model.create(rt, buildModel(info.model ?? "resnet50", {
 *   inputShape: info.preprocessing ? [...info.preprocessing.inputShape] : undefined,
 *   classes: info.preprocessing?.classes,
 * }));
 * loadWeights(model, bytes);
 * ```
 */
export function weightsInfo(bytes: Uint8Array, source = "<bytes>"): WeightsInfo {
  checkFileBytes(bytes, "weightsInfo");
  const file = decodeSafetensors(bytes, source);
  const md = file.metadata;
  const pre = md[PREPROCESSING_KEY];
  return {
    ...(md.format !== undefined ? { format: md.format } : {}),
    ...(md.model ? { model: md.model } : {}),
    ...(pre !== undefined ? { preprocessing: parsePreprocessing(pre, source) } : {}),
    tensors: [...file.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] })),
  };
}

/** Options of {@link saveWeights}. */
export interface SaveWeightsOptions {
  /**
   * The value of every batch norm's `num_batches_tracked` (torchvision reads it only for BN
   * momentum `None`, which resgpu does not use); default 0.
   */
  numBatchesTracked?: number;
}

/**
 * The model's weights as safetensors bytes: every parameter and batch-norm statistic in f32 under
 * its torchvision name, each batch norm's `num_batches_tracked` as int64 (so torchvision's
 * `load_state_dict(…, strict=True)` takes the file as it is), and the model's preprocessing,
 * name and format in the metadata. One gathered readback; refuses (naming the tensors) when a
 * value is not finite.
 *
 * ```ts
 * import { buildModel, Model, Runtime, saveWeights } from "@resgpu/resgpu";
 * const rt = await Runtime.create();
 * const model = Model.create(rt, buildModel("resnet20"));
 * const bytes = await saveWeights(model);
 * console.log(`${bytes.length} bytes`);
 * ```
 */
export async function saveWeights(
  model: Model,
  opts: SaveWeightsOptions = {},
): Promise<Uint8Array> {
  const { tensors, metadata } = await weightsTensors(model, opts);
  return encodeSafetensors(tensors, metadata);
}

/** The tensors and metadata {@link saveWeights} encodes (the file writer encodes them too). */
export async function weightsTensors(
  model: Model,
  opts: SaveWeightsOptions = {},
): Promise<{ tensors: Map<string, TensorIn>; metadata: Record<string, string> }> {
  model.assertLive("saveWeights");
  const tracked = opts.numBatchesTracked ?? 0;
  if (!Number.isSafeInteger(tracked) || tracked < 0) {
    throw new RangeError(`numBatchesTracked must be a non-negative integer, got ${tracked}`);
  }
  const values = await gatherRead(
    model.rt,
    model.graph.params.map((p) => [p.name, model.param(p.name), numel(p.shape)]),
  );
  const bad = [...values].map(([name, v]) => ({ name, count: countNonFinite(v) }))
    .filter((b) => b.count > 0);
  if (bad.length > 0) {
    throw new StateDictError(
      { missing: [], unexpected: [], mismatched: [], nonFinite: bad },
      `a weights file (model ${model.name} holds non-finite values)`,
    );
  }
  return {
    tensors: stateTensors(model, values, tracked),
    metadata: weightsMetadata(model, WEIGHTS_FORMAT),
  };
}

/**
 * `values` (by torchvision name) as safetensors tensors in f32, with each batch norm's
 * `num_batches_tracked` as int64.
 */
export function stateTensors(
  model: Model,
  values: ReadonlyMap<string, Float32Array>,
  numBatchesTracked = 0,
): Map<string, TensorIn> {
  const tensors = new Map<string, TensorIn>();
  for (const p of model.graph.params) {
    tensors.set(p.name, { dtype: "F32", shape: [...p.shape], data: values.get(p.name)! });
    if (p.kind === "running_mean") {
      tensors.set(p.name.slice(0, -".running_mean".length) + BATCHES_TRACKED, {
        dtype: "I64",
        shape: [],
        data: new BigInt64Array([BigInt(numBatchesTracked)]),
      });
    }
  }
  return tensors;
}

/** The metadata resgpu writes with a model's tensors: format, model name and preprocessing. */
export function weightsMetadata(model: Model, format: string): Record<string, string> {
  return {
    format,
    model: model.name,
    [PREPROCESSING_KEY]: encodePreprocessing(model.preprocessing),
  };
}

/** A bytes API refuses anything but a Uint8Array (a Node Buffer is one) before parsing. */
function checkFileBytes(bytes: unknown, user: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `${user}: expected the file's bytes as a Uint8Array, got ${typeName(bytes)}`,
    );
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The loader's entry for one tensor: f32 values for floating-point tensors; a placeholder for
 * `num_batches_tracked` (integer, not loaded) and for integer tensors the model does not have
 * (reported as unexpected); an error for an integer tensor where the model has a parameter.
 */
function entryOf(
  model: Model,
  name: string,
  t: TensorOut,
  source: string,
  converted: Record<string, number>,
): StateEntry {
  if (t.dtype === "F32" || t.dtype === "F16" || t.dtype === "BF16" || t.dtype === "F64") {
    if (t.dtype !== "F32") converted[t.dtype] = (converted[t.dtype] ?? 0) + 1;
    return { shape: t.shape, data: toFloat32(t, `${source}: ${name}`) };
  }
  if (model.specs.has(name)) {
    throw new TypeError(
      `${source}: ${name} is ${t.dtype}; parameters load from F32, F16, BF16 or F64 tensors`,
    );
  }
  // Never loaded, so never read: no allocation of what the header claims.
  return { shape: t.shape, data: new Float32Array(0) };
}

/** A refused load names the source, and says how to load a backbone under a different head. */
function withHint<T>(model: Model, source: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof StateDictError)) throw e;
    const err = new StateDictError(e.report, `model ${model.name} (from ${source})`);
    const head = headModule(model);
    if (head && e.report.mismatched.some((m) => m.name.startsWith(`${head}.`))) {
      err.message += `; to load the rest under a new head, pass { skip: ["${head}.*"] }`;
    }
    throw err;
  }
}

/** The module of the model's last linear layer (`fc` for ResNets), if any. */
function headModule(model: Model): string | null {
  const linear = model.graph.nodes.filter((n) => n.op === "linear");
  return linear.length ? linear[linear.length - 1].name : null;
}

/** The file's stored preprocessing that fits the model (see preprocessingFor), or null. */
function storedPreprocessing(
  model: Model,
  metadata: Record<string, string>,
  source: string,
): (Normalization & { classNames?: readonly string[] }) | null {
  const json = metadata[PREPROCESSING_KEY];
  if (json === undefined) return null;
  const { inputShape, classes } = model.graph;
  return preprocessingFor(parsePreprocessing(json, source), inputShape, classes, source);
}
