/**
 * How many ways a convolution splits its reduction into partial outputs (summed afterwards by
 * conv2d_reduce.wgsl), shared by the direct kernels (split over channels) and the tiled ones
 * (split over 16-long reduction steps), and the planning of a split filter gradient's sum.
 */
import type { Runtime } from "../../gpu/runtime.ts";
import { dispatchStep, packParams, type Step } from "../../gpu/plan.ts";

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

/**
 * Plans a kernel writing `slices` partial sums of `count` floats each and their sum into `dst`
 * in slice order (conv2d_reduce.wgsl `sum_splits`, deterministic); with one slice the kernel
 * writes `dst` itself. `run` appends the kernel's dispatches, given the buffer they write; the
 * partials are a pool buffer added to `scratch` (labelled `label`).
 */
export async function planSliceSum(
  rt: Runtime,
  slices: number,
  count: number,
  dst: GPUBuffer,
  label: string,
  steps: Step[],
  scratch: GPUBuffer[],
  run: (out: GPUBuffer) => void,
): Promise<void> {
  if (slices === 1) return run(dst);
  const part = rt.pool.acquire(slices * count * 4, label);
  scratch.push(part);
  run(part);
  const red = await rt.kernel("conv2d_reduce", "sum_splits", { WG: 64 });
  const rp = rt.uniform(packParams([count, slices, 0, 0]));
  steps.push(dispatchStep(rt, red, [rp, part, dst], Math.ceil(count / 64)));
}
