/**
 * The model registry: every network the project trains or benchmarks, by name, with the input
 * size and class count it was published for as defaults.
 */

import { countWeightLayers, type Graph } from "../graph/ir.ts";
import type { ShortcutOption } from "./resnet_blocks.ts";
import { resnetCifar } from "./resnet_cifar.ts";
import { type ImageNetDepth, resnetImageNet, type Stem } from "./resnet_imagenet.ts";
import { vgg19 } from "./vgg.ts";

export type { ShortcutOption, Stem };

/** Options of {@link buildModel}; every field defaults to the model's published setting. */
export interface ModelOptions {
  /** [C, H, W]; defaults to the dataset the model was published for. */
  inputShape?: [number, number, number];
  /** Output classes (default: 1000 ImageNet, 10 CIFAR). */
  classes?: number;
  /** Residual networks only; defaults to "B" (torchvision) for ImageNet and "A" for CIFAR. */
  shortcut?: ShortcutOption;
  /** Base-width multiplier (64 for ImageNet ResNets and VGG, 16 for CIFAR ResNets). */
  width?: number;
  /**
   * ImageNet ResNets only: "imagenet" (torchvision's 7×7/2 conv + max pool, what pretrained
   * weights need at any input size), "cifar" (3×3/1 conv, no pool) or "auto" (the default:
   * "cifar" below 64 pixels on a side).
   */
  stem?: Stem;
}

/** Which published family a model belongs to. */
export type Family = "imagenet-resnet" | "cifar-resnet" | "vgg";

/** What {@link modelInfo} says of a model, without building it. */
export interface ModelInfo {
  /** The model's name. */
  name: string;
  /** Its family. */
  family: Family;
  /** No shortcuts at all (the paper's plain baselines and VGG): `shortcut` does not apply. */
  plain: boolean;
  /** The input it was published for ([C, H, W]). */
  inputShape: readonly [number, number, number];
  /** Classes it was published with. */
  classes: number;
}

const IMAGENET = { inputShape: [3, 224, 224], classes: 1000 } as const;
const CIFAR = { inputShape: [3, 32, 32], classes: 10 } as const;

interface Entry extends ModelInfo {
  build(o: ModelOptions & { inputShape: [number, number, number]; classes: number }): Graph;
}

const entries: Entry[] = [];

for (const depth of [18, 34, 50, 101, 152] as ImageNetDepth[]) {
  for (const plain of depth <= 34 ? [false, true] : [false]) {
    entries.push({
      name: `${plain ? "plain" : "resnet"}${depth}`,
      family: "imagenet-resnet",
      plain,
      ...IMAGENET,
      build: (o) => resnetImageNet({ ...o, depth, plain }),
    });
  }
}
for (const batchNorm of [false, true]) {
  entries.push({
    name: batchNorm ? "vgg19_bn" : "vgg19",
    family: "vgg",
    plain: true,
    ...IMAGENET,
    build: (o) => vgg19({ ...o, batchNorm }),
  });
}
// 1202 is the paper's over-deep CIFAR net; it has no plain counterpart in Figure 6.
for (const depth of [20, 32, 44, 56, 110, 1202]) {
  for (const plain of depth < 1202 ? [false, true] : [false]) {
    entries.push({
      name: `${plain ? "plain" : "resnet"}${depth}`,
      family: "cifar-resnet",
      plain,
      ...CIFAR,
      build: (o) => resnetCifar({ ...o, depth, plain }),
    });
  }
}

const registry = new Map(entries.map((e) => [e.name, e]));

/** Registered model names, ImageNet ResNets first, then VGG, then the CIFAR family. */
export function listModels(): string[] {
  return entries.map((e) => e.name);
}

/**
 * A registered model, or any other CIFAR-family depth 6n+2 (`resnet8`, `plain14`, …): the
 * paper's rule builds them all, and small ones make quick experiments and tests.
 */
function lookup(name: string): Entry | undefined {
  const known = registry.get(name);
  if (known) return known;
  const m = name.match(/^(resnet|plain)(\d+)$/);
  const depth = m ? Number(m[2]) : NaN;
  if (!m || depth < 8 || (depth - 2) % 6 !== 0 || depth > 2000) return undefined;
  const plain = m[1] === "plain";
  return {
    name,
    family: "cifar-resnet",
    plain,
    ...CIFAR,
    build: (o) => resnetCifar({ ...o, depth, plain }),
  };
}

/**
 * A model's family, default input and classes.
 *
 * @throws {Error} an unknown name (the message lists the known ones).
 */
export function modelInfo(name: string): ModelInfo {
  const e = lookup(name);
  if (!e) {
    throw new Error(
      `unknown model "${name}"; known models: ${listModels().join(", ")} ` +
        "(and resnetN/plainN for any CIFAR depth N = 6n+2)",
    );
  }
  const { build: _build, ...info } = e;
  return info;
}

/**
 * The graph of a zoo model: ResNet-18/34/50/101/152, the CIFAR ResNets and their plain twins
 * (`resnetN`/`plainN`, N = 6n+2), VGG-19 (with or without batch norm). Parameter names and
 * counts match torchvision's and the paper's.
 *
 * @example
 * ```ts
 * import { buildModel, countParameters } from "@resgpu/resgpu";
 * const graph = buildModel("resnet20", { inputShape: [1, 28, 28], classes: 10 });
 * console.log(countParameters(graph)); // 269434 (option A: no shortcut weights)
 * ```
 *
 * @throws {Error} an unknown name or an option that does not apply (the message says which).
 */
export function buildModel(name: string, opts: ModelOptions = {}): Graph {
  const info = modelInfo(name);
  const e = lookup(name)!;
  if (opts.shortcut !== undefined) {
    if (info.plain) throw new Error(`${name} has no shortcuts; the shortcut option does not apply`);
    if (!["A", "B", "C"].includes(opts.shortcut)) {
      throw new Error(`${name}: shortcut must be "A", "B" or "C", got "${opts.shortcut}"`);
    }
  }
  if (opts.stem !== undefined && info.family !== "imagenet-resnet") {
    throw new Error(`${name} has a fixed stem; the stem option applies to ImageNet ResNets only`);
  }
  try {
    return e.build({
      ...opts,
      inputShape: opts.inputShape ?? [...info.inputShape],
      classes: opts.classes ?? info.classes,
    });
  } catch (err) {
    // Builders report the layer that failed; say which model was asked for as well.
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(msg.startsWith(name) ? msg : `${name}: ${msg}`, { cause: err });
  }
}

/** Projection-shortcut convolutions: torchvision's `downsample.0`, present with options B and C. */
function isProjection(n: Graph["nodes"][number]): boolean {
  return n.op === "conv2d" && n.name.endsWith(".downsample.0");
}

/**
 * Depth as the paper counts it: weight layers on the main path (so ResNet-18 has 18 and
 * ResNet-20 has 20 whichever shortcut option is used).
 */
export function countMainPathLayers(g: Graph): number {
  return countWeightLayers(g) - countProjectionLayers(g);
}

export function countProjectionLayers(g: Graph): number {
  return g.nodes.filter(isProjection).length;
}

/** Parameters in projection shortcuts (conv and its BN): zero for option A. */
export function countShortcutParameters(g: Graph): number {
  return g.params
    .filter((p) =>
      p.name.includes(".downsample.") && p.kind !== "running_mean" &&
      p.kind !== "running_var"
    )
    .reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}
