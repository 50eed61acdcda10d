/**
 * ImageNet ResNets (He et al. 2015, Table 1) with torchvision's topology and state_dict names, plus
 * the paper's plain baselines (same stacks, no shortcuts).
 */

import { type Graph, GraphBuilder } from "../graph/ir.ts";
import { checkClasses, checkSpatial, checkWidth, scaleWidth } from "./common.ts";
import { type BlockKind, head, type ShortcutOption, stage } from "./resnet_blocks.ts";

export type ImageNetDepth = 18 | 34 | 50 | 101 | 152;

export const IMAGENET_LAYOUTS: Record<ImageNetDepth, { block: BlockKind; blocks: number[] }> = {
  18: { block: "basic", blocks: [2, 2, 2, 2] },
  34: { block: "basic", blocks: [3, 4, 6, 3] },
  50: { block: "bottleneck", blocks: [3, 4, 6, 3] },
  101: { block: "bottleneck", blocks: [3, 4, 23, 3] },
  152: { block: "bottleneck", blocks: [3, 8, 36, 3] },
};

/**
 * "imagenet": torchvision's 7×7/2 conv + 3×3/2 max pool (a 4× reduction before layer1), the
 * stem pretrained torchvision/timm weights expect at any input size;
 * "cifar": a 3×3/1 conv and no pool, so 32×32 inputs still reach layer4 at 4×4 (its `conv1`
 * weight is 3×3, so 7×7 pretrained stems do not load into it);
 * "auto": "cifar" when the input is under 64 pixels on a side, else "imagenet".
 */
export type Stem = "imagenet" | "cifar" | "auto";

export const STEMS: readonly Stem[] = ["imagenet", "cifar", "auto"];

export interface ImageNetResNetOptions {
  depth: ImageNetDepth;
  inputShape?: readonly [number, number, number];
  classes?: number;
  /** torchvision is "B". */
  shortcut?: ShortcutOption;
  /** Multiplies the base width 64 (and so every stage). */
  width?: number;
  plain?: boolean;
  stem?: Stem;
}

export const SMALL_STEM_BELOW = 64;

export function resnetImageNet(o: ImageNetResNetOptions): Graph {
  const layout = IMAGENET_LAYOUTS[o.depth];
  if (!layout) {
    throw new Error(`ImageNet ResNet depth must be one of ${Object.keys(IMAGENET_LAYOUTS)}`);
  }
  const { inputShape = [3, 224, 224], classes = 1000, width = 1, stem = "auto" } = o;
  checkClasses(classes);
  checkWidth(width);
  const model = `${o.plain ? "plain" : "resnet"}${o.depth}`;
  const blockOpts = { shortcut: o.shortcut ?? "B", plain: o.plain ?? false };
  const b = new GraphBuilder(inputShape);
  const base = scaleWidth(64, width);

  if (!STEMS.includes(stem)) {
    throw new Error(`stem must be one of ${STEMS.map((s) => `"${s}"`).join(", ")}, got "${stem}"`);
  }
  const small = stem === "cifar" ||
    (stem === "auto" && Math.min(inputShape[1], inputShape[2]) < SMALL_STEM_BELOW);
  let x = small
    ? b.conv2d("conv1", b.input, base, { kernel: 3, stride: 1, padding: 1 })
    : b.conv2d("conv1", b.input, base, { kernel: 7, stride: 2, padding: 3 });
  x = b.relu(b.batchnorm("bn1", x), "relu");
  if (!small) {
    x = b.maxpool(x, 3, 2, 1, "maxpool");
    checkSpatial(b, x, model, "maxpool");
  }

  layout.blocks.forEach((n, i) => {
    const planes = scaleWidth(64 * 2 ** i, width);
    x = stage(b, `layer${i + 1}`, x, layout.block, planes, n, i === 0 ? 1 : 2, blockOpts);
  });
  return b.finish(head(b, x, classes));
}
