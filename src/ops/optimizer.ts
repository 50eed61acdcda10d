/**
 * Optimizer updates on the GPU (shaders/optimizer.wgsl), one dispatch per parameter tensor.
 *
 * Learning rate and step count change every step, so they live in a small uniform buffer the
 * returned handle rewrites with `queue.writeBuffer` ({@link OptimizerPlan.setLearningRate},
 * {@link OptimizerPlan.setStep}); nothing is re-planned. A queue write lands before the next
 * submit, so call them before submitting the step they are for, and submit each step separately
 * (two steps recorded into one submit would both see the later values).
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Planned } from "../gpu/plan.ts";
import { createGuardFlag } from "./guard.ts";

export interface OptimBuffers {
  params: readonly GPUBuffer[];
  grads: readonly GPUBuffer[];
  /** [scale, …] f32 from {@link planClipGradNorm}: gradients are multiplied by scale. */
  clipScale?: GPUBuffer;
  /**
   * The step's non-finite flag (src/ops/guard.ts): nothing is updated while it is set, and an
   * update that would not be finite sets it (GUARD_BITS.update) instead of being written.
   * Omitted: a private flag that only the updates themselves can set.
   */
  guard?: GPUBuffer;
}

/** Penalties of one tensor (e.g. none for biases and BN); defaults come from the options. */
export interface TensorPenalty {
  weightDecay?: number;
  l1?: number;
}

export interface OptimizerPlan extends Planned {
  /** The uniform buffer of step-varying hyperparameters (48 bytes). */
  hyper: GPUBuffer;
  /** Per tensor: SGD [momentum buffer] (none without momentum), AdamW [exp_avg, exp_avg_sq]. */
  state: GPUBuffer[][];
  readonly lr: number;
  readonly step: number;
  setLearningRate(lr: number): void;
  /** The 1-based step about to run (torch's state["step"] after its increment). */
  setStep(t: number): void;
  /** Both, in one queue write (each write costs Deno native memory it never returns). */
  setStepAndRate(t: number, lr: number): void;
  /** Destroys the hyperparameter buffer (state buffers are in `scratch`). */
  dispose(): void;
}

export interface SgdGpuOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** Coupled (L2, torch's) unless `decoupledWeightDecay`: then p ·= 1 − lr·wd first. */
  weightDecay?: number;
  decoupledWeightDecay?: boolean;
  /** L1 penalty: adds l1·sign(p) to the gradient. */
  l1?: number;
  perTensor?: readonly TensorPenalty[];
}

export interface AdamWGpuOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled, default 1e-2 as torch.optim.AdamW. */
  weightDecay?: number;
  /** Coupled L2 added to the gradient (Adam-style), default 0. */
  l2?: number;
  l1?: number;
  perTensor?: readonly (TensorPenalty & { l2?: number })[];
}

interface RuleConfig {
  entry: "sgd" | "sgd_plain" | "adamw";
  stateBuffers: number;
  /** Hyper words for (lr, t). */
  hyper(lr: number, t: number): ArrayBuffer;
  penalty(i: number): { coupled: number; decoupled: number; l1: number };
}

async function planRule(
  rt: Runtime,
  sizes: readonly number[],
  buf: OptimBuffers,
  cfg: RuleConfig,
  lr0: number,
): Promise<OptimizerPlan> {
  if (sizes.length !== buf.params.length || sizes.length !== buf.grads.length) {
    throw new RangeError(`optimizer: ${sizes.length} sizes, ${buf.params.length} params`);
  }
  const kernel = await rt.kernel("optimizer", cfg.entry);
  // Tensors of whole vec4s update 4 elements per invocation (see optimizer.wgsl).
  const kernel4 = await rt.kernel("optimizer", `${cfg.entry}_v4`);
  const hyper = rt.device.createBuffer({
    size: 48,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    label: `${cfg.entry} hyperparameters`,
  });
  const scratch: GPUBuffer[] = [];
  let clip = buf.clipScale;
  if (!clip) {
    clip = rt.pool.acquire(4, "clip = 1");
    rt.device.queue.writeBuffer(clip, 0, new Float32Array([1]));
    scratch.push(clip);
  }
  let guard = buf.guard;
  if (!guard) {
    guard = createGuardFlag(rt, "optimizer guard");
    scratch.push(guard);
  }
  const state: GPUBuffer[][] = [];
  const steps = sizes.map((n, i) => {
    const st = Array.from({ length: cfg.stateBuffers }, () => {
      const b = rt.pool.acquire(n * 4, `${cfg.entry} state`);
      // Adam's moments start at zero; SGD's first step overwrites its buffer without reading it.
      rt.commands().clearBuffer(b);
      scratch.push(b);
      return b;
    });
    state.push(st);
    const pen = cfg.penalty(i);
    const lanes = n % 4 === 0 ? n / 4 : n;
    const t = rt.uniform(
      packParams([lanes, pen.coupled, pen.decoupled, pen.l1], new Set([1, 2, 3])),
    );
    // Binding 7 is the guard; entries with fewer state buffers do not declare 5 or 6.
    const states = [st[0] ?? null, st[1] ?? null];
    return dispatchStep(
      rt,
      n % 4 === 0 ? kernel4 : kernel,
      [hyper, t, clip, buf.params[i], buf.grads[i], ...states, guard],
      Math.ceil(lanes / 256),
    );
  });
  let lr = lr0, step = 1;
  const write = () => rt.device.queue.writeBuffer(hyper, 0, cfg.hyper(lr, step));
  write();
  return {
    steps,
    scratch,
    hyper,
    state,
    get lr() {
      return lr;
    },
    get step() {
      return step;
    },
    setLearningRate(v: number) {
      lr = v;
      write();
    },
    setStep(t: number) {
      if (!Number.isInteger(t) || t < 1) throw new RangeError(`optimizer step ${t} (1-based)`);
      step = t;
      write();
    },
    setStepAndRate(t: number, v: number) {
      if (!Number.isInteger(t) || t < 1) throw new RangeError(`optimizer step ${t} (1-based)`);
      if (t === step && v === lr) return;
      step = t;
      lr = v;
      write();
    },
    dispose: () => hyper.destroy(),
  };
}

function hyperWords(v: {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  first?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
  stepSize?: number;
  bc2Sqrt?: number;
}): ArrayBuffer {
  const b = new ArrayBuffer(48);
  const f = new Float32Array(b);
  const u = new Uint32Array(b);
  f.set([v.lr, v.momentum ?? 0, v.dampening ?? 0]);
  u[3] = v.nesterov ? 1 : 0;
  u[4] = v.first ? 1 : 0;
  f.set([v.beta1 ?? 0, v.beta2 ?? 0, v.eps ?? 0, v.stepSize ?? 0, v.bc2Sqrt ?? 0], 5);
  return b;
}

/** torch.optim.SGD (momentum, dampening, Nesterov, coupled decay), or decoupled decay, + L1. */
export function planSgd(
  rt: Runtime,
  sizes: readonly number[],
  buf: OptimBuffers,
  opts: SgdGpuOptions,
): Promise<OptimizerPlan> {
  const mu = opts.momentum ?? 0;
  if (opts.nesterov && (mu <= 0 || (opts.dampening ?? 0) !== 0)) {
    throw new RangeError("Nesterov momentum requires a momentum and zero dampening (as torch)");
  }
  return planRule(rt, sizes, buf, {
    entry: mu !== 0 ? "sgd" : "sgd_plain",
    stateBuffers: mu !== 0 ? 1 : 0,
    hyper: (lr, t) =>
      hyperWords({
        lr,
        momentum: mu,
        dampening: opts.dampening,
        nesterov: opts.nesterov,
        first: t === 1,
      }),
    penalty(i) {
      const wd = opts.perTensor?.[i]?.weightDecay ?? opts.weightDecay ?? 0;
      const l1 = opts.perTensor?.[i]?.l1 ?? opts.l1 ?? 0;
      return opts.decoupledWeightDecay
        ? { coupled: 0, decoupled: wd, l1 }
        : { coupled: wd, decoupled: 0, l1 };
    },
  }, opts.lr);
}

/** torch.optim.AdamW (amsgrad off): decoupled decay, bias-corrected moments. */
export function planAdamW(
  rt: Runtime,
  sizes: readonly number[],
  buf: OptimBuffers,
  opts: AdamWGpuOptions = {},
): Promise<OptimizerPlan> {
  const b1 = opts.beta1 ?? 0.9, b2 = opts.beta2 ?? 0.999;
  return planRule(rt, sizes, buf, {
    entry: "adamw",
    stateBuffers: 2,
    // Bias corrections in f64 here: 1 − β2ᵗ loses most of its digits in f32 for small t.
    hyper: (lr, t) =>
      hyperWords({
        lr,
        beta1: b1,
        beta2: b2,
        eps: opts.eps ?? 1e-8,
        stepSize: lr / (1 - b1 ** t),
        bc2Sqrt: Math.sqrt(1 - b2 ** t),
      }),
    penalty(i) {
      const p = opts.perTensor?.[i];
      return {
        coupled: p?.l2 ?? opts.l2 ?? 0,
        decoupled: p?.weightDecay ?? opts.weightDecay ?? 1e-2,
        l1: p?.l1 ?? opts.l1 ?? 0,
      };
    },
  }, opts.lr ?? 1e-3);
}
