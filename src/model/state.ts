/**
 * Strict, atomic loading of named tensors into a model (`Model`): the one mechanism behind
 * `Model.loadStateDict`, checkpoint loading and pretrained weights. Every name, shape, type and
 * value is validated against the model and the options first; only when all of it fits is
 * anything written, so a failed load never leaves a half-changed model.
 *
 * Names are torchvision's state_dict names (`conv1.weight`, `layer1.0.bn1.running_mean`, …).
 * `X.num_batches_tracked` (a step counter torchvision keeps per batch norm, not a tensor of the
 * model) is accepted and ignored when the model has a batch norm `X`; for any other `X` it is
 * unexpected like any unknown name. Callers converting another format (F16, BF16, F64 files)
 * convert to f32 first: entries hold `Float32Array`s only.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { numel } from "../tensor.ts";
import { checkFloat32, typeName } from "../util/typed.ts";

/** What a state is loaded into: a `Model` (named structurally, so model.ts can import this). */
export interface StateTarget {
  /** Named in errors. */
  readonly name: string;
  /** The runtime whose queue writes the tensors. */
  readonly rt: Runtime;
  /** Every tensor of the target, by name, with its shape. */
  readonly specs: ReadonlyMap<string, { readonly shape: readonly number[] }>;
  /** The GPU buffer holding tensor `name`. */
  param(name: string): GPUBuffer;
  /** Throws when the target (or its runtime) was disposed. */
  assertLive(user?: string): void;
}

/** One tensor to load: its shape as the source declares it and its values, row-major f32. */
export interface StateEntry {
  /** The shape the source declares, e.g. `[16, 3, 3, 3]` for a conv weight (OIHW). */
  shape: readonly number[];
  /** Exactly numel(shape) values; other dtypes are converted to f32 before loading. */
  data: Float32Array;
}

/** Tensors by torchvision state_dict name. */
export type StateEntries = ReadonlyMap<string, StateEntry>;

/** Options of {@link applyState}: how strict, and which names to leave alone. */
export interface ApplyStateOptions {
  /**
   * `true` (default): every tensor of the model must be given (unless skipped) and every given
   * name must be one of the model's. `false`: missing ones keep their current values and
   * unexpected ones are ignored; both are listed in the returned report. Shapes must match and
   * values must be finite either way.
   */
  strict?: boolean;
  /**
   * Names to leave alone, as glob patterns (`*` any run of characters, dots included; `?` one
   * character): matching entries are not loaded and matching model tensors are not required.
   * `["fc.*"]` loads a backbone whose classifier has another number of classes.
   */
  skip?: readonly string[];
}

/** What did not fit: names, and shapes as `[expected, got]` pairs. */
export interface StateReport {
  /** Model tensors the entries lack (not skipped). */
  missing: string[];
  /** Entry names the model does not have (not skipped, not an ignored `num_batches_tracked`). */
  unexpected: string[];
  /** Names whose shape differs from the model's. */
  mismatched: { name: string; expected: number[]; got: number[] }[];
  /** Names holding NaN or ±Infinity, with how many such values. */
  nonFinite: { name: string; count: number }[];
}

/** The result of a successful {@link applyState}: what was written and what was left alone. */
export interface AppliedState extends StateReport {
  /** Names written into the model. */
  loaded: string[];
  /** Names (of the model or the entries) matched by `skip`. */
  skipped: string[];
}

/**
 * A load refused before anything was written. `report` lists every problem; the message names
 * the first few of each kind, then counts.
 *
 * ```ts
 * import { applyState, type Model, type StateEntries, StateDictError } from "@resgpu/resgpu";
 * declare const model: Model, entries: StateEntries;
 * try {
 *   applyState(model, entries);
 * } catch (e) {
 *   if (e instanceof StateDictError) console.log(e.report.missing);
 * }
 * ```
 */
export class StateDictError extends Error {
  /** `target` names what was loaded into (e.g. `model resnet20`) in the message. */
  constructor(readonly report: StateReport, target: string) {
    super(describe(report, target));
    this.name = "StateDictError";
  }
}

const SHOWN = 3;

function list<T>(items: T[], show: (t: T) => string, what: string): string | null {
  if (items.length === 0) return null;
  const head = items.slice(0, SHOWN).map(show).join(", ");
  const more = items.length > SHOWN ? `, … ${items.length - SHOWN} more` : "";
  return `${items.length} ${what} (${head}${more})`;
}

function describe(r: StateReport, target: string): string {
  const parts = [
    list(r.missing, (n) => n, "missing"),
    list(r.unexpected, (n) => n, "unexpected"),
    list(
      r.mismatched,
      (m) => `${m.name}: expected [${m.expected.join(", ")}], got [${m.got.join(", ")}]`,
      "with another shape",
    ),
    list(r.nonFinite, (m) => `${m.name}: ${m.count} NaN/Inf`, "non-finite"),
  ].filter((p) => p !== null);
  return `state dict does not fit ${target}: ${parts.join("; ")}; nothing was loaded`;
}

/** A glob pattern (`*`, `?`) as an anchored regular expression. */
function globRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(
    /\?/g,
    ".",
  );
  return new RegExp(`^${body}$`);
}

const BATCHES_TRACKED = ".num_batches_tracked";

/** Counts NaN and ±Infinity in `data` (x − x is NaN exactly for those). */
export function countNonFinite(data: Float32Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] - data[i] !== 0) n++;
  return n;
}

/**
 * Validates `entries` against `model` without writing: returns the plan of {@link applyState}
 * or throws what it would throw. Checkpoint loading uses it to check the model and the
 * optimizer state together before writing either.
 */
export function checkState(
  model: StateTarget,
  entries: StateEntries,
  opts: ApplyStateOptions = {},
): AppliedState {
  const strict = opts.strict ?? true;
  if (!(entries instanceof Map)) {
    throw new TypeError(
      `state entries must be a Map of name → { shape, data }, got ${typeName(entries)}`,
    );
  }
  const skips = (opts.skip ?? []).map(globRegExp);
  const skipped = (name: string) => skips.some((re) => re.test(name));
  const report: AppliedState = {
    missing: [],
    unexpected: [],
    mismatched: [],
    nonFinite: [],
    loaded: [],
    skipped: [],
  };
  for (const [name, entry] of entries) {
    if (skipped(name)) {
      report.skipped.push(name);
      continue;
    }
    const spec = model.specs.get(name);
    if (!spec) {
      const bn = name.endsWith(BATCHES_TRACKED)
        ? name.slice(0, -BATCHES_TRACKED.length) + ".running_mean"
        : null;
      if (!(bn && model.specs.has(bn))) report.unexpected.push(name);
      continue;
    }
    checkEntry(name, entry);
    if (entry.shape.join() !== spec.shape.join()) {
      report.mismatched.push({ name, expected: [...spec.shape], got: [...entry.shape] });
      continue;
    }
    const bad = countNonFinite(entry.data);
    if (bad > 0) report.nonFinite.push({ name, count: bad });
    report.loaded.push(name);
  }
  for (const name of model.specs.keys()) {
    if (entries.has(name)) continue;
    if (skipped(name)) report.skipped.push(name);
    else report.missing.push(name);
  }
  const refused = report.mismatched.length > 0 || report.nonFinite.length > 0 ||
    (strict && (report.missing.length > 0 || report.unexpected.length > 0));
  if (refused) {
    const { missing, unexpected, mismatched, nonFinite } = report;
    throw new StateDictError(
      strict ? { missing, unexpected, mismatched, nonFinite } : {
        missing: [],
        unexpected: [],
        mismatched,
        nonFinite,
      },
      `model ${model.name}`,
    );
  }
  return report;
}

/** An entry must be `{ shape: number[], data: Float32Array }` whose data fills its shape. */
function checkEntry(name: string, entry: StateEntry): void {
  if (typeof entry !== "object" || entry === null || !Array.isArray(entry.shape)) {
    throw new TypeError(`${name}: expected { shape, data }, got ${typeName(entry)}`);
  }
  checkFloat32(entry.data, `${name}: data`, " (convert other dtypes to f32 first)");
  const n = numel(entry.shape);
  if (entry.data.length !== n) {
    throw new RangeError(
      `${name}: shape [${entry.shape.join(", ")}] holds ${n} values, data has ` +
        `${entry.data.length}`,
    );
  }
}

/**
 * Loads `entries` into `model`: validates every name, shape and value (finite) against the
 * model and the options first and throws a {@link StateDictError} listing all problems without
 * writing anything; on success writes every entry and returns what was loaded, skipped, missing
 * (non-strict) and unexpected (non-strict).
 *
 * ```ts
 * import { applyState, type Model, type StateEntries } from "@resgpu/resgpu";
 * declare const model: Model, entries: StateEntries;
 * // A backbone from a 1000-class checkpoint into a 10-class model: keep the model's own fc.
 * const done = applyState(model, entries, { skip: ["fc.*"] });
 * console.log(`${done.loaded.length} tensors loaded`);
 * ```
 */
export function applyState(
  model: StateTarget,
  entries: StateEntries,
  opts: ApplyStateOptions = {},
): AppliedState {
  model.assertLive(`${model.name}.loadStateDict`);
  const plan = checkState(model, entries, opts);
  for (const name of plan.loaded) {
    model.rt.write(model.param(name), 0, entries.get(name)!.data as Float32Array<ArrayBuffer>);
  }
  return plan;
}
