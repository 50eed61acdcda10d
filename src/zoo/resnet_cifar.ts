/**
 * The CIFAR-10 ResNets of He et al. 2015, §4.2: 6n+2 weight layers, three stages of n basic
 * blocks at 16/32/64 filters on 32×32/16×16/8×8 maps, global average pool and a 10-way fc. The
 * paper uses option A shortcuts here, so ResNets and plain nets have the same parameter count.
 */

import { type Graph, GraphBuilder } from "../graph/ir.ts";
import { checkClasses, checkWidth, scaleWidth } from "./common.ts";
import { head, type ShortcutOption, stage } from "./resnet_blocks.ts";

export interface CifarResNetOptions {
  /** 6n + 2: 20, 32, 44, 56, 110, 1202 in the paper. */
  depth: number;
  /** Any [C, H, W]; the paper's 3×32×32 and MNIST's 1×28×28 are the expected ones. */
  inputShape?: readonly [number, number, number];
  classes?: number;
  shortcut?: ShortcutOption;
  /** Multiplies the base width 16 (and so 32 and 64). */
  width?: number;
  plain?: boolean;
}

/** Blocks per stage for a CIFAR depth, or an error saying which depths exist. */
export function cifarBlocksPerStage(depth: number): number {
  const n = (depth - 2) / 6;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`CIFAR ResNet depth must be 6n + 2 with n ≥ 1 (8, 14, 20, …), got ${depth}`);
  }
  return n;
}

export function resnetCifar(o: CifarResNetOptions): Graph {
  const n = cifarBlocksPerStage(o.depth);
  const { inputShape = [3, 32, 32], classes = 10, width = 1 } = o;
  checkClasses(classes);
  checkWidth(width);
  const blockOpts = { shortcut: o.shortcut ?? "A", plain: o.plain ?? false };
  const b = new GraphBuilder(inputShape);

  let x = b.conv2d("conv1", b.input, scaleWidth(16, width), { kernel: 3, padding: 1 });
  x = b.relu(b.batchnorm("bn1", x), "relu");
  for (let i = 0; i < 3; i++) {
    const planes = scaleWidth(16 * 2 ** i, width);
    x = stage(b, `layer${i + 1}`, x, "basic", planes, n, i === 0 ? 1 : 2, blockOpts);
  }
  return b.finish(head(b, x, classes));
}
