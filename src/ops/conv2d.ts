/**
 * 2-D convolution (NCHW activations, OIHW weights, f32) planned as implicit GEMMs:
 * forward Y = X̂·Wᵀ, backward-data dX = dŶ·W (a transposed convolution gathered per input pixel),
 * backward-weight dW = dYᵀ·X̂ split over workgroups along the batch×spatial reduction.
 * Shaders: shaders/conv2d_forward.wgsl, conv2d_backward_data.wgsl, conv2d_backward_weight.wgsl,
 * conv2d_pack.wgsl (weights and dy into 64 KiB uniform windows, activations into NC4HW4).
 * Lavapipe (Mesa 22.3) scalarizes a load only at a constant offset: every other load is per lane,
 * storage loads with a bounds branch each, uniform loads branch-free, vec4 loads ~2.4× cheaper per
 * float than f32 — hence one operand in uniform windows, the other as vec4s (bench/README.md).
 */
import type { Runtime } from "../gpu/runtime.ts";
import { conv2dOutSize, type Conv2dShape } from "../shapes.ts";
import { winogradApplies } from "../shapes.ts";
import { dispatchStep, packParams, type Planned, type Step } from "../gpu/plan.ts";
import { c4Buffer, packC4Step } from "./conv2d_pack.ts";
import { planSliceSum, reductionSplits } from "./reduction_splits.ts";
import type { Candidate } from "../gpu/tuner.ts";
import {
  planConv2dTiled,
  planConv2dTiledBackwardWeight,
  tiledTransposes,
  tiledUnsupported,
} from "./conv2d_tiled.ts";
import {
  planConv2dWinograd,
  planConv2dWinogradBackwardWeight,
  type PlannedFilterGradient,
  winogradInputBytes,
  winogradProducts,
  type WinogradTile,
  winogradUnsupported,
} from "./conv2d_winograd.ts";

export type { Conv2dShape };

/** Rows (pixels) × columns (channels) one invocation accumulates; fixed by the WGSL tile. */
export const TILE_ROWS = 8;
export const TILE_COLS = 16;

export interface ConvOptions {
  /** Invocations per workgroup (power of two); the planner's default suits lavapipe. */
  workgroup?: number;
  /**
   * Where forward and backward-data kernels read weights: `uniform` packs them (one extra
   * dispatch) into 64 KiB uniform windows, ~1.5–2× faster on lavapipe, whose uniform loads are
   * branch-free gathers; `storage` reads the OIHW buffer directly. Default: `uniform` when a
   * 16-channel tile's reduction fits a window (KH·KW·channels ≤ 1024), else `storage` — unless
   * the software policy plans lanes over channel tiles (`channelLanes`) instead.
   */
  weights?: "uniform" | "storage";
  /**
   * Forward and backward-data: split the reduction (over input, resp. output channels) into
   * this many partial outputs summed by a reduce (storage weights only). Default: on a GPU,
   * enough splits that a layer with few pixels still reaches the policy's invocation target;
   * else 1. (Backward-weight options give `splits` its own meaning: row splits.)
   */
  splits?: number;
  /**
   * How the uniform-window kernels read the activation operand (x for forward and
   * backward-weight, dy for backward-data): `c4` repacks it (one extra dispatch) as NC4HW4 so
   * every load is a vec4 and runs the 16-row-per-invocation kernels, 1.2–1.6× faster on
   * lavapipe; `nchw` reads it in place. Default: `c4` when its channels are a multiple of 4.
   * The Winograd input transform follows the same choice.
   */
  activations?: "c4" | "nchw";
  /**
   * 3×3 stride-1 convolutions (forward, backward-data, filter gradient): compute by Winograd
   * F(m×m, 3×3) (m = 2 or 4; src/ops/conv2d_winograd.ts) instead of the direct kernels, or 0
   * for direct. Default: the kernel policy's tile where the shape allows it (lavapipe: 4) and no
   * option names a direct-kernel variant (`weights`, `splits`, backward-weight's `dy`), else
   * direct. An explicit tile the shape does not allow is an error.
   */
  winograd?: 0 | WinogradTile;
  /**
   * Run the workgroup-tiled implicit GEMM (src/ops/conv2d_tiled.ts; forward, stride-1
   * backward-data, filter gradient) instead of the direct kernels, with `splits` (if given) as
   * its reduction splits. Default: the kernel policy's `convTiled` where no option names a
   * direct-kernel variant; a Winograd tile (explicit, or the policy's where it applies) wins.
   */
  tiled?: boolean;
  /**
   * Forward and backward-data: invocations over 16-channel tiles, 16 consecutive pixels each,
   * the weights packed back to back and read as storage, one dispatch per layer (per stride
   * phase) — for layers with few pixels, where the window kernels' lanes (16 pixels WG apart)
   * compute mostly clamped copies, and for reductions too long for a uniform window. Needs the
   * reduction's channels in fours. Default: on software adapters, up to 16·WG pixels (per
   * phase) or past 1,024 reduction rows, unless an option names another variant.
   */
  channelLanes?: boolean;
}

/** Floats in one uniform window: 64 KiB, WebGPU's guaranteed maxUniformBufferBindingSize. */
const WINDOW = 16384;

/**
 * The runtime's packed-weight scratch (see shared_scratch.ts) with room for `floats`: whole 64
 * KiB uniform windows (WINDOW floats each), or the `_lanes_k` kernels' tiles back to back.
 */
function packBuffer(rt: Runtime, floats: number): GPUBuffer {
  const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.STORAGE;
  return rt.scratch.get("conv2d.packed_weights", floats * 4, usage);
}

/**
 * Whether to run a direct convolution with lanes over 16-channel tiles (`_lanes_k_x4`) for
 * `pixels` output (or input, for backward-data) pixels with `channels` reduction channels and
 * `rows` reduction rows: `opts.channelLanes` when given (an error where the channels are not in
 * fours or activations are asked for NCHW), else the software policy's choice, unless options
 * name another kernel variant, when the window kernels' pixel tiles (16 per lane, WG apart)
 * would not fill a second workgroup, or when a channel tile's rows do not fit a window (the
 * window kernels' fallback reads weights as per-lane scalars: 1.4–2× slower, measured from
 * 1,024 to 8,192 pixels).
 */
function lanesOverChannels(
  rt: Runtime,
  channels: number,
  pixels: number,
  rows: number,
  wg: number,
  direct: boolean,
  opts: ConvOptions,
): boolean {
  const why = channels % 4 !== 0
    ? `${channels} reduction channels are not a multiple of 4`
    : opts.activations === "nchw"
    ? "it reads activations packed NC4HW4, not NCHW"
    : null;
  if (opts.channelLanes && why) throw new RangeError(`conv2d: channel lanes: ${why}`);
  if (opts.channelLanes !== undefined) return opts.channelLanes;
  const few = pixels <= 16 * wg, long = rows > WINDOW / TILE_COLS;
  return rt.policy.convWeights === "auto" && !direct && !why && (few || long);
}

function useUniformWeights(rt: Runtime, rows: number, opt?: "uniform" | "storage"): boolean {
  const fits = rows <= WINDOW / TILE_COLS &&
    rt.limits.maxUniformBufferBindingSize >= WINDOW * 4 &&
    (WINDOW * 4) % rt.device.limits.minUniformBufferOffsetAlignment === 0;
  if (opt === "uniform" && !fits) {
    throw new RangeError(`conv2d: ${rows} reduction rows × 16 channels exceed a 64 KiB window`);
  }
  return opt ? opt === "uniform" : fits && rt.policy.convWeights === "auto";
}

/**
 * The step packing `w` into 16-column tiles (see shaders/conv2d_pack.wgsl): one 64 KiB uniform
 * window each, or with `packed: "storage"` back to back (rows·16 floats apart).
 */
async function packStep(
  rt: Runtime,
  s: Conv2dShape,
  w: GPUBuffer,
  dst: GPUBuffer,
  transpose: boolean,
  packed: "windows" | "storage" = "windows",
): Promise<Step> {
  const cols = transpose ? s.c : s.k;
  const rows = s.kh * s.kw * (transpose ? s.k : s.c);
  const count = Math.ceil(cols / TILE_COLS) * rows; // one 16-column row per invocation
  const k = await rt.kernel("conv2d_pack", "pack_weights", { WG: 64 });
  const params = rt.uniform(packParams([
    s.k,
    s.c,
    s.kh * s.kw,
    count,
    cols,
    rows,
    transpose ? 1 : 0,
    packed === "windows" ? WINDOW : rows * TILE_COLS,
  ]));
  return dispatchStep(rt, k, [params, w, dst], Math.ceil(count / 64));
}

const windowOf = (b: GPUBuffer, t: number) => ({
  buffer: b,
  offset: t * WINDOW * 4,
  size: WINDOW * 4,
});

/** The shape prefix every conv kernel's Params struct starts with. */
function shapeWords(s: Conv2dShape, oh: number, ow: number): number[] {
  return [s.n, s.c, s.h, s.w, s.k, s.kh, s.kw, s.stride, s.padding, oh, ow];
}

function checkShape(s: Conv2dShape): { oh: number; ow: number } {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`conv2d: ${k} = ${v}`);
  }
  if (s.stride < 1 || s.kh < 1 || s.kw < 1) throw new RangeError("conv2d: empty kernel or stride");
  const o = conv2dOutSize(s);
  if (o.oh < 1 || o.ow < 1) throw new RangeError(`conv2d: output ${o.oh}×${o.ow} is empty`);
  return o;
}

/**
 * The largest power of two ≤ `want` the device allows. The policy's default is 16 on lavapipe,
 * where larger workgroups of this register-heavy tile measured slower (spilled tiles of a whole
 * workgroup stop fitting in L1) and 16 keeps enough workgroups for every core on small layers,
 * and 64 on a GPU, where a 16-invocation workgroup idles half a 32-lane warp.
 */
function workgroupSize(rt: Runtime, want = rt.policy.convWorkgroup): number {
  const l = rt.limits;
  const wg = Math.min(want, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
  return 1 << Math.floor(Math.log2(wg));
}

/**
 * The Winograd tile for convolution `s` (as computed: backward-data passes its transposed
 * shape): explicit, else the policy's where the shape allows it, else 0 (direct).
 */
function winogradTile(
  rt: Runtime,
  s: Conv2dShape,
  explicit?: 0 | WinogradTile,
  filterGradient = false,
): 0 | WinogradTile {
  if (explicit !== undefined) {
    const why = explicit ? winogradUnsupported(rt, s, explicit, filterGradient) : null;
    if (why) throw new RangeError(`conv2d: winograd F(${explicit}x${explicit},3x3): ${why}`);
    return explicit;
  }
  const policy = rt.policy.convWinograd;
  // The smaller tile where it needs fewer transformed multiply-adds (outputs under 3×3).
  const m = policy === 4 && winogradProducts(s, 2) < winogradProducts(s, 4) ? 2 : policy;
  return m && !winogradUnsupported(rt, s, m, filterGradient) ? m : 0;
}

/**
 * Whether options name a direct-kernel variant — `variant` (forward and backward-data: weights;
 * filter gradient: dy), channel lanes, or splits without `tiled` — which asks for the direct
 * kernels.
 */
function namesDirect(opts: ConvOptions, variant: string | undefined): boolean {
  return variant !== undefined || opts.channelLanes === true ||
    (opts.splits !== undefined && !opts.tiled);
}

/** The Winograd request: explicit, else none where direct or tiled kernels were asked for. */
function winogradRequest(opts: ConvOptions, direct: boolean): 0 | WinogradTile | undefined {
  return opts.winograd ?? (direct || opts.tiled ? 0 : undefined);
}

/**
 * Whether to plan the tiled kernels: `opts.tiled`, else the policy's choice unless an option
 * names a direct-kernel variant. An explicit request the device cannot run is an error.
 */
function useTiled(rt: Runtime, opts: ConvOptions, direct: boolean): boolean {
  const why = tiledUnsupported(rt);
  if (opts.tiled && why) throw new RangeError(`conv2d: tiled kernels: ${why}`);
  return (opts.tiled ?? (!direct && rt.policy.convTiled)) && !why;
}

/** A zero bias of `k` floats, written once at plan time (owned by the plan's scratch). */
function zeroBias(rt: Runtime, k: number, scratch: GPUBuffer[]): GPUBuffer {
  const b = rt.pool.acquire(k * 4, "conv2d.zero_bias");
  rt.device.queue.writeBuffer(b, 0, new Float32Array(k));
  scratch.push(b);
  return b;
}

/**
 * The Winograd tile `dir`'s planner uses for `s` under `opts`, or 0 (direct or tiled kernels).
 * A training layer whose forward and filter gradient use the same tile can keep the forward's
 * input transform for the filter gradient (`winogradV` in their io; bytes from
 * {@link winogradInputBytes}).
 */
export function plannedWinogradTile(
  rt: Runtime,
  dir: "forward" | "backward_weight",
  s: Conv2dShape,
  opts: ConvBackwardWeightOptions = {},
): 0 | WinogradTile {
  const direct = dir === "forward"
    ? namesDirect(opts, opts.weights)
    : namesDirect(opts, opts.dy ?? opts.lanes);
  return winogradTile(rt, s, winogradRequest(opts, direct), dir === "backward_weight");
}

export { winogradInputBytes };

/** A kept input transform handed to a planner that does not run Winograd. */
function keptTransformMisused(dir: string): RangeError {
  return new RangeError(
    `conv2d ${dir}: winogradV (a kept Winograd input transform) given to a plan that does not ` +
      `run Winograd (see plannedWinogradTile)`,
  );
}

/**
 * y = conv(x, w) + bias. With `io.winogradV` (≥ winogradInputBytes), the Winograd plan writes
 * its input transform of x there instead of shared scratch, for the filter gradient to reuse.
 */
export async function planConv2dForward(
  rt: Runtime,
  s: Conv2dShape,
  io: { x: GPUBuffer; w: GPUBuffer; bias?: GPUBuffer | null; y: GPUBuffer; winogradV?: GPUBuffer },
  opts: ConvOptions = {},
): Promise<Planned> {
  const { oh, ow } = checkShape(s);
  const m = s.n * oh * ow;
  const wg = workgroupSize(rt, opts.workgroup);
  const is1x1 = s.kh === 1 && s.kw === 1 && s.stride === 1 && s.padding === 0;
  const ktiles = Math.ceil(s.k / TILE_COLS);
  const mtiles = Math.ceil(m / (wg * TILE_ROWS));
  const scratch: GPUBuffer[] = [];
  // A zero bias keeps one kernel for both cases; written once here, never in the steps.
  const bias = io.bias ?? zeroBias(rt, s.k, scratch);
  // Options naming a direct-kernel variant ask for the direct kernels.
  const direct = namesDirect(opts, opts.weights);
  const wino = plannedWinogradTile(rt, "forward", s, opts);
  if (io.winogradV && !wino) throw keptTransformMisused("forward");
  if (wino) {
    const planned = await planConv2dWinograd(
      rt,
      s,
      wino,
      { x: io.x, w: io.w, bias, y: io.y, v: io.winogradV },
      { flip: false, accumulate: false, activations: opts.activations },
      wg,
    );
    return { steps: planned.steps, scratch: [...scratch, ...planned.scratch] };
  }
  if (useTiled(rt, opts, direct)) {
    const planned = await planConv2dTiled(
      rt,
      s,
      { x: io.x, w: io.w, bias, y: io.y },
      { flip: false, accumulate: false },
      opts.splits,
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
  const entry = is1x1 ? "forward_1x1" : "forward";
  const rows = s.c * s.kh * s.kw;
  if (lanesOverChannels(rt, s.c, m, rows, wg, direct, opts)) {
    const packed = packBuffer(rt, ktiles * rows * TILE_COLS);
    steps.push(await packStep(rt, s, io.w, packed, false, "storage"));
    const x = c4Buffer(rt, s.n * s.c * s.h * s.w);
    steps.push(await packC4Step(rt, io.x, x, s.n, s.c, s.h * s.w));
    const k = await rt.kernel("conv2d_forward", "forward_lanes_k_x4", { WG: wg });
    const lanes = Math.ceil(m / 16) * ktiles;
    const u = params(ktiles, 0, 0, [0, 0, 0], rows * TILE_COLS / 4);
    steps.push(dispatchStep(rt, k, [u, x, packed, bias, io.y], Math.ceil(lanes / wg)));
  } else if (useUniformWeights(rt, rows, opts.weights)) {
    const packed = packBuffer(rt, ktiles * WINDOW);
    steps.push(await packStep(rt, s, io.w, packed, false));
    // Channels in fours: x repacked NC4HW4 so each load is a vec4 (see conv2d_pack.wgsl).
    const x4 = s.c % 4 === 0 && opts.activations !== "nchw";
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
  } else {
    const groups = mtiles * ktiles;
    const splits = reductionSplits(rt, s.c, 16, groups * wg, s.n * s.k * oh * ow * 4, opts.splits);
    if (splits > 1) {
      // Partial outputs per channel range, then one reduce adding them and the bias.
      const cPer = Math.ceil(s.c / splits);
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
      const k = await rt.kernel("conv2d_forward", entry, { WG: wg });
      steps.push(dispatchStep(rt, k, [params(ktiles, groups, 0), io.x, io.w, bias, io.y], groups));
    }
  }
  return { steps, scratch };
}

/**
 * The convolution backward-data computes for a stride-1 `s`: dy (N, K, OH, OW) correlated with
 * w transposed (K ↔ C) and rotated 180°, padded by KH − 1 − padding, giving dx (N, C, H, W).
 */
function transposedShape(s: Conv2dShape): Conv2dShape {
  const { oh, ow } = conv2dOutSize(s);
  return { ...s, c: s.k, h: oh, w: ow, k: s.c, padding: s.kh - 1 - s.padding };
}

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
  opts: ConvOptions = {},
): Promise<Planned> {
  const { oh, ow } = checkShape(s);
  const wg = workgroupSize(rt, opts.workgroup);
  const transposed = transposedShape(s);
  const direct = namesDirect(opts, opts.weights);
  const wino = winogradApplies(s)
    ? winogradTile(rt, transposed, winogradRequest(opts, direct))
    : opts.winograd
    ? winogradTile(rt, s, opts.winograd) // throws, naming why
    : 0;
  if (wino) {
    const scratch: GPUBuffer[] = [];
    const planned = await planConv2dWinograd(
      rt,
      transposed,
      wino,
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
  // The tiled kernel runs backward-data as the forward of the transposed convolution.
  const transposable = tiledTransposes(s);
  if (opts.tiled && !transposable) {
    throw new RangeError(
      "conv2d: tiled backward-data needs stride 1, a square kernel and padding < its size",
    );
  }
  if (transposable && useTiled(rt, opts, direct)) {
    const scratch: GPUBuffer[] = [];
    const planned = await planConv2dTiled(
      rt,
      transposed,
      { x: io.dy, w: io.w, bias: zeroBias(rt, s.c, scratch), y: io.dx },
      { flip: true, accumulate: mode.accumulate },
      opts.splits,
    );
    return { steps: planned.steps, scratch: [...scratch, ...planned.scratch] };
  }
  const ctiles = Math.ceil(s.c / TILE_COLS);
  const steps: Step[] = [];
  // Stride phases (ry, rx): the pixels of one phase share which taps reach an output.
  const phases: { ry: number; rx: number; hq: number; wq: number; m: number }[] = [];
  for (let ry = 0; ry < Math.min(s.stride, s.h); ry++) {
    for (let rx = 0; rx < Math.min(s.stride, s.w); rx++) {
      const hq = Math.ceil((s.h - ry) / s.stride), wq = Math.ceil((s.w - rx) / s.stride);
      if (s.n * hq * wq > 0) phases.push({ ry, rx, hq, wq, m: s.n * hq * wq });
    }
  }
  const most = Math.max(...phases.map((ph) => ph.m));
  const rows = s.k * s.kh * s.kw;
  if (lanesOverChannels(rt, s.k, most, rows, wg, direct, opts)) {
    const packed = packBuffer(rt, ctiles * rows * TILE_COLS);
    steps.push(await packStep(rt, s, io.w, packed, true, "storage"));
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
  const uw = useUniformWeights(rt, rows, opts.weights);
  let packed: GPUBuffer | null = null;
  if (uw) {
    packed = packBuffer(rt, ctiles * WINDOW);
    steps.push(await packStep(rt, s, io.w, packed, true));
  }
  // Output channels in fours: dy repacked NC4HW4 so each load is a vec4 (see conv2d_pack.wgsl).
  const dy4 = uw && s.k % 4 === 0 && opts.activations !== "nchw";
  let dy = io.dy;
  if (dy4 && io.dyC4) dy = io.dyC4;
  else if (dy4) {
    dy = c4Buffer(rt, s.n * s.k * oh * ow);
    steps.push(await packC4Step(rt, io.dy, dy, s.n, s.k, oh * ow));
  }
  const invocations = phases.reduce(
    (a, ph) => a + Math.ceil(ph.m / (wg * TILE_ROWS)) * ctiles * wg,
    0,
  );
  const slice = s.n * s.c * s.h * s.w;
  const splits = uw ? 1 : reductionSplits(rt, s.k, 16, invocations, slice * 4, opts.splits);
  if (splits > 1) return planBackwardDataSplit(rt, s, io, mode, wg, phases, splits);
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
  phases: { ry: number; rx: number; hq: number; wq: number; m: number }[],
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

export interface ConvBackwardWeightOptions extends ConvOptions {
  /** Splits of the batch×spatial reduction (default: enough workgroups to fill the device). */
  splits?: number;
  /**
   * Where the kernel reads dy: `uniform` packs it (one extra dispatch) into 64 KiB windows of
   * 1024 output pixels × 16 channels and runs one dispatch per window, ~2× faster on lavapipe;
   * `storage` reads NCHW dy directly with `splits` workgroup splits. Default: `uniform` when an
   * output row fits a window (OW ≤ 1024). `splits` applies to `storage` only.
   */
  dy?: "uniform" | "storage";
  /**
   * What the direct kernel spreads over invocations: `taps` (the kernels above: each invocation
   * 8 or 16 taps r of R = C·KH·KW × 16 channels, over a split of the rows) or `rows` (each
   * invocation its own split of the N·OH rows with all of a ≤ 16-tap tile × 16 channels, summed
   * afterwards; dy read from storage). `rows` is for a small receptive field — the 1- or 3-channel
   * stem, where a `taps` tile computes mostly padding; on lavapipe it also wins up to R = 144.
   * Default: `rows` when R is at most the kernel policy's `convDwRowLanesTaps`, K at most its
   * `convDwRowLanesChannels`, and no other direct-kernel option is given.
   */
  lanes?: "taps" | "rows";
}

/**
 * Splits of the N·OH rows. On lavapipe: enough workgroups (≥ 64) that every core stays busy even
 * when the K×R output is a handful of tiles, but no split shorter than 2 rows' worth of ~256
 * pixels, where the scratch traffic and the reduce would cost more than the parallelism gains.
 * On a GPU the K×R output alone is a few hundred invocations (a 16→16 3×3 layer: 18), so the
 * splits supply the parallelism: enough for the policy's invocation target, as long as each
 * split keeps a row, the partial sums fit the policy's scratch budget and the reduce stays short.
 */
function chooseSplits(
  rt: Runtime,
  rows: number,
  ow: number,
  tiles: number,
  wg: number,
  count: number,
): number {
  const target = rt.policy.splitInvocations;
  if (target > 0) {
    const byScratch = Math.floor(rt.policy.splitScratchBytes / (count * 4));
    const want = Math.ceil(target / (tiles * wg));
    return Math.max(1, Math.min(rows, byScratch, rt.policy.splitMax, want));
  }
  const minRows = Math.max(1, Math.ceil(512 / ow));
  return Math.max(1, Math.min(Math.ceil(64 / tiles), Math.floor(rows / minRows)));
}

/**
 * Backward-weight workgroup size on a GPU: of 64, 32 and 16, the one whose 8-tap-per-invocation
 * tiles waste the fewest taps past R (idle lanes still walk the whole reduction), larger on ties.
 */
function leastWasteWorkgroup(rt: Runtime, r: number): number {
  let best = 64, waste = Infinity;
  for (const wg of [64, 32, 16]) {
    const w = Math.ceil(r / (wg * TILE_ROWS)) * wg * TILE_ROWS - r;
    if (w < waste) [best, waste] = [wg, w];
  }
  return workgroupSize(rt, best);
}

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
  const direct = namesDirect(opts, opts.dy ?? opts.lanes);
  const wino = plannedWinogradTile(rt, "backward_weight", s, opts);
  if (given.winogradV && !wino) throw keptTransformMisused("filter gradient");
  if (wino) {
    const planned = await planConv2dWinogradBackwardWeight(
      rt,
      s,
      wino,
      { x: given.x, dy: given.dy, dw: given.dw, v: given.winogradV },
      { activations: opts.activations },
      workgroupSize(rt, opts.workgroup),
    );
    if (given.db) planned.steps.push(await biasGradStep(rt, s, oh * ow, given.dy, given.db));
    return planned;
  }
  if (!given.x) throw new RangeError("conv2d filter gradient: x is needed (no kept transform)");
  const io = { ...given, x: given.x };
  if (useTiled(rt, opts, direct)) {
    const planned = await planConv2dTiledBackwardWeight(rt, s, io, opts.splits);
    if (io.db) planned.steps.push(await biasGradStep(rt, s, oh * ow, io.dy, io.db));
    return planned;
  }
  const r = s.c * s.kh * s.kw;
  const ktiles = Math.ceil(s.k / TILE_COLS);
  const rowLanes = opts.lanes
    ? opts.lanes === "rows"
    : !opts.dy && !opts.workgroup && r <= rt.policy.convDwRowLanesTaps &&
      s.k <= rt.policy.convDwRowLanesChannels;
  if (rowLanes) return planBackwardWeightRows(rt, s, io, r, ktiles, opts);
  const fits = ow <= WINDOW / TILE_COLS && rt.limits.maxUniformBufferBindingSize >= WINDOW * 4 &&
    (WINDOW * 4) % rt.device.limits.minUniformBufferOffsetAlignment === 0;
  if (opts.dy === "uniform" && !fits) {
    throw new RangeError(`conv2d: an output row of ${ow} pixels exceeds a 64 KiB dy window`);
  }
  const uniformDy = opts.dy ? opts.dy === "uniform" : fits && rt.policy.convDy === "auto";
  // backward_weight_uw_x4: x as NC4HW4 vec4s, 4 slots (c4, ky, kx) = 16 rows per invocation.
  const x4 = uniformDy && s.c % 4 === 0 && opts.activations !== "nchw";
  const slotCount = s.c / 4 * s.kh * s.kw;
  // Workgroup size: for x4 8 unless 16 wastes fewer slots in the last tile (8 measured 1.05–1.1×
  // faster at equal waste: more workgroups per window dispatch); else 8 for a tiny receptive field (the 1- or 3-channel stem: r = 9…147 would
  // leave most of a 128-row tile idle; 8 invocations are one SIMD pass on lavapipe).
  const wg = !opts.workgroup && !uniformDy && rt.policy.splitInvocations > 0
    ? leastWasteWorkgroup(rt, r)
    : workgroupSize(
      rt,
      opts.workgroup ??
        (x4
          ? (Math.ceil(slotCount / 32) * 32 <= Math.ceil(slotCount / 64) * 64 ? 8 : 16)
          : r <= 64
          ? 8
          : 16),
    );
  const rtiles = x4 ? Math.ceil(slotCount / (wg * 4)) : Math.ceil(r / (wg * TILE_ROWS));
  const rows = s.n * oh;
  const count = s.k * r;
  const steps: Step[] = [];
  const scratch: GPUBuffer[] = [];
  // Partial K×R slices summed in slice order by conv2d_reduce.wgsl (one slice: dW directly).
  const reduceInto = (slices: number, run: (out: GPUBuffer) => void) =>
    planSliceSum(rt, slices, count, io.dw, "conv2d.dw_splits", steps, scratch, run);
  if (uniformDy) {
    // Windows of whole output rows; the dispatches run window by window with all channel tiles
    // of a window together, so its rows of x stay in cache.
    let chunkRows = Math.min(rows, Math.floor(WINDOW / TILE_COLS / ow));
    // pack_dy_v moves 4 pixels at a time: windows of whole vec4s when a plane is (≤ 3 rows lost).
    const dyV = (oh * ow) % 4 === 0;
    if (dyV) { while (chunkRows > 1 && (chunkRows * ow) % 4 !== 0) chunkRows--; }
    const chunks = Math.ceil(rows / chunkRows);
    const chunkPx = chunkRows * ow;
    const packed = packBuffer(rt, ktiles * chunks * WINDOW);
    const v = dyV && chunkPx % 4 === 0;
    const pk = await rt.kernel("conv2d_pack", v ? "pack_dy_v" : "pack_dy", { WG: 64 });
    const packCount = ktiles * chunks * chunkPx / (v ? 4 : 1);
    const pp = rt.uniform(packParams([s.k, chunks, oh * ow, packCount, chunkPx, rows * ow, 0, 0]));
    steps.push(dispatchStep(rt, pk, [pp, io.dy, packed], Math.ceil(packCount / 64)));
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
    await reduceInto(chunks * slicesPer, (out) => {
      for (let j = 0; j < chunks; j++) {
        const row0 = j * chunkRows;
        const n = Math.min(chunkRows, rows - row0);
        // The last window's splits past its rows still run, storing zero slices.
        const g = groups;
        for (let t = 0; t < ktiles; t++) {
          const params = rt.uniform(packParams([
            ...shapeWords(s, oh, ow),
            ...[r, ktiles, rtiles, g, rowsPer, t * TILE_COLS, row0, n, j * slicesPer],
          ]));
          steps.push(dispatchStep(rt, k, [params, x, windowOf(packed, t * chunks + j), out], g));
        }
      }
    });
  } else {
    const k = await rt.kernel("conv2d_backward_weight", "backward_weight", { WG: wg });
    let splits = opts.splits ?? chooseSplits(rt, rows, ow, ktiles * rtiles, wg, count);
    splits = Math.max(1, Math.min(splits, rows));
    const rowsPer = Math.ceil(rows / splits);
    splits = Math.ceil(rows / rowsPer); // no empty trailing split
    const groups = splits * rtiles * ktiles;
    const params = rt.uniform(packParams([
      ...shapeWords(s, oh, ow),
      ...[r, ktiles, rtiles, groups, rowsPer, 0, 0, 0, 0],
    ]));
    await reduceInto(splits, (out) => {
      steps.push(dispatchStep(rt, k, [params, io.x, io.dy, out], groups));
    });
  }
  if (io.db) steps.push(await biasGradStep(rt, s, oh * ow, io.dy, io.db));
  return { steps, scratch };
}

/** `backward_weight_px` invocations per workgroup: one SIMD pass on lavapipe. */
const ROW_LANES_WG = 8;
/**
 * `backward_weight_px` splits (invocations per tile): on lavapipe 128 timed best or equal of
 * 128 / 512 / 2048 from the 1-channel stem to 1×1 64-channel layers (bench/README.md).
 */
const ROW_LANES_SPLITS = 128;

/**
 * `backward_weight_px`: one invocation per split of the N·OH rows holding a tile of ≤ 16 taps ×
 * 16 channels; the splits' K×R slices are summed by `sum_splits` in split order.
 */
async function planBackwardWeightRows(
  rt: Runtime,
  s: Conv2dShape,
  io: { x: GPUBuffer; dy: GPUBuffer; dw: GPUBuffer; db?: GPUBuffer | null },
  r: number,
  ktiles: number,
  opts: ConvBackwardWeightOptions,
): Promise<Planned> {
  const { oh, ow } = checkShape(s);
  const rtiles = Math.ceil(r / 16);
  // Taps per tile: a multiple of 4 (the kernel's tap groups), as few as cover R in rtiles tiles.
  const taps = 4 * Math.ceil(r / (4 * rtiles));
  const wg = workgroupSize(rt, opts.workgroup ?? ROW_LANES_WG);
  const rows = s.n * oh;
  const count = s.k * r;
  let splits = opts.splits ?? ROW_LANES_SPLITS;
  splits = Math.max(
    1,
    Math.min(splits, rows, Math.floor(rt.policy.splitScratchBytes / (count * 4))),
  );
  const rowsPer = Math.ceil(rows / splits);
  splits = Math.ceil(rows / rowsPer); // every split has a row, so every slice is written
  const groups = Math.ceil(splits / wg) * rtiles * ktiles;
  const k = await rt.kernel("conv2d_backward_weight", "backward_weight_px", { WG: wg, TAPS: taps });
  const params = rt.uniform(packParams([
    ...shapeWords(s, oh, ow),
    ...[r, ktiles, rtiles, groups, rowsPer, 0, 0, 0, 0],
  ]));
  const steps: Step[] = [];
  const scratch: GPUBuffer[] = [];
  await planSliceSum(rt, splits, count, io.dw, "conv2d.dw_splits", steps, scratch, (out) => {
    steps.push(dispatchStep(rt, k, [params, io.x, io.dy, out], groups));
  });
  if (io.db) steps.push(await biasGradStep(rt, s, oh * ow, io.dy, io.db));
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

export type ConvDirection = "forward" | "backward_data" | "backward_weight";

/**
 * The variant the runtime's tuner picked for one direction at one shape, or `{}` (the kernel
 * policy's defaults) when tuning is off. Candidates: weights in uniform windows or storage ×
 * 16- or 64-invocation workgroups, lanes over channel tiles (16 or 64 a workgroup); for the
 * filter gradient, dy in uniform windows or storage (split as the policy says, or 32/128/512
 * ways) and storage with 64-invocation workgroups;
 * Winograd tiles where the shape allows them; on a GPU policy also the workgroup-tiled kernel.
 */
export async function tunedConvOptions(
  rt: Runtime,
  dir: ConvDirection,
  s: Conv2dShape,
): Promise<ConvBackwardWeightOptions> {
  const tuner = rt.tuner;
  if (!tuner) return {};
  const { oh, ow } = checkShape(s);
  const candidates: Candidate<ConvBackwardWeightOptions>[] = dir === "backward_weight"
    ? [
      { name: "uniform-dy", opts: { dy: "uniform" as const, winograd: 0 as const } },
      { name: "storage-dy", opts: { dy: "storage" as const, winograd: 0 as const } },
      {
        name: "storage-dy/wg64",
        opts: { dy: "storage" as const, workgroup: 64, winograd: 0 as const },
      },
      // Explicit split counts around the policy's, within its scratch budget.
      ...[32, 128, 512]
        .filter((n) =>
          n <= s.n * oh && n * s.k * s.c * s.kh * s.kw * 4 <= rt.policy.splitScratchBytes
        )
        .map((splits) => ({
          name: `storage-dy/s${splits}`,
          opts: { dy: "storage" as const, splits, winograd: 0 as const },
        })),
      ...(s.c * s.kh * s.kw <= 144
        ? [{ name: "rows", opts: { lanes: "rows" as const, winograd: 0 as const } }]
        : []),
      ...([2, 4] as const)
        .filter((m) => !winogradUnsupported(rt, s, m, true))
        .map((m) => ({ name: `winograd-f${m}`, opts: { winograd: m } })),
      ...(rt.policy.splitInvocations > 0 && !tiledUnsupported(rt)
        ? [{ name: "tiled", opts: { tiled: true, winograd: 0 as const } }]
        : []),
    ]
    : [
      ...(["uniform", "storage"] as const).flatMap((weights) =>
        [16, 64].map((workgroup) => ({
          name: `${weights}/wg${workgroup}`,
          opts: { weights, workgroup, winograd: 0 as const },
        }))
      ),
      // Lanes over channel tiles where the reduction's channels come in fours.
      ...((dir === "forward" ? s.c : s.k) % 4 === 0
        ? [16, 64].map((workgroup) => ({
          name: `channel-lanes/wg${workgroup}`,
          opts: { channelLanes: true, workgroup, winograd: 0 as const },
        }))
        : []),
      // Winograd F(2,3) and F(4,3) where the shape (transposed for backward-data) allows.
      ...([2, 4] as const)
        .filter((m) => !winogradUnsupported(rt, dir === "forward" ? s : transposedShape(s), m))
        .map((m) => ({ name: `winograd-f${m}`, opts: { winograd: m } })),
      // The workgroup-tiled kernel on a GPU (stride-1 only for backward-data).
      ...(rt.policy.splitInvocations > 0 && !tiledUnsupported(rt) &&
          (dir === "forward" || tiledTransposes(s))
        ? [{ name: "tiled", opts: { tiled: true, winograd: 0 as const } }]
        : []),
      // A GPU policy may split the reduction; let the timing reject that too.
      ...(rt.policy.splitInvocations > 0
        ? [{
          name: "storage/wg64/s1",
          opts: { weights: "storage" as const, workgroup: 64, splits: 1, winograd: 0 as const },
        }]
        : []),
    ];
  const key = `n${s.n} c${s.c} ${s.h}x${s.w} k${s.k} ${s.kh}x${s.kw} s${s.stride} p${s.padding}`;
  const sizes = [s.n * s.c * s.h * s.w, s.k * s.c * s.kh * s.kw, s.n * s.k * oh * ow];
  const bufs: GPUBuffer[] = [];
  try {
    return await tuner.choose(`conv2d.${dir}`, key, candidates, (o) => {
      if (!bufs.length) {
        for (const n of sizes) {
          const b = rt.pool.acquire(Math.max(16, n * 4), "conv2d.tune");
          rt.device.queue.writeBuffer(b, 0, new Float32Array(n).fill(0.5));
          bufs.push(b);
        }
      }
      const [x, w, y] = bufs;
      return planTuningCandidate(rt, dir, s, { x, w, y, taken: bufs }, o);
    });
  } finally {
    for (const b of bufs) rt.pool.release(b);
  }
}

/**
 * The plan the tuner times for one candidate of `dir` at `s`, on x, w and y of the shape's sizes,
 * as a training step would run it: a Winograd filter gradient under a policy that keeps the
 * forward's input transform starts from a kept V (taken from the pool into `io.taken`), not from
 * x — what it runs whenever the forward picks the same tile (a layer whose forward the tuner puts
 * on other kernels recomputes V, so there the timing is optimistic).
 */
export function planTuningCandidate(
  rt: Runtime,
  dir: ConvDirection,
  s: Conv2dShape,
  io: { x: GPUBuffer; w: GPUBuffer; y: GPUBuffer; taken: GPUBuffer[] },
  o: ConvBackwardWeightOptions,
): Promise<Planned> {
  const { x, w, y } = io;
  if (dir === "forward") return planConv2dForward(rt, s, { x, w, y }, o);
  if (dir === "backward_data") {
    return planConv2dBackwardData(rt, s, { dy: y, w, dx: x }, { accumulate: false }, o);
  }
  const m = o.winograd ?? 0;
  if (m && rt.policy.winogradKeepInput) {
    const v = rt.pool.acquire(winogradInputBytes(s, m), "conv2d.tune_kept_v");
    io.taken.push(v);
    return planConv2dBackwardWeight(rt, s, { x: null, dy: y, dw: w, winogradV: v }, o);
  }
  return planConv2dBackwardWeight(rt, s, { x, dy: y, dw: w }, o);
}
