/**
 * The convolution variants the runtime's autotuner (src/gpu/tuner.ts) times per direction and
 * shape, and the plan it times for each; the chosen candidate's options then go to the planner.
 */
import type { Runtime } from "../../gpu/runtime.ts";
import type { Conv2dShape } from "../../shapes.ts";
import type { Planned } from "../../gpu/plan.ts";
import type { Candidate } from "../../gpu/tuner.ts";
import type {
  ConvBackwardDataOptions,
  ConvBackwardWeightOptions,
  ConvForwardOptions,
} from "./options.ts";
import { checkShape, transposedShape } from "./common.ts";
import { tiledTransposes, tiledUnsupported } from "./tiled.ts";
import { winogradInputBytes, winogradUnsupported } from "./winograd.ts";
import { planConv2dForward } from "./forward.ts";
import { planConv2dBackwardData } from "./backward_data.ts";
import { planConv2dBackwardWeight } from "./backward_weight.ts";

export type ConvDirection = "forward" | "backward_data" | "backward_weight";

/** Each direction's options. */
export interface ConvOptionsOf {
  forward: ConvForwardOptions;
  backward_data: ConvBackwardDataOptions;
  backward_weight: ConvBackwardWeightOptions;
}

/**
 * The variant the runtime's tuner picked for one direction at one shape, or `{}` (the kernel
 * policy's defaults) when tuning is off. Candidates: weights in uniform windows or storage ×
 * 16- or 64-invocation workgroups, lanes over channel tiles (16 or 64 a workgroup); for the
 * filter gradient, dy in uniform windows or storage (split as the policy says, or 32/128/512
 * ways) and storage with 64-invocation workgroups;
 * Winograd tiles where the shape allows them; on a GPU policy also the workgroup-tiled kernel.
 */
export async function tunedConvOptions<D extends ConvDirection>(
  rt: Runtime,
  dir: D,
  s: Conv2dShape,
): Promise<ConvOptionsOf[D]> {
  const tuner = rt.tuner;
  if (!tuner) return {} as ConvOptionsOf[D];
  const { oh, ow } = checkShape(s);
  const candidates =
    (dir === "backward_weight"
      ? backwardWeightCandidates(rt, s, oh)
      : channelReductionCandidates(rt, dir, s)) as Candidate<ConvOptionsOf[D]>[];
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

/** The forward's and backward-data's candidates (both reduce over channels). */
function channelReductionCandidates(
  rt: Runtime,
  dir: "forward" | "backward_data",
  s: Conv2dShape,
): Candidate<ConvForwardOptions & ConvBackwardDataOptions>[] {
  return [
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
        opts: {
          weights: "storage" as const,
          workgroup: 64,
          channelSplits: 1,
          winograd: 0 as const,
        },
      }]
      : []),
  ];
}

/** The filter gradient's candidates; `oh` bounds the split counts offered (one row each). */
function backwardWeightCandidates(
  rt: Runtime,
  s: Conv2dShape,
  oh: number,
): Candidate<ConvBackwardWeightOptions>[] {
  return [
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
      .map((pixelSplits) => ({
        name: `storage-dy/s${pixelSplits}`,
        opts: { dy: "storage" as const, pixelSplits, winograd: 0 as const },
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
  ];
}

/**
 * The plan the tuner times for one candidate of `dir` at `s`, on x, w and y of the shape's sizes,
 * as a training step would run it: a Winograd filter gradient under a policy that keeps the
 * forward's input transform starts from a kept V (taken from the pool into `io.taken`), not from
 * x — what it runs whenever the forward picks the same tile (a layer whose forward the tuner puts
 * on other kernels recomputes V, so there the timing is optimistic).
 */
export function planTuningCandidate<D extends ConvDirection>(
  rt: Runtime,
  dir: D,
  s: Conv2dShape,
  io: { x: GPUBuffer; w: GPUBuffer; y: GPUBuffer; taken: GPUBuffer[] },
  o: ConvOptionsOf[D],
): Promise<Planned> {
  const { x, w, y } = io;
  if (dir === "forward") return planConv2dForward(rt, s, { x, w, y }, o as ConvForwardOptions);
  if (dir === "backward_data") {
    const opts = o as ConvBackwardDataOptions;
    return planConv2dBackwardData(rt, s, { dy: y, w, dx: x }, { accumulate: false }, opts);
  }
  const opts = o as ConvBackwardWeightOptions;
  const m = opts.winograd ?? 0;
  if (m && rt.policy.winogradKeepInput) {
    const v = rt.pool.acquire(winogradInputBytes(s, m), "conv2d.tune_kept_v");
    io.taken.push(v);
    return planConv2dBackwardWeight(rt, s, { x: null, dy: y, dw: w, winogradV: v }, opts);
  }
  return planConv2dBackwardWeight(rt, s, { x, dy: y, dw: w }, opts);
}
