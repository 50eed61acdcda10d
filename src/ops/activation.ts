/**
 * ReLU planned as steps (shaders/relu.wgsl). The backward reads the forward output y, which is
 * what a network keeps; `accumulate` adds into dx for tensors with two consumers. When n % 4 == 0
 * the kernels move vec4f items, else f32 elements (plan.ts itemKernel).
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, elementwiseGrid, itemKernel, type Planned } from "../gpu/plan.ts";

const WG = 256;

const count = (rt: Runtime, n: number) => elementwiseGrid(rt, n, WG, "relu");

/** y = max(x, 0) over n elements. */
export async function planReluForward(
  rt: Runtime,
  n: number,
  b: { x: GPUBuffer; y: GPUBuffer },
): Promise<Planned> {
  if (b.x === b.y) throw new Error("relu forward: x and y are one buffer; use planReluInPlace");
  const { u, groups, width } = count(rt, n);
  const k = await itemKernel(rt, "relu", width, "relu_fwd");
  return { steps: [dispatchStep(rt, k, [u, b.x, b.y], groups)], scratch: [] };
}

/** x = max(x, 0), one read_write binding. */
export async function planReluInPlace(
  rt: Runtime,
  n: number,
  b: { x: GPUBuffer },
): Promise<Planned> {
  const { u, groups, width } = count(rt, n);
  const k = await itemKernel(rt, "relu", width, "relu_inplace");
  return { steps: [dispatchStep(rt, k, [u, b.x], groups)], scratch: [] };
}

/** dx (+)= dy·(y > 0). */
export async function planReluBackward(
  rt: Runtime,
  n: number,
  b: { dy: GPUBuffer; y: GPUBuffer; dx: GPUBuffer },
  opts: { accumulate?: boolean } = {},
): Promise<Planned> {
  if (new Set([b.dy, b.y, b.dx]).size < 3) throw new Error("relu backward: a buffer bound twice");
  const { u, groups, width } = count(rt, n);
  const k = await itemKernel(rt, "relu", width, "relu_bwd", { ACC: opts.accumulate ? 1 : 0 });
  return { steps: [dispatchStep(rt, k, [u, b.dy, b.y, b.dx], groups)], scratch: [] };
}
