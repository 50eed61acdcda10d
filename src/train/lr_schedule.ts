/**
 * Learning-rate schedules as pure functions of the 0-based optimizer step, so a resumed run gets
 * exactly the rate an uninterrupted one would have had, with no schedule state in checkpoints.
 * The rate returned for step s is the one used by the update at step s.
 */

export type ScheduleKind = "step" | "cosine" | "constant";

/**
 * Step decay: × gamma at each milestone, given in epochs (fractions allowed: the paper's 32k of
 * 64k iterations is not a whole epoch at 391 steps/epoch). By default the milestones sit at 50%
 * and 75% of the run, the paper's 32k/48k of 64k.
 */
export function stepFactor(
  step: number,
  stepsPerEpoch: number,
  totalSteps: number,
  milestones?: readonly number[],
  gamma = 0.1,
): number {
  const at = milestoneSteps(stepsPerEpoch, totalSteps, milestones);
  let passed = 0;
  for (const m of at) if (step >= m) passed++;
  return gamma ** passed;
}

/** Milestones as step indices: the first step that runs at the decayed rate. */
export function milestoneSteps(
  stepsPerEpoch: number,
  totalSteps: number,
  milestones?: readonly number[],
): number[] {
  if (milestones === undefined) {
    return [Math.round(totalSteps * 0.5), Math.round(totalSteps * 0.75)];
  }
  return milestones.map((e) => Math.round(e * stepsPerEpoch));
}

/** Half-cosine from 1 at `start` to exactly 0 at `totalSteps` (and after). */
export function cosineFactor(step: number, totalSteps: number, start = 0): number {
  if (step <= start) return 1;
  if (step >= totalSteps) return 0;
  return 0.5 * (1 + Math.cos(Math.PI * (step - start) / (totalSteps - start)));
}

/**
 * Linear warmup multiplier: `from` at step 0, 1 at step `warmupSteps` and after. Deep plain nets
 * (and ResNet-110, per the paper) diverge if they start at the full rate.
 */
export function warmupFactor(step: number, warmupSteps: number, from = 0.1): number {
  if (warmupSteps <= 0 || step >= warmupSteps) return 1;
  return from + (1 - from) * (step / warmupSteps);
}

export interface ScheduleOptions {
  kind: ScheduleKind;
  /** Base (peak) learning rate. */
  lr: number;
  totalSteps: number;
  stepsPerEpoch: number;
  /** Linear warmup length in steps; 0 disables it. */
  warmupSteps?: number;
  /** Warmup start as a fraction of lr: 0.1 (default) or 0. */
  warmupFrom?: number;
  /** Step-decay milestones in epochs, ascending; default 50% and 75% of the run. */
  milestones?: readonly number[];
  /** Step-decay factor per milestone; default 0.1. */
  gamma?: number;
}

export function makeSchedule(opts: ScheduleOptions): (step: number) => number {
  const { kind, lr, totalSteps, stepsPerEpoch } = opts;
  const warmupSteps = opts.warmupSteps ?? 0;
  const from = opts.warmupFrom ?? 0.1;
  const gamma = opts.gamma ?? 0.1;
  const fail = (msg: string): never => {
    throw new RangeError(`lr schedule: ${msg}`);
  };
  if (!(Number.isFinite(lr) && lr >= 0)) fail(`lr must be a finite number >= 0, got ${lr}`);
  if (!(Number.isInteger(totalSteps) && totalSteps > 0)) {
    fail(`totalSteps must be a positive integer, got ${totalSteps}`);
  }
  if (!(Number.isInteger(stepsPerEpoch) && stepsPerEpoch > 0)) {
    fail(`stepsPerEpoch must be a positive integer, got ${stepsPerEpoch}`);
  }
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0 && warmupSteps < totalSteps)) {
    fail(`warmupSteps must be an integer in [0, totalSteps), got ${warmupSteps}`);
  }
  if (!(from >= 0 && from <= 1)) fail(`warmupFrom must be in [0, 1], got ${from}`);
  if (!(gamma > 0 && gamma <= 1)) fail(`gamma must be in (0, 1], got ${gamma}`);
  const ms = opts.milestones;
  if (ms !== undefined) {
    // Unsorted milestones are almost always a typo; silently sorting would hide it.
    for (let i = 0; i < ms.length; i++) {
      if (!(Number.isFinite(ms[i]) && ms[i] > 0)) fail(`milestone ${ms[i]} must be > 0 epochs`);
      if (i > 0 && ms[i] <= ms[i - 1]) fail(`milestones must be ascending, got [${ms.join(", ")}]`);
    }
  }
  if (kind !== "step" && kind !== "cosine" && kind !== "constant") fail(`unknown kind "${kind}"`);

  return (step: number) => {
    if (!(Number.isInteger(step) && step >= 0)) fail(`step must be an integer >= 0, got ${step}`);
    const w = warmupFactor(step, warmupSteps, from);
    switch (kind) {
      case "constant":
        return lr * w;
      case "step":
        return lr * w * stepFactor(step, stepsPerEpoch, totalSteps, ms, gamma);
      case "cosine":
        // Cosine starts after warmup so warmup ends exactly at lr and the run ends exactly at 0.
        return lr * w * cosineFactor(step, totalSteps, warmupSteps);
    }
  };
}
