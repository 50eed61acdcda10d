/**
 * Which kernels a convolution runs: one function per direction turns the caller's options, the
 * shape, the device and the kernel policy into a tagged variant, which the direction's planner
 * only carries out. The precedence, the same in every direction: an explicit option wins (an
 * explicit one the shape or device cannot run is an error); an option naming a direct-kernel
 * variant (weights, dy, lanes, channel lanes, or splits without `tiled`) rules out the Winograd
 * and tiled kernels; else the policy's Winograd tile where the shape allows it, then its tiled
 * kernels, then the direct kernels' variants by the rules below.
 */
import type { Runtime } from "../../gpu/runtime.ts";
import { conv2dOutSize, type Conv2dShape, winogradApplies } from "../../shapes.ts";
import type {
  ConvBackwardDataOptions,
  ConvBackwardWeightOptions,
  ConvForwardOptions,
} from "./options.ts";
import {
  stridePhases,
  TILE_COLS,
  TILE_ROWS,
  transposedShape,
  WINDOW,
  windowsBind,
  workgroupSize,
} from "./common.ts";
import { reductionSplits } from "./splits.ts";
import { tiledTransposes, tiledUnsupported } from "./tiled.ts";
import { winogradProducts, type WinogradTile, winogradUnsupported } from "./winograd.ts";

/**
 * The forward's kernels (backward-data's are the same family on the transposed problem): a
 * Winograd tile; the tiled GEMM with explicit `splits` (else its own choice); lanes over
 * channel tiles (`_lanes_k_x4`); or the window-and-pixel-tile direct kernels, weights packed in
 * uniform windows (activations packed NC4HW4 or read in place) or read from storage with the
 * channel reduction split `splits` ways (1: one kernel writes the output).
 */
export type ChannelReductionKernel =
  | { kind: "winograd"; tile: WinogradTile }
  | { kind: "tiled"; splits?: number }
  | { kind: "channel-lanes" }
  | { kind: "direct"; weights: "uniform"; activations: "c4" | "nchw" }
  | { kind: "direct"; weights: "storage"; splits: number };

export type ForwardKernel = ChannelReductionKernel;
export type BackwardDataKernel = ChannelReductionKernel;

/**
 * The filter gradient's kernels: a Winograd tile; the tiled GEMM; invocations over splits of
 * the (n, oy) rows (`backward_weight_px`, `splits` before the scratch cap); or invocations over
 * taps with dy in uniform windows (x packed NC4HW4 or read in place) or from storage, its rows
 * split `splits` ways (before clamping to the rows there are).
 */
export type BackwardWeightKernel =
  | { kind: "winograd"; tile: WinogradTile }
  | { kind: "tiled"; splits?: number }
  | { kind: "row-lanes"; workgroup: number; splits: number }
  | { kind: "direct"; dy: "uniform"; activations: "c4" | "nchw"; workgroup: number }
  | { kind: "direct"; dy: "storage"; workgroup: number; splits: number };

/**
 * What the plan was handed that constrains the choice: a kept Winograd input transform is only
 * read by a Winograd plan, and a filter gradient without x can only start from one.
 */
export interface Operands {
  keptTransform: boolean;
  x?: boolean;
}

/** `backward_weight_px` invocations per workgroup: one SIMD pass on lavapipe. */
const ROW_LANES_WG = 8;
/**
 * `backward_weight_px` splits (invocations per tile): on lavapipe 128 timed best or equal of
 * 128 / 512 / 2048 from the 1-channel stem to 1×1 64-channel layers (docs/journal/bench-history.md).
 */
const ROW_LANES_SPLITS = 128;

/** A kept input transform handed to a planner that does not run Winograd. */
function keptTransformMisused(dir: string): RangeError {
  return new RangeError(
    `conv2d ${dir}: winogradV (a kept Winograd input transform) given to a plan that does not ` +
      `run Winograd (see plannedWinogradTile)`,
  );
}

/**
 * Whether options name a direct-kernel variant — `variant` (forward and backward-data: weights;
 * filter gradient: dy or lanes), channel lanes, or splits without `tiled` — which asks for the
 * direct kernels.
 */
function namesDirect(
  variant: string | undefined,
  splits: number | undefined,
  opts: { tiled?: boolean; channelLanes?: boolean },
): boolean {
  return variant !== undefined || opts.channelLanes === true ||
    (splits !== undefined && !opts.tiled);
}

/** The Winograd request: explicit, else none where direct or tiled kernels were asked for. */
function winogradRequest(
  opts: { winograd?: 0 | WinogradTile; tiled?: boolean },
  direct: boolean,
): 0 | WinogradTile | undefined {
  return opts.winograd ?? (direct || opts.tiled ? 0 : undefined);
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
 * Whether to plan the tiled kernels: `opts.tiled`, else the policy's choice unless an option
 * names a direct-kernel variant. An explicit request the device cannot run is an error.
 */
function useTiled(rt: Runtime, opts: { tiled?: boolean }, direct: boolean): boolean {
  const why = tiledUnsupported(rt);
  if (opts.tiled && why) throw new RangeError(`conv2d: tiled kernels: ${why}`);
  return (opts.tiled ?? (!direct && rt.policy.convTiled)) && !why;
}

/**
 * Whether to run lanes over 16-channel tiles (`_lanes_k_x4`) for `pixels` output (or input, for
 * backward-data) pixels with `channels` reduction channels and `rows` reduction rows:
 * `opts.channelLanes` when given (an error where the channels are not in fours or activations
 * are asked for NCHW), else the software policy's choice, unless options name another kernel
 * variant, when the window kernels' pixel tiles (16 per lane, WG apart) would not fill a second
 * workgroup, or when a channel tile's rows do not fit a window (the window kernels' fallback
 * reads weights as per-lane scalars: 1.4–2× slower, measured from 1,024 to 8,192 pixels).
 */
function lanesOverChannels(
  rt: Runtime,
  channels: number,
  pixels: number,
  rows: number,
  wg: number,
  direct: boolean,
  opts: ConvForwardOptions | ConvBackwardDataOptions,
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
  const fits = rows <= WINDOW / TILE_COLS && windowsBind(rt);
  if (opt === "uniform" && !fits) {
    throw new RangeError(`conv2d: ${rows} reduction rows × 16 channels exceed a 64 KiB window`);
  }
  return opt ? opt === "uniform" : fits && rt.policy.convWeights === "auto";
}

/** Whether forward options name a direct-kernel variant. */
function forwardNamesDirect(opts: ConvForwardOptions): boolean {
  return namesDirect(opts.weights, opts.channelSplits, opts);
}

/** Whether filter-gradient options name a direct-kernel variant. */
function backwardWeightNamesDirect(opts: ConvBackwardWeightOptions): boolean {
  return namesDirect(opts.dy ?? opts.lanes, opts.pixelSplits, { tiled: opts.tiled });
}

/**
 * The Winograd tile `dir`'s planner uses for `s` under `opts`, or 0 (direct or tiled kernels).
 * A training layer whose forward and filter gradient use the same tile can keep the forward's
 * input transform for the filter gradient (`winogradV` in their io; bytes from
 * `winogradInputBytes`).
 */
export function plannedWinogradTile(
  rt: Runtime,
  dir: "forward",
  s: Conv2dShape,
  opts?: ConvForwardOptions,
): 0 | WinogradTile;
export function plannedWinogradTile(
  rt: Runtime,
  dir: "backward_weight",
  s: Conv2dShape,
  opts?: ConvBackwardWeightOptions,
): 0 | WinogradTile;
export function plannedWinogradTile(
  rt: Runtime,
  dir: "forward" | "backward_weight",
  s: Conv2dShape,
  opts: ConvForwardOptions | ConvBackwardWeightOptions = {},
): 0 | WinogradTile {
  return dir === "forward"
    ? winogradTile(rt, s, winogradRequest(opts, forwardNamesDirect(opts)))
    : winogradTile(rt, s, winogradRequest(opts, backwardWeightNamesDirect(opts)), true);
}

/** The forward's kernels for `s` (checked) with `wg` invocations per workgroup. */
export function selectForward(
  rt: Runtime,
  s: Conv2dShape,
  opts: ConvForwardOptions,
  wg: number,
  given: Operands,
): ForwardKernel {
  const direct = forwardNamesDirect(opts);
  const tile = winogradTile(rt, s, winogradRequest(opts, direct));
  if (tile) return { kind: "winograd", tile };
  if (given.keptTransform) throw keptTransformMisused("forward");
  if (useTiled(rt, opts, direct)) return { kind: "tiled", splits: opts.channelSplits };
  const { oh, ow } = conv2dOutSize(s);
  const m = s.n * oh * ow;
  const rows = s.c * s.kh * s.kw;
  if (lanesOverChannels(rt, s.c, m, rows, wg, direct, opts)) return { kind: "channel-lanes" };
  if (useUniformWeights(rt, rows, opts.weights)) {
    // Channels in fours: x repacked NC4HW4 so each load is a vec4 (see conv2d_pack.wgsl).
    const c4 = s.c % 4 === 0 && opts.activations !== "nchw";
    return { kind: "direct", weights: "uniform", activations: c4 ? "c4" : "nchw" };
  }
  const groups = Math.ceil(m / (wg * TILE_ROWS)) * Math.ceil(s.k / TILE_COLS);
  const slice = s.n * s.k * oh * ow * 4;
  const splits = reductionSplits(rt, s.c, 16, groups * wg, slice, opts.channelSplits);
  return { kind: "direct", weights: "storage", splits };
}

/**
 * Backward-data's kernels for `s` (checked): those of the forward of the transposed
 * convolution, the tiled ones only where it is one (stride 1), the direct ones on `s` itself,
 * one dispatch per stride phase.
 */
export function selectBackwardData(
  rt: Runtime,
  s: Conv2dShape,
  opts: ConvBackwardDataOptions,
  wg: number,
): BackwardDataKernel {
  const direct = namesDirect(opts.weights, opts.channelSplits, opts);
  const tile = winogradApplies(s)
    ? winogradTile(rt, transposedShape(s), winogradRequest(opts, direct))
    : opts.winograd
    ? winogradTile(rt, s, opts.winograd) // throws, naming why
    : 0;
  if (tile) return { kind: "winograd", tile };
  // The tiled kernel runs backward-data as the forward of the transposed convolution.
  const transposable = tiledTransposes(s);
  if (opts.tiled && !transposable) {
    throw new RangeError(
      "conv2d: tiled backward-data needs stride 1, a square kernel and padding < its size",
    );
  }
  if (transposable && useTiled(rt, opts, direct)) {
    return { kind: "tiled", splits: opts.channelSplits };
  }
  const phases = stridePhases(s);
  const most = Math.max(...phases.map((ph) => ph.m));
  const rows = s.k * s.kh * s.kw;
  if (lanesOverChannels(rt, s.k, most, rows, wg, direct, opts)) return { kind: "channel-lanes" };
  if (useUniformWeights(rt, rows, opts.weights)) {
    // Output channels in fours: dy repacked NC4HW4 so each load is a vec4.
    const c4 = s.k % 4 === 0 && opts.activations !== "nchw";
    return { kind: "direct", weights: "uniform", activations: c4 ? "c4" : "nchw" };
  }
  const ctiles = Math.ceil(s.c / TILE_COLS);
  const invocations = phases.reduce(
    (a, ph) => a + Math.ceil(ph.m / (wg * TILE_ROWS)) * ctiles * wg,
    0,
  );
  const slice = s.n * s.c * s.h * s.w * 4;
  const splits = reductionSplits(rt, s.k, 16, invocations, slice, opts.channelSplits);
  return { kind: "direct", weights: "storage", splits };
}

/** The filter gradient's kernels for `s` (checked). */
export function selectBackwardWeight(
  rt: Runtime,
  s: Conv2dShape,
  opts: ConvBackwardWeightOptions,
  given: Operands,
): BackwardWeightKernel {
  const direct = backwardWeightNamesDirect(opts);
  const tile = winogradTile(rt, s, winogradRequest(opts, direct), true);
  if (tile) return { kind: "winograd", tile };
  if (given.keptTransform) throw keptTransformMisused("filter gradient");
  if (!given.x) throw new RangeError("conv2d filter gradient: x is needed (no kept transform)");
  if (useTiled(rt, opts, direct)) return { kind: "tiled", splits: opts.pixelSplits };
  const { oh, ow } = conv2dOutSize(s);
  const r = s.c * s.kh * s.kw;
  const rowLanes = opts.lanes
    ? opts.lanes === "rows"
    : !opts.dy && !opts.workgroup && r <= rt.policy.convDwRowLanesTaps &&
      s.k <= rt.policy.convDwRowLanesChannels;
  if (rowLanes) {
    const workgroup = workgroupSize(rt, opts.workgroup ?? ROW_LANES_WG);
    return { kind: "row-lanes", workgroup, splits: opts.pixelSplits ?? ROW_LANES_SPLITS };
  }
  const fits = ow <= WINDOW / TILE_COLS && windowsBind(rt);
  if (opts.dy === "uniform" && !fits) {
    throw new RangeError(`conv2d: an output row of ${ow} pixels exceeds a 64 KiB dy window`);
  }
  const uniformDy = opts.dy ? opts.dy === "uniform" : fits && rt.policy.convDy === "auto";
  // backward_weight_uw_x4: x as NC4HW4 vec4s, 4 slots (c4, ky, kx) = 16 rows per invocation.
  const x4 = uniformDy && s.c % 4 === 0 && opts.activations !== "nchw";
  const slotCount = s.c / 4 * s.kh * s.kw;
  // Workgroup size: for x4 8 unless 16 wastes fewer slots in the last tile (8 measured 1.05–1.1×
  // faster at equal waste: more workgroups per window dispatch); else 8 for a tiny receptive
  // field (the 1- or 3-channel stem: r = 9…147 would leave most of a 128-row tile idle; 8
  // invocations are one SIMD pass on lavapipe).
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
  if (uniformDy) {
    return { kind: "direct", dy: "uniform", activations: x4 ? "c4" : "nchw", workgroup: wg };
  }
  const tiles = Math.ceil(s.k / TILE_COLS) * Math.ceil(r / (wg * TILE_ROWS));
  const splits = opts.pixelSplits ?? chooseSplits(rt, s.n * oh, ow, tiles, wg, s.k * r);
  return { kind: "direct", dy: "storage", workgroup: wg, splits };
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
