/**
 * Residual (and plain) building blocks shared by the ImageNet and CIFAR ResNets, so both families
 * wire shortcuts identically and carry torchvision's module names (`layerX.Y.conv1`, …).
 */

import type { GraphBuilder } from "../graph/ir.ts";

/**
 * How a block's identity branch is built (He et al. 2015, §3.3 / Table 3):
 * "A" zero-pads the identity where shapes change (no parameters), "B" projects only where shapes
 * change (torchvision's choice), "C" projects on every block.
 */
export type ShortcutOption = "A" | "B" | "C";

export interface BlockOptions {
  shortcut: ShortcutOption;
  /** Drop the shortcut entirely: the paper's "plain" baselines. */
  plain: boolean;
}

export type BlockKind = "basic" | "bottleneck";

/** Output channels per unit of `planes` (torchvision's `expansion`). */
export const EXPANSION: Record<BlockKind, number> = { basic: 1, bottleneck: 4 };

/** The branch added back to a block's output, named as torchvision names `downsample`. */
function shortcutBranch(
  b: GraphBuilder,
  name: string,
  x: number,
  outChannels: number,
  stride: number,
  option: ShortcutOption,
): number {
  const changes = stride !== 1 || b.shapeOf(x)[0] !== outChannels;
  if (option === "C" || (option === "B" && changes)) {
    const proj = b.conv2d(`${name}.downsample.0`, x, outChannels, { kernel: 1, stride });
    return b.batchnorm(`${name}.downsample.1`, proj);
  }
  return changes ? b.shortcutA(x, outChannels, stride, `${name}.shortcut`) : x;
}

function finishBlock(
  b: GraphBuilder,
  name: string,
  x: number,
  out: number,
  stride: number,
  o: BlockOptions,
): number {
  if (o.plain) return b.relu(out, `${name}.relu`);
  const identity = shortcutBranch(b, name, x, b.shapeOf(out)[0], stride, o.shortcut);
  return b.addRelu(out, identity, `${name}.add_relu`);
}

/** 3×3 → 3×3, stride on the first conv (torchvision `BasicBlock`). */
export function basicBlock(
  b: GraphBuilder,
  name: string,
  x: number,
  planes: number,
  stride: number,
  o: BlockOptions,
): number {
  let y = b.conv2d(`${name}.conv1`, x, planes, { kernel: 3, stride, padding: 1 });
  y = b.relu(b.batchnorm(`${name}.bn1`, y), `${name}.relu`);
  y = b.conv2d(`${name}.conv2`, y, planes, { kernel: 3, padding: 1 });
  y = b.batchnorm(`${name}.bn2`, y);
  return finishBlock(b, name, x, y, stride, o);
}

/** 1×1 → 3×3 → 1×1 (×4 channels), stride on the 3×3 as torchvision's "ResNet v1.5" does. */
export function bottleneckBlock(
  b: GraphBuilder,
  name: string,
  x: number,
  planes: number,
  stride: number,
  o: BlockOptions,
): number {
  let y = b.conv2d(`${name}.conv1`, x, planes, { kernel: 1 });
  y = b.relu(b.batchnorm(`${name}.bn1`, y), `${name}.relu`);
  y = b.conv2d(`${name}.conv2`, y, planes, { kernel: 3, stride, padding: 1 });
  y = b.relu(b.batchnorm(`${name}.bn2`, y), `${name}.relu`);
  y = b.conv2d(`${name}.conv3`, y, planes * EXPANSION.bottleneck, { kernel: 1 });
  y = b.batchnorm(`${name}.bn3`, y);
  return finishBlock(b, name, x, y, stride, o);
}

/** One `layerX` stack: only its first block changes stride and width. */
export function stage(
  b: GraphBuilder,
  layer: string,
  x: number,
  kind: BlockKind,
  planes: number,
  blocks: number,
  stride: number,
  o: BlockOptions,
): number {
  const block = kind === "basic" ? basicBlock : bottleneckBlock;
  for (let i = 0; i < blocks; i++) {
    x = block(b, `${layer}.${i}`, x, planes, i === 0 ? stride : 1, o);
  }
  return x;
}

/** Global average pool, flatten and the `fc` classifier that end every ResNet. */
export function head(b: GraphBuilder, x: number, classes: number): number {
  return b.linear("fc", b.flatten(b.adaptiveAvgpool(x, 1, 1, "avgpool")), classes);
}
