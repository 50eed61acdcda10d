/**
 * 2-D convolution (NCHW activations, OIHW weights, f32) in three directions — forward,
 * backward-data, filter gradient — each planned as whichever kernels select.ts picks: Winograd
 * F(m×m, 3×3) (winograd.ts), the workgroup-tiled implicit GEMM (tiled.ts) or the direct
 * register-tiled kernels (forward.ts, backward_data.ts, backward_weight.ts). What callers use.
 */
export type { Conv2dShape } from "../../shapes.ts";
export type {
  ConvBackwardDataOptions,
  ConvBackwardWeightOptions,
  ConvForwardOptions,
} from "./options.ts";
export { planConv2dForward } from "./forward.ts";
export { planConv2dBackwardData } from "./backward_data.ts";
export { planConv2dBackwardWeight } from "./backward_weight.ts";
export { plannedWinogradTile } from "./select.ts";
export { type PlannedFilterGradient, winogradInputBytes, type WinogradTile } from "./winograd.ts";
export {
  type ConvDirection,
  type ConvOptionsOf,
  planTuningCandidate,
  tunedConvOptions,
} from "./tune.ts";
