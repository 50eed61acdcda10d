/**
 * Optimizer steps mirroring torch.optim. Each step updates `param` and its `state` in place, so a
 * test can run several steps by calling it repeatedly with the same objects.
 */

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export interface SgdState {
  /** Null until the first step, which sets it to the gradient itself (no dampening). */
  momentumBuffer: Float64Array | null;
}

export function sgdInitState(): SgdState {
  return { momentumBuffer: null };
}

/**
 * torch.optim.SGD: d = g + wd·p (coupled decay); buf = d on the first step, else
 * buf = μ·buf + (1 − dampening)·d; d = nesterov ? d + μ·buf : buf; p −= lr·d.
 */
export function sgdStep(
  param: Float64Array,
  grad: ArrayLike<number>,
  state: SgdState,
  opts: SgdOptions,
): void {
  const mu = opts.momentum ?? 0;
  const damp = opts.dampening ?? 0;
  const wd = opts.weightDecay ?? 0;
  const nesterov = opts.nesterov ?? false;
  const d = new Float64Array(param.length);
  for (let i = 0; i < d.length; i++) d[i] = grad[i] + wd * param[i];
  if (mu !== 0) {
    if (state.momentumBuffer === null) {
      state.momentumBuffer = Float64Array.from(d);
    } else {
      const buf = state.momentumBuffer;
      for (let i = 0; i < d.length; i++) buf[i] = mu * buf[i] + (1 - damp) * d[i];
    }
    const buf = state.momentumBuffer;
    for (let i = 0; i < d.length; i++) d[i] = nesterov ? d[i] + mu * buf[i] : buf[i];
  }
  for (let i = 0; i < d.length; i++) param[i] -= opts.lr * d[i];
}

/**
 * Decoupled-weight-decay SGD (not a torch.optim class): first p −= lr·wd·p, then a plain
 * {@link sgdStep} with weight decay 0, so the decay never enters the momentum buffer.
 */
export function sgdDecoupledStep(
  param: Float64Array,
  grad: ArrayLike<number>,
  state: SgdState,
  opts: SgdOptions,
): void {
  const shrink = 1 - opts.lr * (opts.weightDecay ?? 0);
  for (let i = 0; i < param.length; i++) param[i] *= shrink;
  sgdStep(param, grad, state, { ...opts, weightDecay: 0 });
}

export interface AdamWOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Default 1e-2 (torch.optim.AdamW's default). */
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  expAvg: Float64Array;
  expAvgSq: Float64Array;
}

export function adamWInitState(size: number): AdamWState {
  return { step: 0, expAvg: new Float64Array(size), expAvgSq: new Float64Array(size) };
}

/**
 * torch.optim.AdamW (amsgrad=False): p ·= 1 − lr·wd; m, v updated; then
 * p −= (lr / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + eps).
 */
export function adamWStep(
  param: Float64Array,
  grad: ArrayLike<number>,
  state: AdamWState,
  opts: AdamWOptions = {},
): void {
  const lr = opts.lr ?? 1e-3;
  const b1 = opts.beta1 ?? 0.9;
  const b2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 1e-2;
  state.step++;
  const stepSize = lr / (1 - b1 ** state.step);
  const bc2Sqrt = Math.sqrt(1 - b2 ** state.step);
  for (let i = 0; i < param.length; i++) {
    param[i] *= 1 - lr * wd;
    const g = grad[i];
    state.expAvg[i] = b1 * state.expAvg[i] + (1 - b1) * g;
    state.expAvgSq[i] = b2 * state.expAvgSq[i] + (1 - b2) * g * g;
    const denom = Math.sqrt(state.expAvgSq[i]) / bc2Sqrt + eps;
    param[i] -= (stepSize * state.expAvg[i]) / denom;
  }
}
