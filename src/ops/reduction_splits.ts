/**
 * How many ways a convolution splits its reduction into partial outputs (summed afterwards by
 * conv2d_reduce.wgsl), shared by the direct kernels (split over channels) and the tiled ones
 * (split over 16-long reduction steps).
 */
import type { Runtime } from "../gpu/runtime.ts";

/**
 * Splits of a reduction of `units` indivisible pieces (channels, or the tiled kernel's steps):
 * explicit (at most one piece per split), or on a GPU (a policy with an invocation target)
 * enough to bring `invocations` up to a quarter of the target — layers with a few hundred output
 * pixels (ResNet-50's layer4 at 64×64 input: 64) otherwise run a few hundred invocations each
 * walking thousands of reduction steps — keeping ≥ `minUnits` per split, under the policy's
 * split cap and with `bytesPerSplit` of partial sums each within its scratch budget.
 */
export function reductionSplits(
  rt: Runtime,
  units: number,
  minUnits: number,
  invocations: number,
  bytesPerSplit: number,
  explicit?: number,
): number {
  if (explicit !== undefined) return Math.max(1, Math.min(explicit, units));
  const target = rt.policy.splitInvocations / 4;
  if (target <= 0 || invocations >= target) return 1;
  return Math.max(
    1,
    Math.min(
      Math.ceil(target / invocations),
      Math.floor(units / minUnits),
      rt.policy.splitMax,
      Math.floor(rt.policy.splitScratchBytes / bytesPerSplit),
    ),
  );
}
