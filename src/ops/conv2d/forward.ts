/**
 * The convolution forward y = conv(x, w) + bias (NCHW activations, OIHW weights, f32) as an
 * implicit GEMM Y = X̂·Wᵀ: the plan of whichever kernels select.ts picks — Winograd, tiled, or
 * the direct kernels of shaders/conv2d_forward.wgsl. Lavapipe (Mesa 22.3) scalarizes a load
 * only at a constant offset: every other load is per lane, storage loads with a bounds branch
 * each, uniform loads branch-free, vec4 loads ~2.4× cheaper per float than f32 — hence one
 * operand in uniform windows, the other as vec4s (docs/journal/bench-history.md).
 */
import type { Runtime } from "../../gpu/runtime.ts";
import type { Conv2dShape } from "../../shapes.ts";
import { dispatchStep, packParams, type Planned, type Step } from "../../gpu/plan.ts";
import type { ConvForwardOptions } from "./options.ts";
import {
  checkShape,
  shapeWords,
  TILE_COLS,
  TILE_ROWS,
  WINDOW,
  windowOf,
  workgroupSize,
  zeroBias,
} from "./common.ts";
import { c4Buffer, packBuffer, packC4Step, packWeightsStep } from "./pack.ts";
import { selectForward } from "./select.ts";
import { planConv2dTiled } from "./tiled.ts";
import { planConv2dWinograd } from "./winograd.ts";

/**
 * y = conv(x, w) + bias. With `io.winogradV` (≥ winogradInputBytes), the Winograd plan writes
 * its input transform of x there instead of shared scratch, for the filter gradient to reuse.
 */
export async function planConv2dForward(
  rt: Runtime,
  s: Conv2dShape,
  io: { x: GPUBuffer; w: GPUBuffer; bias?: GPUBuffer | null; y: GPUBuffer; winogradV?: GPUBuffer },
  opts: ConvForwardOptions = {},
): Promise<Planned> {
  const { oh, ow } = checkShape(s);
  const m = s.n * oh * ow;
  const wg = workgroupSize(rt, opts.workgroup);
  const ktiles = Math.ceil(s.k / TILE_COLS);
  const mtiles = Math.ceil(m / (wg * TILE_ROWS));
  const scratch: GPUBuffer[] = [];
  // A zero bias keeps one kernel for both cases; written once here, never in the steps.
  const bias = io.bias ?? zeroBias(rt, s.k, scratch);
  const kernel = selectForward(rt, s, opts, wg, { keptTransform: !!io.winogradV });
  if (kernel.kind === "winograd") {
    const planned = await planConv2dWinograd(
      rt,
      s,
      kernel.tile,
      { x: io.x, w: io.w, bias, y: io.y, v: io.winogradV },
      { flip: false, accumulate: false, activations: opts.activations },
      wg,
    );
    return { steps: planned.steps, scratch: [...scratch, ...planned.scratch] };
  }
  if (kernel.kind === "tiled") {
    const planned = await planConv2dTiled(
      rt,
      s,
      { x: io.x, w: io.w, bias, y: io.y },
      { flip: false, accumulate: false },
      kernel.splits,
    );
    return { steps: planned.steps, scratch: [...scratch, ...planned.scratch] };
  }
  const params = (
    tiles: number,
    groups: number,
    kBase: number,
    split = [0, 0, 0],
    wstride = 0,
  ) =>
    rt.uniform(
      packParams([...shapeWords(s, oh, ow), m, tiles, groups, kBase, wstride, ...split, 0]),
    );
  const steps: Step[] = [];
  const is1x1 = s.kh === 1 && s.kw === 1 && s.stride === 1 && s.padding === 0;
  const entry = is1x1 ? "forward_1x1" : "forward";
  const rows = s.c * s.kh * s.kw;
  if (kernel.kind === "channel-lanes") {
    const packed = packBuffer(rt, ktiles * rows * TILE_COLS);
    steps.push(await packWeightsStep(rt, s, io.w, packed, false, "storage"));
    const x = c4Buffer(rt, s.n * s.c * s.h * s.w);
    steps.push(await packC4Step(rt, io.x, x, s.n, s.c, s.h * s.w));
    const k = await rt.kernel("conv2d_forward", "forward_lanes_k_x4", { WG: wg });
    const lanes = Math.ceil(m / 16) * ktiles;
    const u = params(ktiles, 0, 0, [0, 0, 0], rows * TILE_COLS / 4);
    steps.push(dispatchStep(rt, k, [u, x, packed, bias, io.y], Math.ceil(lanes / wg)));
  } else if (kernel.weights === "uniform") {
    const packed = packBuffer(rt, ktiles * WINDOW);
    steps.push(await packWeightsStep(rt, s, io.w, packed, false));
    const x4 = kernel.activations === "c4";
    let x = io.x;
    if (x4) {
      x = c4Buffer(rt, s.n * s.c * s.h * s.w);
      steps.push(await packC4Step(rt, io.x, x, s.n, s.c, s.h * s.w));
    }
    const k = await rt.kernel("conv2d_forward", x4 ? "forward_uw_x4" : `${entry}_uw`, { WG: wg });
    // forward_uw_x4 holds 16 pixels per invocation.
    const tiles = x4 ? Math.ceil(m / (wg * 2 * TILE_ROWS)) : mtiles;
    // One dispatch per 16-channel tile: each binds its own window.
    for (let t = 0; t < ktiles; t++) {
      steps.push(dispatchStep(rt, k, [
        params(1, tiles, t * TILE_COLS),
        x,
        windowOf(packed, t),
        bias,
        io.y,
      ], tiles));
    }
  } else if (kernel.splits > 1) {
    // Partial outputs per channel range, then one reduce adding them and the bias.
    const groups = mtiles * ktiles;
    const cPer = Math.ceil(s.c / kernel.splits);
    const used = Math.ceil(s.c / cPer);
    const slice = s.n * s.k * oh * ow;
    const part = rt.pool.acquire(used * slice * 4, "conv2d.forward_splits");
    scratch.push(part);
    const k = await rt.kernel("conv2d_forward", "forward_split", { WG: wg });
    const u = params(ktiles, groups, 0, [cPer, groups, slice]);
    steps.push(dispatchStep(rt, k, [u, io.x, io.w, bias, part], used * groups));
    const red = await rt.kernel("conv2d_reduce", "sum_splits_bias", { WG: 64 });
    const rp = rt.uniform(packParams([slice, used, oh * ow, s.k]));
    steps.push(dispatchStep(rt, red, [rp, part, io.y, bias], Math.ceil(slice / 64)));
  } else {
    const groups = mtiles * ktiles;
    const k = await rt.kernel("conv2d_forward", entry, { WG: wg });
    steps.push(dispatchStep(rt, k, [params(ktiles, groups, 0), io.x, io.w, bias, io.y], groups));
  }
  return { steps, scratch };
}
