/**
 * Which kernel variants a runtime plans by default, per kind of adapter. The two kinds want
 * opposite things, measured (docs/journal/bench-history.md):
 * - `cpu`, a software adapter (Mesa's lavapipe/llvmpipe, SwiftShader): a few cores running
 *   8-wide SIMD. Small workgroups, one operand in 64 KiB uniform windows (branch-free gathers
 *   there) and dispatches of a handful of workgroups each are fastest; parallelism beyond the
 *   core count buys nothing.
 * - `gpu`, a hardware adapter: tens of thousands of lanes in 32-wide warps. A dispatch of 8
 *   sixteen-invocation workgroups leaves it idle (a ResNet-20 filter gradient ran at 20 GFLOP/s
 *   on an H100 that way); it wants whole warps, few large dispatches and long reductions split
 *   over many workgroups.
 */
import type { AdapterReport } from "./device.ts";

/** Which adapters' kernel variants: `cpu` (software adapters) or `gpu` (hardware). */
export type PolicyTarget = "cpu" | "gpu";

/** The kernel variants a runtime plans by default ({@link Runtime.policy}), per kind of adapter. */
export interface KernelPolicy {
  /** The kind of adapter these choices are for. */
  target: PolicyTarget;
  /**
   * Conv forward/backward-data weights: `auto` = uniform windows when they fit, and lanes over
   * channel tiles (packed weights as storage) for few pixels or reductions past a window.
   */
  convWeights: "auto" | "storage";
  /** Conv backward-weight dy: `auto` = uniform windows when an output row fits one. */
  convDy: "auto" | "storage";
  /** Default invocations per conv workgroup. */
  convWorkgroup: number;
  /**
   * Invocations a kernel's grid aims to keep busy (split reductions, GEMM rows per invocation,
   * dW workgroup size); 0 = size for a few SIMD cores instead (the lavapipe rules).
   */
  splitInvocations: number;
  /** Bytes a split reduction's partial sums may take. */
  splitScratchBytes: number;
  /**
   * Most splits: the reduce that sums them runs one invocation per output, serially over the
   * splits, so thousands of splits (one per row) would make it the slow part.
   */
  splitMax: number;
  /** Workgroups a per-channel reduction (batch norm) aims for, ≤ 64 per channel. */
  reductionGroups: number;
  /** GEMMs: the packed uniform-window kernel for long products, or always the one dispatch. */
  gemmPacked: boolean;
  /**
   * 3×3 stride-1 convolutions (all three directions) by Winograd F(m×m, 3×3) with this m, or
   * 0 for the direct kernels. Software adapters: 4 — their direct kernel is bound by operand
   * loads, and F(4,3) needs a quarter of the multiply-adds (experiments/probes/winograd.ts); with 4, outputs
   * under 3×3 take F(2,3), which needs fewer transformed products there. GPUs: direct until
   * measured there.
   */
  convWinograd: 0 | 2 | 4;
  /**
   * Convolutions by the workgroup-tiled implicit GEMM (src/ops/conv2d/tiled.ts) instead of the
   * direct kernels (a Winograd tile, where one applies, still wins). Software adapters: no —
   * their workgroup memory is emulated lane by lane. GPUs: not until measured there (the
   * autotuner and `tools/device/gpu_session.sh` time it).
   */
  convTiled: boolean;
  /**
   * Filter gradients with at most this many taps R = C·KH·KW run with invocations over rows of
   * the reduction instead of over taps (`ConvBackwardWeightOptions.lanes`): the 1- or 3-channel
   * stem (R = 9, 27), whose taps fill a fraction of a tap tile, up to 3×3 convolutions from 16
   * channels (R = 144). 0: never.
   */
  convDwRowLanesTaps: number;
  /**
   * …and with at most this many output channels: each split sweeps every 16-channel tile of
   * its rows, so at 512 channels (ResNet-50's 1×1 expands) rows lost 3.5× to taps.
   */
  convDwRowLanesChannels: number;
  /**
   * In training, a layer whose forward and filter gradient run the same Winograd tile keeps
   * the forward's input transform V of x for the filter gradient (which then neither packs nor
   * transforms x again, and x is freed once the forward no longer needs it) — ~2.25–2.9× x's
   * memory per such layer for 6–10 % more training images/s at batch 128 on lavapipe. GPUs: no
   * (they run the direct kernels).
   */
  winogradKeepInput: boolean;
  /**
   * A batch norm whose output only feeds a residual join relu(a + b) computes the join in its
   * normalize pass (src/scheduler/schedule.ts): the branch's normalized output is never stored
   * and read back, two of the five streams the two passes moved. Both kinds: fewer bytes.
   */
  fuseBatchNormJoin: boolean;
}

const POLICIES: Record<PolicyTarget, KernelPolicy> = {
  cpu: {
    target: "cpu",
    convWeights: "auto",
    convDy: "auto",
    convWorkgroup: 16,
    splitInvocations: 0,
    splitScratchBytes: 64 << 20,
    splitMax: 4096,
    // Measured (ResNet-20, per-dispatch GPU time of batch norm): 64 groups take ~20 % less than
    // 256 at batch 128 and 32 (each workgroup pays a serial merge of its lanes, and bwd_dx lanes
    // merge every partial of their channel); 16 tie with 64, 1,024 take 1.7×.
    reductionGroups: 64,
    gemmPacked: true,
    convWinograd: 4,
    convTiled: false,
    // Measured on lavapipe: rows win to R = 144 (3×3 from 16 channels: 1.4–1.5×), tie at 128
    // (1×1), lose from 256 (each 16-tap tile reloads dy).
    convDwRowLanesTaps: 144,
    // Measured on lavapipe (1×1, R = 64–128, batch 16): rows tie at 64 channels, lose 1.15× at
    // 256 and 3.5× at 512; ResNet-20's 16- and 32-channel layers keep them (1.3–2×).
    convDwRowLanesChannels: 64,
    winogradKeepInput: true,
    fuseBatchNormJoin: true,
  },
  gpu: {
    target: "gpu",
    convWeights: "storage",
    convDy: "storage",
    convWorkgroup: 64,
    // An H100 keeps 132 × 2048 invocations resident; half of that hides memory latency.
    splitInvocations: 1 << 17,
    splitScratchBytes: 64 << 20,
    splitMax: 256,
    reductionGroups: 1024,
    gemmPacked: false,
    convWinograd: 0,
    convTiled: false,
    convDwRowLanesTaps: 0,
    convDwRowLanesChannels: 0,
    winogradKeepInput: false,
    fuseBatchNormJoin: true,
  },
};

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|warp/i;

/**
 * `cpu` for a software adapter (reported as a fallback, or named like one), else `gpu`.
 * `override` forces one (Deno programs: the RESGPU_KERNELS environment variable, through
 * `runtimeOptionsFromEnv` in files.ts).
 */
export function kernelPolicy(report: AdapterReport, override?: PolicyTarget): KernelPolicy {
  if (override) return POLICIES[override];
  const software = report.isFallbackAdapter || SOFTWARE.test(report.description);
  return POLICIES[software ? "cpu" : "gpu"];
}
