/**
 * The training step's non-finite guard (shaders/guard.wgsl), planned as steps with no readback:
 * checks raise bits in a one-word flag when a tensor holds NaN or ±Inf, the optimizer
 * (shaders/optimizer.wgsl) writes nothing while the flag is set, and a finishing step counts the
 * skipped step in the loss metrics (src/ops/loss.ts), which the trainer reads every N steps.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, elementwiseGrid, itemKernel, type Step } from "../gpu/plan.ts";

/** What a skipped step's flag bits name (ORed over a window in the metrics). */
export const GUARD_BITS = { input: 1, loss: 2, gradients: 4, update: 8 } as const;

/** A reason a step was skipped. */
export type NonFiniteReason = keyof typeof GUARD_BITS;

/** The reasons named by `bits`. */
export function guardReasons(bits: number): NonFiniteReason[] {
  return (Object.keys(GUARD_BITS) as NonFiniteReason[]).filter((k) => bits & GUARD_BITS[k]);
}

const WG = 256;

/** A one-word flag buffer, zeroed. */
export function createGuardFlag(rt: Runtime, label = "guard flag"): GPUBuffer {
  const flag = rt.pool.acquire(4, label);
  rt.commands().clearBuffer(flag, 0, 4);
  return flag;
}

/** One dispatch per tensor: `flag |= bit` where any of its `n` f32 values is not finite. */
export async function planNonFiniteCheck(
  rt: Runtime,
  tensors: readonly (readonly [GPUBuffer, number])[],
  flag: GPUBuffer,
  bit: number,
): Promise<Step[]> {
  const steps: Step[] = [];
  for (const [buffer, n] of tensors) {
    if (n === 0) continue;
    const { groups, width } = elementwiseGrid(rt, n, WG, "non-finite check");
    const k = await itemKernel(rt, "guard", width, "flag_nonfinite");
    const u = rt.uniform(new Uint32Array([n / width, bit]));
    steps.push(dispatchStep(rt, k, [u, buffer, flag], groups));
  }
  return steps;
}

/** Counts a flagged step in `metrics` (words 6–8, see shaders/guard.wgsl) and clears the flag. */
export async function planGuardFinish(
  rt: Runtime,
  flag: GPUBuffer,
  metrics: GPUBuffer,
): Promise<Step> {
  const k = await rt.kernel("guard", "guard_finish");
  return dispatchStep(rt, k, [null, flag, metrics], 1);
}
