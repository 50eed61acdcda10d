/**
 * What a caller (a test, a benchmark, the autotuner) may ask of each convolution direction's
 * planner. Every option is optional: left out, the runtime's kernel policy decides (select.ts).
 * Each direction has its own interface, since the same word would mean different things: the
 * forward and backward-data split their reduction over channels, the filter gradient over pixels.
 */
import type { WinogradTile } from "../../shapes.ts";

/** Options all three directions take. */
interface ConvCommonOptions {
  /** Invocations per workgroup (power of two); the planner's default suits the policy. */
  workgroup?: number;
  /**
   * How the uniform-window kernels read the activation operand (x for forward and
   * backward-weight, dy for backward-data): `c4` repacks it (one extra dispatch) as NC4HW4 so
   * every load is a vec4 and runs the 16-row-per-invocation kernels, 1.2–1.6× faster on
   * lavapipe; `nchw` reads it in place. Default: `c4` when its channels are a multiple of 4.
   * The Winograd input transform follows the same choice.
   */
  activations?: "c4" | "nchw";
  /**
   * 3×3 stride-1 convolutions: compute by Winograd F(m×m, 3×3) (m = 2 or 4; winograd.ts)
   * instead of the direct kernels, or 0 for direct. Default: the kernel policy's tile where the
   * shape allows it (lavapipe: 4) and no option names a direct-kernel variant, else direct. An
   * explicit tile the shape does not allow is an error.
   */
  winograd?: 0 | WinogradTile;
  /**
   * Run the workgroup-tiled implicit GEMM (tiled.ts) instead of the direct kernels, with the
   * direction's splits (if given) as its reduction splits. Default: the kernel policy's
   * `convTiled` where no option names a direct-kernel variant; a Winograd tile (explicit, or the
   * policy's where it applies) wins.
   */
  tiled?: boolean;
}

export interface ConvForwardOptions extends ConvCommonOptions {
  /**
   * Where the kernels read weights: `uniform` packs them (one extra dispatch) into 64 KiB
   * uniform windows, ~1.5–2× faster on lavapipe, whose uniform loads are branch-free gathers;
   * `storage` reads the OIHW buffer directly. Default: `uniform` when a 16-channel tile's
   * reduction fits a window (KH·KW·C ≤ 1024), else `storage` — unless the software policy plans
   * lanes over channel tiles (`channelLanes`) instead. Naming it asks for the direct kernels.
   */
  weights?: "uniform" | "storage";
  /**
   * Split the reduction over input channels into this many partial outputs summed by a reduce
   * (storage weights only; the tiled kernel splits its C·KH·KW reduction in 16-long steps).
   * Default: on a GPU, enough splits that a layer with few pixels still reaches the policy's
   * invocation target; else 1. Naming it without `tiled` asks for the direct kernels.
   */
  channelSplits?: number;
  /**
   * Invocations over 16-channel tiles, 16 consecutive pixels each, the weights packed back to
   * back and read as storage, one dispatch per layer — for layers with few pixels, where the
   * window kernels' lanes (16 pixels WG apart) compute mostly clamped copies, and for reductions
   * too long for a uniform window. Needs C in fours. Default: on software adapters, up to 16·WG
   * output pixels or past 1,024 reduction rows, unless an option names another variant.
   */
  channelLanes?: boolean;
}

export interface ConvBackwardDataOptions extends ConvCommonOptions {
  /**
   * Where the kernels read weights (transposed): `uniform` windows or the `storage` OIHW
   * buffer, as for the forward; the default likewise, with the reduction KH·KW·K.
   */
  weights?: "uniform" | "storage";
  /**
   * Split the reduction over output channels into this many partial dx slices summed by a
   * reduce (storage weights only; the tiled kernel, stride 1 only, splits its K·KH·KW reduction
   * in 16-long steps). Default as the forward's `channelSplits`.
   */
  channelSplits?: number;
  /**
   * Invocations over 16-channel tiles of dx as the forward's `channelLanes`, one dispatch per
   * stride phase; needs K in fours. Default: on software adapters, up to 16·WG pixels a phase or
   * past 1,024 reduction rows, unless an option names another variant.
   */
  channelLanes?: boolean;
}

export interface ConvBackwardWeightOptions extends ConvCommonOptions {
  /**
   * Split the batch×spatial reduction (the N·OH·OW output pixels; whole (n, oy) rows for the
   * direct kernels) into this many partial dW slices summed by a reduce. Default: enough
   * workgroups to fill the device. Applies to storage dy, the `rows` lanes and the tiled kernel;
   * naming it without `tiled` asks for the direct kernels.
   */
  pixelSplits?: number;
  /**
   * Where the kernel reads dy: `uniform` packs it (one extra dispatch) into 64 KiB windows of
   * 1024 output pixels × 16 channels and runs one dispatch per window, ~2× faster on lavapipe;
   * `storage` reads NCHW dy directly with `pixelSplits` workgroup splits. Default: `uniform`
   * when an output row fits a window (OW ≤ 1024).
   */
  dy?: "uniform" | "storage";
  /**
   * What the direct kernel spreads over invocations: `taps` (each invocation 8 or 16 taps r of
   * R = C·KH·KW × 16 channels, over a split of the rows) or `rows` (each invocation its own split
   * of the N·OH rows with all of a ≤ 16-tap tile × 16 channels, summed afterwards; dy read from
   * storage). `rows` is for a small receptive field — the 1- or 3-channel stem, where a `taps`
   * tile computes mostly padding; on lavapipe it also wins up to R = 144. Default: `rows` when R
   * is at most the kernel policy's `convDwRowLanesTaps`, K at most its `convDwRowLanesChannels`,
   * and no other direct-kernel option is given.
   */
  lanes?: "taps" | "rows";
}
