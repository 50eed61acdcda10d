/** Argument checks and width scaling shared by every model in the zoo. */

import type { GraphBuilder } from "../graph/ir.ts";

/** Channel count after applying a width multiplier; never rounds a layer away entirely. */
export function scaleWidth(channels: number, width: number): number {
  return Math.max(1, Math.round(channels * width));
}

export function checkWidth(width: number): void {
  if (!Number.isFinite(width) || width <= 0) {
    throw new Error(`width multiplier must be a positive number, got ${width}`);
  }
}

export function checkClasses(classes: number): void {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new Error(`classes must be a positive integer, got ${classes}`);
  }
}

/** Pools do not check their output size in the IR; fail here with the layer that collapsed. */
export function checkSpatial(b: GraphBuilder, x: number, model: string, where: string): void {
  const [, h, w] = b.shapeOf(x);
  if (!(h >= 1 && w >= 1)) {
    const [, ih, iw] = b.inputShape;
    throw new Error(`${model}: input ${ih}×${iw} is too small: ${where} leaves ${h}×${w}`);
  }
}
