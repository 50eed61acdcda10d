/**
 * Fine-tuning in a training run (`deno task train --weights FILE --train-only layer4,fc`): what
 * the run needs from the weights file before it opens the data or builds the model (its
 * normalization, its stem, its head), and the decisions made from it — which tensors load, whether
 * the head is new, which parameters train — all checked before anything is trained. Loading goes
 * through the library's `loadWeightsFile` and freezing through the Trainer's `freeze` option.
 */
import { readSafetensorsHeader } from "../io/safetensors_file.ts";
import type { SafetensorsHeader } from "../io/safetensors.ts";
import {
  type Normalization,
  parsePreprocessing,
  type Preprocessing,
  PREPROCESSING_KEY,
} from "../model/preprocessing.ts";
import type { Graph } from "../graph/ir.ts";
import { modelInfo, type Stem } from "../zoo/registry.ts";
import { frozenNames } from "../scheduler/freeze.ts";
import type { Model } from "../model/model.ts";
import { loadWeightsFile } from "../io/weights_file.ts";

/** The fine-tuning settings of a run (`--weights`, `--train-only`, `--new-head`, `--frozen-bn`). */
export interface FinetuneConfig {
  /** A weights file or a run's checkpoint to start from. */
  weights?: string;
  /** Parameter name prefixes that train; the rest are frozen (unset: all train). */
  trainOnly?: string[];
  /** Initialize a new head instead of loading the file's, even when its shape fits. */
  newHead?: boolean;
  /** Frozen batch norms: running statistics, kept (eval, the default) or batch statistics. */
  frozenBn?: "eval" | "train";
}

/** What a run takes from its weights file before building anything. */
export interface Pretrained {
  /** The file read (the weights file, or the checkpoint a resumed run continues from). */
  path: string;
  header: SafetensorsHeader;
  /** The file's stored preprocessing, if any. */
  preprocessing?: Preprocessing;
  /** The stem the file's `conv1.weight` implies for an ImageNet ResNet (7×7: imagenet). */
  stem?: Stem;
}

/**
 * Reads the header of `path` (no tensor data) and checks that it is a weights file for `model`
 * when it says which model it is for. Errors name the file.
 */
export async function readPretrained(path: string, model: string): Promise<Pretrained> {
  const header = await readSafetensorsHeader(path);
  const md = header.metadata;
  if (md.model && md.model !== model) {
    throw new Error(
      `${path} holds weights of a ${md.model}, not a ${model}: pass --model ${md.model} or ` +
        `a ${model} weights file`,
    );
  }
  const pre = md[PREPROCESSING_KEY];
  const conv1 = header.tensors.find((t) => t.name === "conv1.weight");
  return {
    path,
    header,
    ...(pre !== undefined ? { preprocessing: parsePreprocessing(pre, path) } : {}),
    ...(conv1?.shape.length === 4 ? { stem: conv1.shape[2] === 7 ? "imagenet" : "cifar" } : {}),
  };
}

/**
 * The normalization a fine-tune feeds its data with: the weights' own, which their features were
 * learned under; when the file stores none (a converted torchvision file), the data's default
 * (ImageNet's for an image folder, which is what torchvision's weights expect).
 */
export function pretrainedNormalization(p: Pretrained | null): Normalization | undefined {
  return p?.preprocessing ? { mean: p.preprocessing.mean, std: p.preprocessing.std } : undefined;
}

/** What a fine-tuning run takes from {@link openPretrained}. */
export interface OpenedPretrained {
  /** The data's normalization (see {@link pretrainedNormalization}). */
  normalization?: Normalization;
  /** The stem to build (from the file's conv1), for ImageNet ResNets. */
  stem?: Stem;
  /** Checks the settings against the model's graph and the data's classes: see planFinetune. */
  plan(graph: Graph, classNames?: readonly string[]): FinetunePlan & {
    /** Loads the weights file into `model`; returns a line for the run's log. */
    load(model: Model): Promise<string>;
  };
}

/**
 * A run's fine-tuning settings, read: null without `--weights` (where the other fine-tuning flags
 * are refused). A resumed run reads its checkpoint instead of the weights file, which it no longer
 * needs: the checkpoint holds the same normalization and stem.
 */
export async function openPretrained(
  cfg: FinetuneConfig & { model: string; resume?: string },
): Promise<OpenedPretrained | null> {
  if (!cfg.weights) {
    const stray = [
      cfg.trainOnly && "--train-only",
      cfg.newHead && "--new-head",
      cfg.frozenBn && "--frozen-bn",
    ].filter(Boolean);
    if (stray.length > 0) {
      throw new Error(`${stray.join(", ")}: fine-tuning settings need --weights FILE`);
    }
    return null;
  }
  const weights = cfg.weights;
  const p = await readPretrained(cfg.resume ?? weights, cfg.model);
  const imagenet = modelInfo(cfg.model).family === "imagenet-resnet";
  return {
    normalization: pretrainedNormalization(p),
    stem: imagenet ? p.stem : undefined,
    plan(graph, classNames) {
      const plan = planFinetune(graph, cfg.model, p, cfg, classNames);
      return {
        ...plan,
        async load(model) {
          const r = await loadWeightsFile(model, weights, { skip: plan.skip });
          const head = plan.newHead
            ? `; new head ${r.reinitialized.join(", ")} for ${graph.classes} classes ` +
              `(${plan.newHead})`
            : "";
          const trains = plan.freeze
            ? `; training ${plan.freeze.except.join(", ")} only (frozen batch norms ` +
              `${cfg.frozenBn === "train" ? "use batch statistics" : "in eval mode"})`
            : "";
          return `${weights}: ${r.loaded.length} tensors loaded${head}${trains}`;
        },
      };
    },
  };
}

/** The module of the model's last linear layer (`fc` for ResNets), if any. */
export function headOf(graph: Graph): string | null {
  const linear = graph.nodes.filter((n) => n.op === "linear");
  return linear.length ? linear[linear.length - 1].name : null;
}

/** What {@link planFinetune} decided. */
export interface FinetunePlan {
  /** Patterns of the file's tensors not loaded (`["fc.*"]` for a new head). */
  skip: string[];
  /** Why the head is new, for the run's log (null: the file's head is loaded). */
  newHead: string | null;
  /** The Trainer's freeze option (undefined: everything trains). */
  freeze?: { except: string[] };
}

/**
 * Decides, from the file's header and the model's graph, what loads and what trains, or throws
 * naming the problem and the flag that fixes it: a `--train-only` prefix that names nothing (with
 * the model's top-level names), or a head that does not fit the data (other shape, or other class
 * names) while it would stay frozen.
 */
export function planFinetune(
  graph: Graph,
  modelName: string,
  p: Pretrained,
  cfg: FinetuneConfig,
  classNames: readonly string[] | undefined,
): FinetunePlan {
  let freeze: { except: string[] } | undefined;
  if (cfg.trainOnly) {
    try {
      frozenNames(graph.params, { except: cfg.trainOnly }, `model ${modelName}`);
    } catch (e) {
      throw new Error(`--train-only: ${(e as Error).message.replace(/^freeze: /, "")}`);
    }
    freeze = { except: [...cfg.trainOnly] };
  }
  const head = headOf(graph);
  if (!head) return { skip: [], newHead: null, freeze };
  const selects = (prefix: string, name: string) =>
    name === prefix || name.startsWith(`${prefix}.`) || prefix.startsWith(`${name}.`);
  const headTrains = !cfg.trainOnly || cfg.trainOnly.some((t) => selects(t, head));
  const mismatch = headMismatch(graph, head, p, classNames);
  const flagFix = `add ${head} to --train-only (e.g. --train-only ${
    [...(cfg.trainOnly ?? []).filter((t) => !selects(t, head)), head].join(",")
  }) to train a new head`;
  if (cfg.newHead && !headTrains) {
    throw new Error(
      `--new-head: a new head must train, but --train-only leaves it frozen: ${flagFix}`,
    );
  }
  if (mismatch && !headTrains) {
    throw new Error(`${p.path}: ${mismatch}, and --train-only leaves it frozen: ${flagFix}`);
  }
  const why = cfg.newHead ? "--new-head" : mismatch;
  return { skip: why ? [`${head}.*`] : [], newHead: why, freeze };
}

/** Why the file's head does not fit the model and data, or null when it does. */
function headMismatch(
  graph: Graph,
  head: string,
  p: Pretrained,
  classNames: readonly string[] | undefined,
): string | null {
  for (const spec of graph.params.filter((s) => s.name.startsWith(`${head}.`))) {
    const t = p.header.tensors.find((x) => x.name === spec.name);
    const want = `[${spec.shape.join(", ")}]`;
    if (!t) return `the file has no ${spec.name} (the model's is ${want})`;
    if (t.shape.join() !== spec.shape.join()) {
      return `the file's head ${spec.name} is [${t.shape.join(", ")}] but the model's is ` +
        `${want} for the data's ${graph.classes} classes`;
    }
  }
  const stored = p.preprocessing?.classNames;
  if (stored && classNames && stored.join("\n") !== classNames.join("\n")) {
    return `the file's head was trained for other classes (${list(stored)}; the data has ` +
      `${list(classNames)})`;
  }
  return null;
}

function list(names: readonly string[]): string {
  return names.slice(0, 4).join(", ") + (names.length > 4 ? `, … ${names.length} in all` : "");
}
