/**
 * The convolution backward to the input, dx = dŶ·W: a transposed convolution gathered per input
 * pixel (no write conflicts, no atomics), planned as the Winograd or tiled forward of the
 * transposed convolution (stride 1) or as the direct kernels of
 * shaders/conv2d_backward_data.wgsl, one dispatch per stride phase — whichever select.ts picks.
 */
import type { Runtime } from "../../gpu/runtime.ts";
import { conv2dOutSize, type Conv2dShape } from "../../shapes.ts";
import { dispatchStep, packParams, type Planned, type Step } from "../../gpu/plan.ts";
import type { ConvBackwardDataOptions } from "./options.ts";
import {
  checkShape,
  shapeWords,
  type StridePhase,
  stridePhases,
  TILE_COLS,
  TILE_ROWS,
  transposedShape,
  WINDOW,
  windowOf,
  workgroupSize,
  zeroBias,
} from "./common.ts";
import { c4Buffer, packBuffer, packC4Step, packWeightsStep } from "./pack.ts";
import { selectBackwardData } from "./select.ts";
import { planConv2dTiled } from "./tiled.ts";
import { planConv2dWinograd } from "./winograd.ts";

export async function planConv2dBackwardData(
  rt: Runtime,
  s: Conv2dShape,
  io: {
    dy: GPUBuffer;
    w: GPUBuffer;
    dx: GPUBuffer;
    /**
     * dy already packed NC4HW4 by a step replayed just before this plan (a filter-gradient
     * plan's `dyC4`): a plan that would pack dy reads this buffer instead.
     */
    dyC4?: GPUBuffer;
  },
  mode: { accumulate: boolean },
  opts: ConvBackwardDataOptions = {},
): Promise<Planned> {
  const { oh, ow } = checkShape(s);
  const wg = workgroupSize(rt, opts.workgroup);
  const kernel = selectBackwardData(rt, s, opts, wg);
  if (kernel.kind === "winograd") {
    const scratch: GPUBuffer[] = [];
    const planned = await planConv2dWinograd(
      rt,
      transposedShape(s),
      kernel.tile,
      { x: io.dy, w: io.w, bias: zeroBias(rt, s.c, scratch), y: io.dx },
      {
        flip: true,
        accumulate: mode.accumulate,
        activations: opts.activations,
        packedX: io.dyC4,
      },
      wg,
    );
    return { steps: planned.steps, scratch };
  }
  if (kernel.kind === "tiled") {
    const scratch: GPUBuffer[] = [];
    const planned = await planConv2dTiled(
      rt,
      transposedShape(s),
      { x: io.dy, w: io.w, bias: zeroBias(rt, s.c, scratch), y: io.dx },
      { flip: true, accumulate: mode.accumulate },
      kernel.splits,
    );
    return { steps: planned.steps, scratch: [...scratch, ...planned.scratch] };
  }
  const ctiles = Math.ceil(s.c / TILE_COLS);
  const steps: Step[] = [];
  const phases = stridePhases(s);
  const rows = s.k * s.kh * s.kw;
  if (kernel.kind === "channel-lanes") {
    const packed = packBuffer(rt, ctiles * rows * TILE_COLS);
    steps.push(await packWeightsStep(rt, s, io.w, packed, true, "storage"));
    let dy = io.dyC4;
    if (!dy) {
      dy = c4Buffer(rt, s.n * s.k * oh * ow);
      steps.push(await packC4Step(rt, io.dy, dy, s.n, s.k, oh * ow));
    }
    const k = await rt.kernel("conv2d_backward_data", "backward_data_lanes_k_x4", { WG: wg });
    for (const { ry, rx, hq, wq, m } of phases) {
      const params = rt.uniform(packParams([
        ...shapeWords(s, oh, ow),
        ...[m, ctiles, 0, mode.accumulate ? 1 : 0, 0, ry, rx, hq, wq, 0, 0, 0],
        rows * TILE_COLS / 4,
      ]));
      const lanes = Math.ceil(m / 16) * ctiles;
      steps.push(dispatchStep(rt, k, [params, dy, packed, io.dx], Math.ceil(lanes / wg)));
    }
    return { steps, scratch: [] };
  }
  if (kernel.weights === "storage" && kernel.splits > 1) {
    return planBackwardDataSplit(rt, s, io, mode, wg, phases, kernel.splits);
  }
  const uw = kernel.weights === "uniform";
  let packed: GPUBuffer | null = null;
  if (uw) {
    packed = packBuffer(rt, ctiles * WINDOW);
    steps.push(await packWeightsStep(rt, s, io.w, packed, true));
  }
  const dy4 = uw && kernel.activations === "c4";
  let dy = io.dy;
  if (dy4 && io.dyC4) dy = io.dyC4;
  else if (dy4) {
    dy = c4Buffer(rt, s.n * s.k * oh * ow);
    steps.push(await packC4Step(rt, io.dy, dy, s.n, s.k, oh * ow));
  }
  const entry = dy4 ? "backward_data_uw_x4" : uw ? "backward_data_uw" : "backward_data";
  const k = await rt.kernel("conv2d_backward_data", entry, { WG: wg });
  // One dispatch per stride phase.
  for (const { ry, rx, hq, wq, m } of phases) {
    // backward_data_uw_x4 holds 16 pixels per invocation.
    const mtiles = Math.ceil(m / (wg * TILE_ROWS * (dy4 ? 2 : 1)));
    const params = (tiles: number, cBase: number) =>
      rt.uniform(packParams([
        ...shapeWords(s, oh, ow),
        ...[m, tiles, mtiles * tiles, mode.accumulate ? 1 : 0, cBase, ry, rx, hq, wq, 0, 0, 0, 0],
      ]));
    if (packed) {
      for (let t = 0; t < ctiles; t++) {
        const b = [params(1, t * TILE_COLS), dy, windowOf(packed, t), io.dx];
        steps.push(dispatchStep(rt, k, b, mtiles));
      }
    } else {
      const b = [params(ctiles, 0), io.dy, io.w, io.dx];
      steps.push(dispatchStep(rt, k, b, mtiles * ctiles));
    }
  }
  return { steps, scratch: [] };
}

/** Backward-data with the K reduction split: partial dx slices per phase, then one reduce. */
async function planBackwardDataSplit(
  rt: Runtime,
  s: Conv2dShape,
  io: { dy: GPUBuffer; w: GPUBuffer; dx: GPUBuffer },
  mode: { accumulate: boolean },
  wg: number,
  phases: StridePhase[],
  splits: number,
): Promise<Planned> {
  const { oh, ow } = conv2dOutSize(s);
  const ctiles = Math.ceil(s.c / TILE_COLS);
  const kPer = Math.ceil(s.k / splits);
  const used = Math.ceil(s.k / kPer);
  const slice = s.n * s.c * s.h * s.w;
  const part = rt.pool.acquire(used * slice * 4, "conv2d.backward_data_splits");
  const steps: Step[] = [];
  const k = await rt.kernel("conv2d_backward_data", "backward_data_split", { WG: wg });
  for (const { ry, rx, hq, wq, m } of phases) {
    const groups = Math.ceil(m / (wg * TILE_ROWS)) * ctiles;
    const params = rt.uniform(packParams([
      ...shapeWords(s, oh, ow),
      ...[m, ctiles, groups, 0, 0, ry, rx, hq, wq, kPer, groups, slice, 0],
    ]));
    steps.push(dispatchStep(rt, k, [params, io.dy, io.w, part], used * groups));
  }
  const red = await rt.kernel("conv2d_reduce", "sum_splits_into", {
    WG: 64,
    ACC: mode.accumulate ? 1 : 0,
  });
  const rp = rt.uniform(packParams([slice, used, 0, 0]));
  steps.push(dispatchStep(rt, red, [rp, part, io.dx], Math.ceil(slice / 64)));
  return { steps, scratch: [part] };
}
