/**
 * Convolutions by the workgroup-tiled implicit GEMM of shaders/conv2d_tiled.wgsl (64 × 64 output
 * tiles, both operands staged in workgroup memory): forward, backward-data of stride-1
 * convolutions (the forward of the transposed convolution, filter read flipped) and the filter
 * gradient. For hardware GPUs, where the direct kernels' per-invocation global loads bound them;
 * lavapipe loads workgroup memory lane by lane like storage (docs/journal/bench-history.md), so the cpu policy
 * keeps its own kernels. Neither policy plans it by default yet: it was written without a GPU
 * to measure it on (`tools/device/gpu_session.sh` times it, and the GPU autotuner offers it).
 *
 * Layers whose tiles alone cannot fill the device split the reduction (input channels × taps
 * forward, pixels for the filter gradient) toward the policy's invocation target, within its
 * split cap and scratch budget; conv2d_reduce.wgsl sums the partial slices in split order.
 */
import type { Runtime } from "../../gpu/runtime.ts";
import { conv2dOutSize, type Conv2dShape } from "../../shapes.ts";
import { dispatchStep, packParams, type Planned, type Step } from "../../gpu/plan.ts";
import { planSliceSum, reductionSplits } from "./splits.ts";

/** The GEMM tile one workgroup computes (rows × columns) and the reduction step. */
const TILE = 64;
const STEP = 16;
const INVOCATIONS = 256;

/** Why the tiled kernels cannot run on `rt` (workgroup size, workgroup memory), or null. */
export function tiledUnsupported(rt: Runtime): string | null {
  const l = rt.device.limits;
  if (
    l.maxComputeInvocationsPerWorkgroup < INVOCATIONS || l.maxComputeWorkgroupSizeX < INVOCATIONS
  ) {
    return `the device allows fewer than ${INVOCATIONS} invocations per workgroup`;
  }
  if (l.maxComputeWorkgroupStorageSize < 2 * 1040 * 4) {
    return "the device's workgroup memory cannot hold two 16 × 65 tiles";
  }
  return null;
}

/**
 * Whether the tiled kernel can run the backward-data of `s` as the forward of its transpose
 * (stride 1, a square kernel, padding below its size).
 */
export function tiledTransposes(s: Conv2dShape): boolean {
  return s.stride === 1 && s.kh === s.kw && s.padding < s.kh;
}

/** The GEMM sizes of convolution `s`: pixels m = N·OH·OW, receptive field r = C·KH·KW. */
function gemmSizes(rt: Runtime, s: Conv2dShape) {
  const why = tiledUnsupported(rt);
  if (why) throw new RangeError(`conv2d tiled: ${why}`);
  const { oh, ow } = conv2dOutSize(s);
  return { oh, ow, m: s.n * oh * ow, r: s.c * s.kh * s.kw };
}

/**
 * Splits of a reduction of `length` for `tiles` workgroups (splits.ts), in whole
 * 16-long steps, ≥ 4 steps each when chosen automatically.
 */
function splitsFor(
  rt: Runtime,
  tiles: number,
  length: number,
  sliceBytes: number,
  explicit?: number,
): number {
  return reductionSplits(
    rt,
    Math.ceil(length / STEP),
    4,
    tiles * INVOCATIONS,
    sliceBytes,
    explicit,
  );
}

function paramWords(
  s: Conv2dShape,
  g: { m: number; r: number; tilesN: number; tiles: number; splits: number; perSplit: number },
  mode: { flip?: boolean; accumulate?: boolean } = {},
): number[] {
  const { oh, ow } = conv2dOutSize(s);
  return [
    ...[s.n, s.c, s.h, s.w, s.k, s.kh, s.kw, s.stride],
    ...[s.padding, oh, ow, g.m, g.r, g.tilesN, g.tiles, g.splits],
    ...[g.perSplit, mode.flip ? 1 : 0, mode.accumulate ? 1 : 0, 0],
  ];
}

/**
 * y (N, K, OH, OW) = conv(x, w) + bias for convolution `s`; with `flip`, `s` is the transposed
 * convolution of a stride-1 one whose weight `w` is (O = s.c, I = s.k), read rotated 180° — its
 * backward-data — and `accumulate` adds into y (then the bias is not read).
 */
export async function planConv2dTiled(
  rt: Runtime,
  s: Conv2dShape,
  io: { x: GPUBuffer; w: GPUBuffer; bias: GPUBuffer; y: GPUBuffer },
  mode: { flip: boolean; accumulate: boolean },
  splitsWanted?: number,
): Promise<Planned> {
  const { oh, ow, m, r } = gemmSizes(rt, s);
  const tilesN = Math.ceil(s.k / TILE);
  const tiles = Math.ceil(m / TILE) * tilesN;
  const count = s.n * s.k * oh * ow;
  const splits = splitsFor(rt, tiles, r, count * 4, splitsWanted);
  // Whole reduction steps per split, so no split but the last ends mid-step.
  const perSplit = Math.ceil(r / splits / STEP) * STEP;
  const used = Math.ceil(r / perSplit);
  const params = rt.uniform(
    packParams(paramWords(s, { m, r, tilesN, tiles, splits: used, perSplit }, mode)),
  );
  const kernel = await rt.kernel("conv2d_tiled", "forward");
  if (used === 1) {
    return {
      steps: [dispatchStep(rt, kernel, [params, io.x, io.w, io.bias, io.y], tiles)],
      scratch: [],
    };
  }
  const part = rt.pool.acquire(used * count * 4, "conv2d.tiled_splits");
  const steps: Step[] = [
    dispatchStep(rt, kernel, [params, io.x, io.w, io.bias, part], used * tiles),
  ];
  if (mode.flip) {
    const red = await rt.kernel("conv2d_reduce", "sum_splits_into", {
      WG: 64,
      ACC: mode.accumulate ? 1 : 0,
    });
    const rp = rt.uniform(packParams([count, used, 0, 0]));
    steps.push(dispatchStep(rt, red, [rp, part, io.y], Math.ceil(count / 64)));
  } else {
    const red = await rt.kernel("conv2d_reduce", "sum_splits_bias", { WG: 64 });
    const rp = rt.uniform(packParams([count, used, oh * ow, s.k]));
    steps.push(dispatchStep(rt, red, [rp, part, io.y, io.bias], Math.ceil(count / 64)));
  }
  return { steps, scratch: [part] };
}

/** dw (K, C, KH, KW) = Σ over pixels of dy ⊗ im2col(x), the reduction split as `splitsFor` says. */
export async function planConv2dTiledBackwardWeight(
  rt: Runtime,
  s: Conv2dShape,
  io: { x: GPUBuffer; dy: GPUBuffer; dw: GPUBuffer },
  splitsWanted?: number,
): Promise<Planned> {
  const { m, r } = gemmSizes(rt, s);
  const tilesN = Math.ceil(r / TILE);
  const tiles = Math.ceil(s.k / TILE) * tilesN;
  const count = s.k * r;
  const splits = splitsFor(rt, tiles, m, count * 4, splitsWanted);
  const perSplit = Math.ceil(m / splits / STEP) * STEP;
  const used = Math.ceil(m / perSplit);
  const params = rt.uniform(
    packParams(paramWords(s, { m, r, tilesN, tiles, splits: used, perSplit })),
  );
  const kernel = await rt.kernel("conv2d_tiled", "filter_grad");
  const steps: Step[] = [];
  const scratch: GPUBuffer[] = [];
  await planSliceSum(rt, used, count, io.dw, "conv2d.tiled_dw_splits", steps, scratch, (out) => {
    steps.push(dispatchStep(rt, kernel, [params, io.x, io.dy, out], used * tiles));
  });
  return { steps, scratch };
}
