/**
 * The convolution's filter gradient dW = dYᵀ·X̂ (and the bias gradient db), a GEMM reducing over
 * batch × output pixels, split over workgroups along that reduction into partial slices summed
 * in a fixed order (splits.ts): the Winograd or tiled plan, or the direct kernels of
 * shaders/conv2d_backward_weight.wgsl (dy in uniform windows or from storage, invocations over
 * taps or over rows) — whichever select.ts picks.
 */
import type { Runtime } from "../../gpu/runtime.ts";
import { conv2dOutSize, type Conv2dShape } from "../../shapes.ts";
import type { Kernel } from "../../gpu/step.ts";
import { dispatchStep, packParams, type Step } from "../../gpu/plan.ts";
import type { ConvBackwardWeightOptions } from "./options.ts";
import {
  checkShape,
  shapeWords,
  TILE_COLS,
  TILE_ROWS,
  WINDOW,
  windowOf,
  workgroupSize,
} from "./common.ts";
import { c4Buffer, packBuffer, packC4Step, packDyStep } from "./pack.ts";
import { type BackwardWeightKernel, selectBackwardWeight } from "./select.ts";
import { planSliceSum } from "./splits.ts";
import { planConv2dTiledBackwardWeight } from "./tiled.ts";
import { planConv2dWinogradBackwardWeight, type PlannedFilterGradient } from "./winograd.ts";

type Io = { x: GPUBuffer; dy: GPUBuffer; dw: GPUBuffer; db?: GPUBuffer | null };

/**
 * dw (and db) of convolution `s`. With `io.winogradV`, the Winograd input transform of x by the
 * tile this plan uses is already there (the forward's, x unchanged since): x is not read and
 * may be null.
 */
export async function planConv2dBackwardWeight(
  rt: Runtime,
  s: Conv2dShape,
  given: {
    x: GPUBuffer | null;
    dy: GPUBuffer;
    dw: GPUBuffer;
    db?: GPUBuffer | null;
    winogradV?: GPUBuffer;
  },
  opts: ConvBackwardWeightOptions = {},
): Promise<PlannedFilterGradient> {
  const { oh, ow } = checkShape(s);
  const kernel = selectBackwardWeight(rt, s, opts, {
    keptTransform: !!given.winogradV,
    x: !!given.x,
  });
  let planned: PlannedFilterGradient;
  if (kernel.kind === "winograd") {
    planned = await planConv2dWinogradBackwardWeight(
      rt,
      s,
      kernel.tile,
      { x: given.x, dy: given.dy, dw: given.dw, v: given.winogradV },
      { activations: opts.activations },
      workgroupSize(rt, opts.workgroup),
    );
  } else {
    // select.ts refuses a missing x unless the plan starts from a kept transform.
    const io = { ...given, x: given.x! };
    planned = kernel.kind === "tiled"
      ? await planConv2dTiledBackwardWeight(rt, s, io, kernel.splits)
      : kernel.kind === "row-lanes"
      ? await planRowLanes(rt, s, io, kernel)
      : kernel.dy === "uniform"
      ? await planUniformDy(rt, s, io, kernel)
      : await planStorageDy(rt, s, io, kernel);
  }
  if (given.db) planned.steps.push(await biasGradStep(rt, s, oh * ow, given.dy, given.db));
  return planned;
}

/**
 * dy packed into windows of whole output rows; the dispatches run window by window with all
 * channel tiles of a window together, so its rows of x stay in cache.
 */
async function planUniformDy(
  rt: Runtime,
  s: Conv2dShape,
  io: Io,
  kernel: Extract<BackwardWeightKernel, { dy: "uniform" }>,
): Promise<PlannedFilterGradient> {
  const { oh, ow } = conv2dOutSize(s);
  const wg = kernel.workgroup;
  const x4 = kernel.activations === "c4";
  const r = s.c * s.kh * s.kw;
  const ktiles = Math.ceil(s.k / TILE_COLS);
  const slotCount = s.c / 4 * s.kh * s.kw;
  const rtiles = x4 ? Math.ceil(slotCount / (wg * 4)) : Math.ceil(r / (wg * TILE_ROWS));
  const rows = s.n * oh;
  const steps: Step[] = [];
  const scratch: GPUBuffer[] = [];
  let chunkRows = Math.min(rows, Math.floor(WINDOW / TILE_COLS / ow));
  // pack_dy_v moves 4 pixels at a time: windows of whole vec4s when a plane is (≤ 3 rows lost).
  if ((oh * ow) % 4 === 0) {
    while (chunkRows > 1 && (chunkRows * ow) % 4 !== 0) chunkRows--;
  }
  const chunks = Math.ceil(rows / chunkRows);
  const packed = packBuffer(rt, ktiles * chunks * WINDOW);
  steps.push(await packDyStep(rt, s, oh, ow, io.dy, packed, chunks, chunkRows * ow));
  // Row splits inside a window so a dispatch has ≥ 8 workgroups (both cores busy, balanced).
  const sub = Math.max(1, Math.min(Math.ceil(8 / rtiles), chunkRows));
  const rowsPer = Math.ceil(chunkRows / sub);
  const groups = rtiles * Math.ceil(chunkRows / rowsPer);
  const slicesPer = groups / rtiles;
  let x = io.x;
  if (x4) {
    x = c4Buffer(rt, s.n * s.c * s.h * s.w);
    steps.push(await packC4Step(rt, io.x, x, s.n, s.c, s.h * s.w));
  }
  const entry = x4 ? "backward_weight_uw_x4" : "backward_weight_uw";
  const k = await rt.kernel("conv2d_backward_weight", entry, { WG: wg });
  await planSliceSum(
    rt,
    chunks * slicesPer,
    s.k * r,
    io.dw,
    "conv2d.dw_splits",
    steps,
    scratch,
    (out) => {
      for (let j = 0; j < chunks; j++) {
        const row0 = j * chunkRows;
        const n = Math.min(chunkRows, rows - row0);
        // The last window's splits past its rows still run, storing zero slices.
        for (let t = 0; t < ktiles; t++) {
          const params = rt.uniform(packParams([
            ...shapeWords(s, oh, ow),
            ...[r, ktiles, rtiles, groups, rowsPer, t * TILE_COLS, row0, n, j * slicesPer],
          ]));
          steps.push(
            dispatchStep(rt, k, [params, x, windowOf(packed, t * chunks + j), out], groups),
          );
        }
      }
    },
  );
  return { steps, scratch };
}

/** dy read from storage, the N·OH rows split `kernel.splits` ways. */
async function planStorageDy(
  rt: Runtime,
  s: Conv2dShape,
  io: Io,
  kernel: Extract<BackwardWeightKernel, { dy: "storage" }>,
): Promise<PlannedFilterGradient> {
  const wg = kernel.workgroup;
  const ktiles = Math.ceil(s.k / TILE_COLS);
  const rtiles = Math.ceil(s.c * s.kh * s.kw / (wg * TILE_ROWS));
  const k = await rt.kernel("conv2d_backward_weight", "backward_weight", { WG: wg });
  return planRowSplits(rt, s, io, k, rtiles, kernel.splits, (splits) => splits * rtiles * ktiles);
}

/**
 * `backward_weight_px`: one invocation per split of the N·OH rows holding a tile of ≤ 16 taps ×
 * 16 channels; the splits' K×R slices are summed by `sum_splits` in split order.
 */
async function planRowLanes(
  rt: Runtime,
  s: Conv2dShape,
  io: Io,
  kernel: Extract<BackwardWeightKernel, { kind: "row-lanes" }>,
): Promise<PlannedFilterGradient> {
  const r = s.c * s.kh * s.kw;
  const ktiles = Math.ceil(s.k / TILE_COLS);
  const rtiles = Math.ceil(r / 16);
  // Taps per tile: a multiple of 4 (the kernel's tap groups), as few as cover R in rtiles tiles.
  const taps = 4 * Math.ceil(r / (4 * rtiles));
  const wg = kernel.workgroup;
  const k = await rt.kernel("conv2d_backward_weight", "backward_weight_px", { WG: wg, TAPS: taps });
  // Within the policy's scratch budget for the splits' K×R slices.
  const byScratch = Math.floor(rt.policy.splitScratchBytes / (s.k * r * 4));
  const wanted = Math.min(kernel.splits, byScratch);
  const groupsFor = (splits: number) => Math.ceil(splits / wg) * rtiles * ktiles;
  return planRowSplits(rt, s, io, k, rtiles, wanted, groupsFor);
}

/**
 * One dispatch of `k` (x and dy from storage) over `groupsFor(splits)` workgroups, the N·OH
 * rows in `wanted` splits made whole — at least one, each with a row (so every slice is
 * written), no empty trailing split — each writing its own K×R slice, then their sum into dw
 * in split order.
 */
async function planRowSplits(
  rt: Runtime,
  s: Conv2dShape,
  io: Io,
  k: Kernel,
  rtiles: number,
  wanted: number,
  groupsFor: (splits: number) => number,
): Promise<PlannedFilterGradient> {
  const { oh, ow } = conv2dOutSize(s);
  const rows = s.n * oh;
  const rowsPer = Math.ceil(rows / Math.max(1, Math.min(wanted, rows)));
  const splits = Math.ceil(rows / rowsPer);
  const groups = groupsFor(splits);
  const r = s.c * s.kh * s.kw;
  const ktiles = Math.ceil(s.k / TILE_COLS);
  const params = rt.uniform(packParams([
    ...shapeWords(s, oh, ow),
    ...[r, ktiles, rtiles, groups, rowsPer, 0, 0, 0, 0],
  ]));
  const steps: Step[] = [];
  const scratch: GPUBuffer[] = [];
  await planSliceSum(rt, splits, s.k * r, io.dw, "conv2d.dw_splits", steps, scratch, (out) => {
    steps.push(dispatchStep(rt, k, [params, io.x, io.dy, out], groups));
  });
  return { steps, scratch };
}

/** db[k] = Σ dy[n, k, ·, ·]: one workgroup per channel. */
async function biasGradStep(
  rt: Runtime,
  s: Conv2dShape,
  pixels: number,
  dy: GPUBuffer,
  db: GPUBuffer,
): Promise<Step> {
  const bg = await rt.kernel("conv2d_reduce", "bias_grad", { WG: 64 });
  const bp = rt.uniform(packParams([s.n, s.k, pixels, 0]));
  return dispatchStep(rt, bg, [bp, dy, db], s.k);
}
