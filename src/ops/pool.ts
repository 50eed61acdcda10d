/**
 * Pooling planned as steps (kernels in shaders/pool.wgsl): max pool saving argmax, average pool
 * (count_include_pad), global and adaptive average pool, each with a race-free gather backward.
 * Shapes use the reference's types (src/reference/pool.ts), so tests and plans agree on sizes.
 */
import type { Runtime } from "../gpu/runtime.ts";
import {
  type AdaptivePoolShape,
  type PlaneShape,
  pool2dOutSize,
  type Pool2dShape,
} from "../shapes.ts";
import { dispatchStep, packParams, type Planned } from "../gpu/plan.ts";

export type { AdaptivePoolShape, PlaneShape, Pool2dShape };

const WG = 64;

export interface PoolBackwardOptions {
  /** dx += … instead of dx = …. */
  accumulate?: boolean;
}

/** The max-pool forward plan; `argmax` (u32 per output) is what the backward reads. */
export interface PlannedMaxPool extends Planned {
  argmax: GPUBuffer;
}

function windowParams(rt: Runtime, s: Pool2dShape): { u: GPUBuffer; out: number; inp: number } {
  if (s.padding * 2 > s.kernel || s.stride < 1 || s.kernel < 1) {
    throw new RangeError(`pool: bad window ${JSON.stringify(s)} (PyTorch needs pad ≤ kernel/2)`);
  }
  const { oh, ow } = pool2dOutSize(s);
  if (oh < 1 || ow < 1) throw new RangeError(`pool: empty output for ${JSON.stringify(s)}`);
  const planes = s.n * s.c;
  const u = rt.uniform(packParams([planes, s.h, s.w, oh, ow, s.kernel, s.stride, s.padding]));
  return { u, out: planes * oh * ow, inp: planes * s.h * s.w };
}

function adaptiveParams(rt: Runtime, s: AdaptivePoolShape): GPUBuffer {
  return rt.uniform(packParams([s.n * s.c, s.h, s.w, s.oh, s.ow, 0, 1, 0]));
}

const groups = (n: number) => Math.ceil(n / WG);

export async function planMaxPool2dForward(
  rt: Runtime,
  s: Pool2dShape,
  b: { x: GPUBuffer; y: GPUBuffer; argmax?: GPUBuffer },
): Promise<PlannedMaxPool> {
  const k = await rt.kernel("pool", "max_fwd");
  const { u, out } = windowParams(rt, s);
  const scratch = b.argmax ? [] : [rt.pool.acquire(out * 4, "maxpool.argmax")];
  const argmax = b.argmax ?? scratch[0];
  return {
    steps: [dispatchStep(rt, k, [u, b.x, b.y, argmax], groups(out))],
    scratch,
    argmax,
  };
}

export async function planMaxPool2dBackward(
  rt: Runtime,
  s: Pool2dShape,
  b: { dy: GPUBuffer; argmax: GPUBuffer; dx: GPUBuffer },
  opts: PoolBackwardOptions = {},
): Promise<Planned> {
  const k = await rt.kernel("pool", "max_bwd", { ACC: opts.accumulate ? 1 : 0 });
  const { u, inp } = windowParams(rt, s);
  return { steps: [dispatchStep(rt, k, [u, b.dy, b.argmax, b.dx], groups(inp))], scratch: [] };
}

export async function planAvgPool2dForward(
  rt: Runtime,
  s: Pool2dShape,
  b: { x: GPUBuffer; y: GPUBuffer },
): Promise<Planned> {
  const k = await rt.kernel("pool", "avg_fwd");
  const { u, out } = windowParams(rt, s);
  return { steps: [dispatchStep(rt, k, [u, b.x, b.y], groups(out))], scratch: [] };
}

export async function planAvgPool2dBackward(
  rt: Runtime,
  s: Pool2dShape,
  b: { dy: GPUBuffer; dx: GPUBuffer },
  opts: PoolBackwardOptions = {},
): Promise<Planned> {
  const k = await rt.kernel("pool", "avg_bwd", { ACC: opts.accumulate ? 1 : 0 });
  const { u, inp } = windowParams(rt, s);
  return { steps: [dispatchStep(rt, k, [u, b.dy, b.dx], groups(inp))], scratch: [] };
}

/** Planes up to this size are summed by one lane each (ResNet's 8×8 and 7×7 heads). */
const GAP_LANE_MAX = 256;

/** (N,C,H,W) → (N,C): a lane per small plane, a workgroup tree reduction per large one. */
export async function planGlobalAvgPoolForward(
  rt: Runtime,
  s: PlaneShape,
  b: { x: GPUBuffer; y: GPUBuffer },
): Promise<Planned> {
  const perLane = s.h * s.w <= GAP_LANE_MAX;
  const k = await rt.kernel("pool", perLane ? "gap_fwd_lane" : "gap_fwd");
  const u = adaptiveParams(rt, { ...s, oh: 1, ow: 1 });
  const planes = s.n * s.c;
  const n = perLane ? groups(planes) : planes;
  return { steps: [dispatchStep(rt, k, [u, b.x, b.y], n)], scratch: [] };
}

export async function planGlobalAvgPoolBackward(
  rt: Runtime,
  s: PlaneShape,
  b: { dy: GPUBuffer; dx: GPUBuffer },
  opts: PoolBackwardOptions = {},
): Promise<Planned> {
  const k = await rt.kernel("pool", "gap_bwd", { ACC: opts.accumulate ? 1 : 0 });
  const u = adaptiveParams(rt, { ...s, oh: 1, ow: 1 });
  return {
    steps: [dispatchStep(rt, k, [u, b.dy, b.dx], groups(s.n * s.c * s.h * s.w))],
    scratch: [],
  };
}

export async function planAdaptiveAvgPool2dForward(
  rt: Runtime,
  s: AdaptivePoolShape,
  b: { x: GPUBuffer; y: GPUBuffer },
): Promise<Planned> {
  const k = await rt.kernel("pool", "adaptive_fwd");
  const u = adaptiveParams(rt, s);
  return {
    steps: [dispatchStep(rt, k, [u, b.x, b.y], groups(s.n * s.c * s.oh * s.ow))],
    scratch: [],
  };
}

export async function planAdaptiveAvgPool2dBackward(
  rt: Runtime,
  s: AdaptivePoolShape,
  b: { dy: GPUBuffer; dx: GPUBuffer },
  opts: PoolBackwardOptions = {},
): Promise<Planned> {
  const k = await rt.kernel("pool", "adaptive_bwd", { ACC: opts.accumulate ? 1 : 0 });
  const u = adaptiveParams(rt, s);
  return {
    steps: [dispatchStep(rt, k, [u, b.dy, b.dx], groups(s.n * s.c * s.h * s.w))],
    scratch: [],
  };
}
