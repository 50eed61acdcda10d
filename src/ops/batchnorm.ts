/**
 * Batch normalization (NCHW, per channel) planned as steps; kernels in shaders/batchnorm.wgsl.
 *
 * Train forward: 3 dispatches (partial Welford statistics, per-channel merge + running-stat
 * update, normalize). Backward: 2 dispatches (Σdy and Σdy·x̂ per channel chunk; then dx with dγ,
 * dβ). `relu: true` fuses y = relu(bn(x)) and its backward (the mask is recomputed from x and β).
 * A `skip` buffer fuses the residual join that consumes the output instead: y = relu(bn(x) + skip)
 * (its backward is the join's, src/ops/residual.ts, then this one's without ReLU).
 */
import type { Kernel, Runtime } from "../gpu/runtime.ts";
import { dispatchStep, itemKernel, packParams, type Planned } from "../gpu/plan.ts";

export interface BatchNormShape {
  n: number;
  c: number;
  h: number;
  w: number;
}

export interface BatchNormOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Running-stat momentum, PyTorch's convention; default 0.1. */
  momentum?: number;
  /** Fuse a ReLU after the normalization (forward) / mask by y > 0 (backward). */
  relu?: boolean;
}

export interface BatchNormTrainBuffers {
  x: GPUBuffer;
  gamma: GPUBuffer;
  beta: GPUBuffer;
  y: GPUBuffer;
  /** Updated in place every replay. */
  runningMean: GPUBuffer;
  runningVar: GPUBuffer;
  /** Saved batch mean and 1/sqrt(var + eps), [C]; taken from the pool when absent. */
  mean?: GPUBuffer;
  invstd?: GPUBuffer;
  /** The residual join's other branch: y = relu(bn(x) + skip) (not with `relu`). */
  skip?: GPUBuffer;
}

/** The train-forward plan; `mean` and `invstd` are what {@link planBatchNormBackward} needs. */
export interface PlannedBatchNormForward extends Planned {
  mean: GPUBuffer;
  invstd: GPUBuffer;
}

export interface BatchNormEvalBuffers {
  x: GPUBuffer;
  gamma: GPUBuffer;
  beta: GPUBuffer;
  runningMean: GPUBuffer;
  runningVar: GPUBuffer;
  y: GPUBuffer;
  /** As in {@link BatchNormTrainBuffers.skip}. */
  skip?: GPUBuffer;
}

export interface BatchNormBackwardBuffers {
  dy: GPUBuffer;
  x: GPUBuffer;
  gamma: GPUBuffer;
  mean: GPUBuffer;
  invstd: GPUBuffer;
  dx: GPUBuffer;
  dgamma: GPUBuffer;
  dbeta: GPUBuffer;
  /**
   * β; required (and only read) with `relu: true`: the ReLU mask is recomputed from x, mean,
   * invstd, γ and β by the forward's own expression, instead of read from the saved y.
   */
  beta?: GPUBuffer;
}

export interface BatchNormBackwardOptions {
  relu?: boolean;
  /** dx += … instead of dx = … (dγ and dβ are always overwritten). */
  accumulate?: boolean;
}

const WG = 64;
const MAXP = 64;
/** …but give every lane at least this many items, so merging partials stays cheap. */
const MIN_PER_LANE = 8;
/**
 * Most items a channel may have for its reductions to run a lane per channel, and fewest
 * channels (lanes) for it. Measured on lavapipe (train forward + backward with ReLU, workgroup
 * per channel → lane per channel, ms): 16×2048×2×2 (16 items) 67.7 → 18.6, 16×512×4×4 (64) 22.8
 * → 9.5, 16×512×8×8 (256) 29.3 → 19.7, 16×256×16×16 (1,024) 29.7 → 24.9, 32×64×7×7 (1,568) 9.1 →
 * 8.0; at 128×64×7×7 (6,272) a tie (20.5 / 24.0 vs 22.7 / 21.8).
 */
const LANES_MAX_ITEMS = 2048, LANES_MIN_CHANNELS = 32;
/**
 * Workgroup of the lane-per-channel entries (shaders/batchnorm.wgsl LANES_WG): llvmpipe's SIMD
 * width. llvmpipe runs a workgroup on one thread, so 64 lanes left a 64-channel layer on one core.
 */
const LANES_WG = 8;

/** Items per load: vec4f when every plane is a whole number of vec4s, else f32. */
function itemWidth(s: BatchNormShape): 1 | 4 {
  return (s.h * s.w) % 4 === 0 ? 4 : 1;
}

/**
 * The channel-chunk decomposition shared by every batch-norm kernel, in items per chunk, and
 * whether the reductions run a lane per channel instead (`stats_lanes`, `bwd_reduce_lanes`):
 * with one chunk of few items a channel, a workgroup per channel leaves most of its lanes empty
 * (or with little work) and then waits at a barrier while one lane merges them all.
 */
export function batchNormGrid(
  rt: Runtime,
  s: BatchNormShape,
): { parts: number; chunk: number; lanes: boolean } {
  const m = s.n * s.h * s.w / itemWidth(s);
  // About the policy's workgroup count, so few-channel layers still fill the device.
  const groups = rt.policy.reductionGroups;
  const parts = Math.max(
    1,
    Math.min(MAXP, Math.ceil(groups / s.c), Math.floor(m / (WG * MIN_PER_LANE))),
  );
  // Software adapters only: measured there; a GPU would run each lane's loop alone.
  const lanes = rt.policy.target === "cpu" && parts === 1 && m <= LANES_MAX_ITEMS &&
    s.c >= LANES_MIN_CHANNELS;
  return { parts, chunk: Math.ceil(m / parts), lanes };
}

const F32_ITEMS = `alias item = f32;
alias uitem = u32;
const ITEM: u32 = 1u;
fn hsum(v: item) -> f32 {
  return v;
}
fn collapse(n: f32, mean: item, m2: item) -> vec3f {
  return vec3f(n, mean, m2);
}`;

/** A batch-norm entry point for `shape`'s item width (the f32 variant rewrites the item block). */
function bnKernel(
  rt: Runtime,
  shape: BatchNormShape,
  entry: string,
  constants: Record<string, number> = {},
): Promise<Kernel> {
  return itemKernel(rt, "batchnorm", itemWidth(shape), entry, constants, F32_ITEMS);
}

/** The merge entries' PARTS / PARTS2 constants (shaders/batchnorm.wgsl): this shape's partials. */
function mergeConstants(rt: Runtime, s: BatchNormShape): Record<string, number> {
  const { parts } = batchNormGrid(rt, s);
  return { PARTS: parts, PARTS2: 1 << Math.ceil(Math.log2(parts)) };
}

/**
 * The kernels' Params: shape, chunking, and the cursor's step per loop iteration — WG items (a
 * workgroup's lanes stride the chunk), or with `step` 1 (a lane walks its channel's items).
 */
function params(
  rt: Runtime,
  s: BatchNormShape,
  eps: number,
  momentum: number,
  step = WG,
): GPUBuffer {
  if ([s.n, s.c, s.h, s.w].some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`batch norm: bad shape ${JSON.stringify(s)}`);
  }
  const hw = s.h * s.w / itemWidth(s);
  const { parts, chunk } = batchNormGrid(rt, s);
  return rt.uniform(packParams(
    [
      s.c,
      hw,
      s.c * hw,
      s.n * hw,
      parts,
      chunk,
      Math.floor(step / hw),
      step % hw,
      eps,
      momentum,
      s.n * s.h * s.w,
      0,
    ],
    new Set([8, 9, 10]),
  ));
}

/** The normalize pass: plain, with its ReLU, or with the residual join it feeds fused in. */
function normalizeKernel(
  rt: Runtime,
  shape: BatchNormShape,
  opts: BatchNormOptions,
  skip: GPUBuffer | undefined,
  evalMode: boolean,
): Promise<Kernel> {
  if (skip && opts.relu) {
    throw new Error("batch norm: a fused residual join (skip) already ends in a ReLU; drop relu");
  }
  const EVAL = evalMode ? 1 : 0;
  return skip
    ? bnKernel(rt, shape, "normalize_add", { EVAL })
    : bnKernel(rt, shape, "normalize", { RELU: opts.relu ? 1 : 0, EVAL });
}

function distinct(label: string, bufs: (GPUBuffer | undefined)[]): void {
  const seen = new Set<GPUBuffer>();
  for (const b of bufs) {
    if (!b) continue;
    if (seen.has(b)) throw new Error(`${label}: one buffer bound twice ('${b.label}')`);
    seen.add(b);
  }
}

export async function planBatchNormTrainForward(
  rt: Runtime,
  shape: BatchNormShape,
  b: BatchNormTrainBuffers,
  opts: BatchNormOptions = {},
): Promise<PlannedBatchNormForward> {
  const { parts, lanes } = batchNormGrid(rt, shape);
  const [kPartial, kFinal, kNorm] = await Promise.all([
    lanes ? bnKernel(rt, shape, "stats_lanes", { LANES_WG }) : bnKernel(rt, shape, "stats_partial"),
    bnKernel(rt, shape, "stats_final", mergeConstants(rt, shape)),
    normalizeKernel(rt, shape, opts, b.skip, false),
  ]);
  const eps = opts.eps ?? 1e-5, momentum = opts.momentum ?? 0.1;
  const u = params(rt, shape, eps, momentum);
  // stats_lanes walks its channel an item at a time; normalize keeps the workgroup stride.
  const uStats = lanes ? params(rt, shape, eps, momentum, 1) : u;
  const statsGrid = lanes ? Math.ceil(shape.c / LANES_WG) : shape.c * parts;
  const scratch: GPUBuffer[] = [];
  const take = (bytes: number, label: string) => {
    const buf = rt.pool.acquire(bytes, label);
    scratch.push(buf);
    return buf;
  };
  const mean = b.mean ?? take(shape.c * 4, "bn.mean");
  const invstd = b.invstd ?? take(shape.c * 4, "bn.invstd");
  const part = take(shape.c * parts * 16, "bn.partials");
  distinct("batch norm forward", [
    b.x,
    b.gamma,
    b.beta,
    b.y,
    b.runningMean,
    b.runningVar,
    mean,
    invstd,
    b.skip,
  ]);
  const skip = b.skip ? [b.skip] : [];
  return {
    steps: [
      dispatchStep(rt, kPartial, [uStats, b.x, part], statsGrid),
      dispatchStep(
        rt,
        kFinal,
        [u, part, mean, invstd, b.runningMean, b.runningVar],
        Math.ceil(shape.c / WG),
      ),
      dispatchStep(
        rt,
        kNorm,
        [u, b.x, mean, invstd, b.gamma, b.beta, b.y, ...skip],
        shape.c * parts,
      ),
    ],
    scratch,
    mean,
    invstd,
  };
}

/**
 * Inference: y = (x − running mean)/sqrt(running var + eps)·γ + β (then ReLU, or + skip and
 * ReLU), one dispatch.
 */
export async function planBatchNormEvalForward(
  rt: Runtime,
  shape: BatchNormShape,
  b: BatchNormEvalBuffers,
  opts: BatchNormOptions = {},
): Promise<Planned> {
  const k = await normalizeKernel(rt, shape, opts, b.skip, true);
  const u = params(rt, shape, opts.eps ?? 1e-5, opts.momentum ?? 0.1);
  distinct("batch norm eval", [b.x, b.gamma, b.beta, b.runningMean, b.runningVar, b.y, b.skip]);
  const skip = b.skip ? [b.skip] : [];
  const bind = [u, b.x, b.runningMean, b.runningVar, b.gamma, b.beta, b.y, ...skip];
  return {
    steps: [dispatchStep(rt, k, bind, shape.c * batchNormGrid(rt, shape).parts)],
    scratch: [],
  };
}

/** dx, dγ, dβ of the train forward in two dispatches. */
export async function planBatchNormBackward(
  rt: Runtime,
  shape: BatchNormShape,
  b: BatchNormBackwardBuffers,
  opts: BatchNormBackwardOptions = {},
): Promise<Planned> {
  const relu = opts.relu ?? false;
  if (relu && !b.beta) throw new Error("batch norm backward with relu needs beta (for the mask)");
  const suffix = relu ? "_relu" : "";
  const { parts, lanes } = batchNormGrid(rt, shape);
  const laneWg: Record<string, number> = lanes ? { LANES_WG } : {};
  const [kReduce, kDx] = await Promise.all([
    bnKernel(rt, shape, `bwd_reduce${suffix}${lanes ? "_lanes" : ""}`, laneWg),
    bnKernel(rt, shape, `bwd_dx${suffix}${lanes ? "_lanes" : ""}`, {
      ...laneWg,
      ACC: opts.accumulate ? 1 : 0,
      ...mergeConstants(rt, shape),
    }),
  ]);
  // Both passes a workgroup per chunk, or a lane per channel (whose cursor steps one item).
  const u = params(rt, shape, 1e-5, 0.1, lanes ? 1 : WG);
  const grid = lanes ? Math.ceil(shape.c / LANES_WG) : shape.c * parts;
  const rec = rt.pool.acquire(shape.c * parts * 32, "bn.bwd_partials");
  const beta = relu ? [b.beta!] : [];
  distinct("batch norm backward", [
    b.dy,
    b.x,
    b.gamma,
    b.mean,
    b.invstd,
    b.dx,
    b.dgamma,
    b.dbeta,
    ...beta,
  ]);
  return {
    steps: [
      dispatchStep(rt, kReduce, [u, b.dy, b.x, b.mean, b.invstd, b.gamma, rec, ...beta], grid),
      dispatchStep(rt, kDx, [u, b.dy, b.x, rec, b.dx, b.dgamma, b.dbeta], grid),
    ],
    scratch: [rec],
  };
}

export interface BatchNormEvalBackwardBuffers {
  dy: GPUBuffer;
  runningMean: GPUBuffer;
  runningVar: GPUBuffer;
  gamma: GPUBuffer;
  beta: GPUBuffer;
  dx: GPUBuffer;
  /** The forward's input: the ReLU mask's (bound either way; read only with `relu: true`). */
  x: GPUBuffer;
}

/**
 * dx (+)= dy·γ/√(running var + eps) (masked where the fused ReLU's input was ≤ 0): the backward of
 * {@link planBatchNormEvalForward}, for a frozen batch norm kept in eval mode in training. Its
 * statistics and γ, β are constants, so there is no dγ or dβ. One dispatch.
 */
export async function planBatchNormEvalBackward(
  rt: Runtime,
  shape: BatchNormShape,
  b: BatchNormEvalBackwardBuffers,
  opts: { eps?: number; relu?: boolean; accumulate?: boolean } = {},
): Promise<Planned> {
  const relu = opts.relu ?? false;
  const k = await bnKernel(rt, shape, "bwd_eval", {
    EVAL: 1,
    RELU: relu ? 1 : 0,
    ACC: opts.accumulate ? 1 : 0,
  });
  const u = params(rt, shape, opts.eps ?? 1e-5, 0.1);
  distinct("batch norm eval backward", [
    b.dy,
    b.runningMean,
    b.runningVar,
    b.gamma,
    b.beta,
    b.dx,
    b.x,
  ]);
  const bind = [u, b.dy, b.runningMean, b.runningVar, b.gamma, b.beta, b.dx, b.x];
  return {
    steps: [dispatchStep(rt, k, bind, shape.c * batchNormGrid(rt, shape).parts)],
    scratch: [],
  };
}
