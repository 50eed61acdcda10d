/**
 * A model rebuilt from a file alone, for prediction: a run's checkpoint (its metadata names the
 * model and the run's settings) or a weights file (saveWeights stores the model's name;
 * tools/resgpu_torch.py stores it only when told `--model`). What the metadata does not say —
 * shortcut option, width, stem, classes — is read off the tensors' names and shapes, so a file
 * whose architecture is known loads without flags, and one that names none needs `--model`.
 */
import { readSafetensors } from "../io/safetensors_file.ts";
import type { SafetensorsFile } from "../io/safetensors.ts";
import { applyWeights } from "../io/weights.ts";
import { Model } from "../model/model.ts";
import { parsePreprocessing, type Preprocessing } from "../model/preprocessing.ts";
import type { Runtime } from "../gpu/runtime.ts";
import type { Graph } from "../graph/ir.ts";
import { buildModel, listModels, modelInfo, type ModelOptions } from "../zoo/registry.ts";

/** What the file says of the model, or what was read off its tensors. */
export interface Architecture {
  /** The zoo name (`resnet18`). */
  name: string;
  /** Options for buildModel: input shape, classes, shortcut, width, stem. */
  options: ModelOptions;
  /** "checkpoint" (a training run's) or "weights". */
  kind: "checkpoint" | "weights";
  /** The stored preprocessing, when the file has one. */
  preprocessing?: Preprocessing;
  /** The run's settings, for a checkpoint. */
  config: Record<string, unknown>;
}

const CHECKPOINT_PREFIX = "resgpu-checkpoint-";

/**
 * The architecture of the model in `file`. `flagModel` is `--model`: needed when the file names
 * none, refused when it names another. `imageSize` overrides the stored input side.
 */
export function architectureOf(
  file: SafetensorsFile,
  path: string,
  flags: { model?: string; imageSize?: number } = {},
): Architecture {
  const md = file.metadata;
  const kind = (md.format ?? "").startsWith(CHECKPOINT_PREFIX) ? "checkpoint" : "weights";
  const config = kind === "checkpoint" ? parseConfig(md.config, path) : {};
  const stored = md.model || undefined;
  if (flags.model !== undefined && stored !== undefined && flags.model !== stored) {
    throw new Error(
      `--model ${flags.model}: ${path} holds a ${stored} (its metadata says so; leave --model out)`,
    );
  }
  const name = flags.model ?? stored;
  if (name === undefined) {
    throw new Error(
      `${path} does not say which model it holds (no "model" in its metadata, as when ` +
        "tools/resgpu_torch.py converts without --model): pass --model NAME, one of " +
        listModels().join(", "),
    );
  }
  const info = modelInfo(name); // throws for an unknown name, listing the known ones
  const preprocessing = md.preprocessing !== undefined
    ? parsePreprocessing(md.preprocessing, path)
    : undefined;
  const shapes = tensorShapes(file, kind);
  const probe = buildModel(name, { classes: 2 });
  const first = probe.params[0];
  const channels = preprocessing?.inputShape[0] ?? shapes.get(first.name)?.[1] ??
    info.inputShape[0];
  const [h, w] = flags.imageSize !== undefined
    ? [flags.imageSize, flags.imageSize]
    : preprocessing
    ? [preprocessing.inputShape[1], preprocessing.inputShape[2]]
    : [info.inputShape[1], info.inputShape[2]];
  const head = headWeight(probe);
  const classes = preprocessing?.classes ?? (head ? shapes.get(head)?.[0] : undefined) ??
    info.classes;
  const inputShape: [number, number, number] = [channels, h, w];
  const width = typeof config.width === "number"
    ? config.width
    : widthOf(shapes.get(first.name), first.shape);
  const base: ModelOptions = { inputShape, classes, width };
  // The run's own settings first, then every variant: the one whose tensors are the file's.
  const shortcuts = info.plain
    ? [undefined]
    : [config.shortcut as ModelOptions["shortcut"], undefined, "A", "B", "C"] as const;
  const stems = info.family === "imagenet-resnet"
    ? [undefined, "imagenet", "cifar"] as const
    : [undefined];
  let fallback: ModelOptions | undefined;
  for (const shortcut of shortcuts) {
    for (const stem of stems) {
      const options: ModelOptions = {
        ...base,
        ...(shortcut ? { shortcut } : {}),
        ...(stem ? { stem } : {}),
      };
      let graph: Graph;
      try {
        graph = buildModel(name, options);
      } catch {
        continue; // e.g. a width or size this variant cannot build
      }
      fallback ??= options;
      if (sameTensors(graph, shapes)) return { name, options, kind, preprocessing, config };
    }
  }
  // No variant matches: the first that builds, so loading names the mismatched tensors.
  return {
    name,
    options: fallback ?? base,
    kind,
    preprocessing,
    config,
  };
}

/**
 * Reads `path` and builds its model on `rt` with the file's tensors and preprocessing loaded
 * (strict: every tensor of the model, nothing else). Errors name the file.
 */
export async function modelFromFile(
  rt: Runtime,
  path: string,
  flags: { model?: string; imageSize?: number } = {},
): Promise<{ model: Model; architecture: Architecture }> {
  let file: SafetensorsFile;
  try {
    if (Deno.statSync(path).isDirectory) {
      throw new Error(`${path}: a directory, not a weights file`);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: no such file`);
    throw e;
  }
  try {
    file = await readSafetensors(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    throw new Error(
      `${(e as Error).message} (--weights takes a safetensors file: a run's ` +
        "checkpoint.safetensors or a weights file)",
    );
  }
  const architecture = architectureOf(file, path, flags);
  const model = Model.create(rt, buildModel(architecture.name, architecture.options), {
    name: architecture.name,
  });
  try {
    applyWeights(model, file, { source: path });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, architecture };
}

function parseConfig(json: string | undefined, path: string): Record<string, unknown> {
  if (json === undefined) return {};
  try {
    const v = JSON.parse(json);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : {};
  } catch {
    throw new Error(`${path}: checkpoint metadata "config" is not JSON`);
  }
}

/** The model tensors of the file by name (no optimizer state, no batch counters). */
function tensorShapes(file: SafetensorsFile, kind: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [name, t] of file.tensors) {
    if (name.endsWith(".num_batches_tracked")) continue;
    if (kind === "checkpoint" && name.startsWith("optimizer.")) continue;
    out.set(name, [...t.shape]);
  }
  return out;
}

/** The weight of the graph's last linear layer (the head): its rows are the classes. */
function headWeight(g: Graph): string | undefined {
  const linear = g.nodes.filter((n) => n.op === "linear");
  return linear.length ? `${linear[linear.length - 1].name}.weight` : undefined;
}

/** The width multiplier that gives the file's first tensor its output channels. */
function widthOf(stored: number[] | undefined, atWidth1: readonly number[]): number {
  return stored ? stored[0] / atWidth1[0] : 1;
}

function sameTensors(g: Graph, shapes: Map<string, number[]>): boolean {
  if (g.params.length !== shapes.size) return false;
  return g.params.every((p) => shapes.get(p.name)?.join() === p.shape.join());
}
