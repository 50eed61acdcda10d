/**
 * Dropout in training: forward and backward are the same masked scale, with the mask drawn from
 * a hash of (step seed, element index) — see shaders/dropout.wgsl. The seed buffer is the
 * caller's; rewriting it each step (a queue write) changes the mask without re-planning.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Planned } from "../gpu/plan.ts";
import { mix32 } from "../util/hash.ts";

export { mix32 };

const WG = 64;

/** Whether element i survives, as the kernel decides it. */
export function dropoutKeeps(i: number, seed: number, salt: number, threshold: number): boolean {
  return mix32((i ^ mix32((seed + salt) >>> 0)) >>> 0) >= threshold;
}

/** The keep threshold for drop probability p: keep iff hash ≥ threshold. */
export function dropThreshold(p: number): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout probability must be in [0, 1), got ${p}`);
  return Math.min(0xffffffff, Math.round(p * 2 ** 32));
}

/** dst = src·mask/(1 − p): the forward (src = x) and the backward (src = dy) alike. */
export async function planDropout(
  rt: Runtime,
  n: number,
  p: number,
  salt: number,
  b: { seed: GPUBuffer; src: GPUBuffer; dst: GPUBuffer },
): Promise<Planned> {
  if (b.src === b.dst) throw new Error("dropout: input and output are one buffer");
  const k = await rt.kernel("dropout", "apply", { WG });
  const u = rt.uniform(packParams([n, dropThreshold(p), 1 / (1 - p), salt >>> 0], new Set([2])));
  return {
    steps: [dispatchStep(rt, k, [u, b.seed, b.src, b.dst], Math.ceil(n / WG))],
    scratch: [],
  };
}
