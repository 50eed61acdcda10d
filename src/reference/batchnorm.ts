/**
 * BatchNorm2d reference with PyTorch semantics: training normalizes with the batch mean and the
 * biased variance, but folds the UNBIASED variance (·m/(m−1), m = N·H·W) into the running
 * estimate; running = (1 − momentum)·running + momentum·batch.
 */

export interface BatchNormShape {
  n: number;
  c: number;
  h: number;
  w: number;
}

export interface BatchNormRunning {
  mean: Float64Array;
  var: Float64Array;
}

export interface BatchNormOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Default 0.1. */
  momentum?: number;
}

/** Running stats as PyTorch initializes them: mean 0, var 1. */
export function batchNormInitRunning(c: number): BatchNormRunning {
  return { mean: new Float64Array(c), var: new Float64Array(c).fill(1) };
}

/**
 * Training-mode forward. `running`, when given, is updated in place (as the module's buffers
 * are); `mean` and `invstd` = 1/sqrt(biased var + eps) are what the backward pass needs.
 */
export function batchNormTrainForward(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  running: BatchNormRunning | null,
  s: BatchNormShape,
  opts: BatchNormOptions = {},
): { y: Float64Array; mean: Float64Array; invstd: Float64Array } {
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  const hw = s.h * s.w;
  const m = s.n * hw;
  const mean = new Float64Array(s.c);
  const invstd = new Float64Array(s.c);
  const y = new Float64Array(s.n * s.c * hw);
  for (let c = 0; c < s.c; c++) {
    let sum = 0;
    forChannel(s, c, (i) => sum += x[i]);
    const mu = sum / m;
    // Two-pass variance: exact enough in f64 and free of E[x²]−E[x]² cancellation.
    let sq = 0;
    forChannel(s, c, (i) => sq += (x[i] - mu) ** 2);
    const biasedVar = sq / m;
    mean[c] = mu;
    invstd[c] = 1 / Math.sqrt(biasedVar + eps);
    forChannel(s, c, (i) => y[i] = (x[i] - mu) * invstd[c] * gamma[c] + beta[c]);
    if (running) {
      const unbiased = m > 1 ? sq / (m - 1) : biasedVar;
      running.mean[c] = (1 - momentum) * running.mean[c] + momentum * mu;
      running.var[c] = (1 - momentum) * running.var[c] + momentum * unbiased;
    }
  }
  return { y, mean, invstd };
}

/** Eval-mode forward: normalize with the running statistics. */
export function batchNormEvalForward(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  running: BatchNormRunning,
  s: BatchNormShape,
  eps = 1e-5,
): Float64Array {
  const y = new Float64Array(s.n * s.c * s.h * s.w);
  for (let c = 0; c < s.c; c++) {
    const inv = 1 / Math.sqrt(running.var[c] + eps);
    forChannel(s, c, (i) => y[i] = (x[i] - running.mean[c]) * inv * gamma[c] + beta[c]);
  }
  return y;
}

/**
 * Eval-mode backward (the statistics are constants): dx = dy·γ/√(running var + eps), with
 * `relu` masked where the eval pre-activation was ≤ 0 (PyTorch's ReLU gradient at 0 is 0).
 */
export function batchNormEvalBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  running: BatchNormRunning,
  s: BatchNormShape,
  opts: { eps?: number; relu?: boolean } = {},
): Float64Array {
  const eps = opts.eps ?? 1e-5;
  const y = batchNormEvalForward(x, gamma, beta, running, s, eps);
  const dx = new Float64Array(dy.length);
  for (let c = 0; c < s.c; c++) {
    const k = gamma[c] / Math.sqrt(running.var[c] + eps);
    forChannel(s, c, (i) => dx[i] = opts.relu && !(y[i] > 0) ? 0 : dy[i] * k);
  }
  return dx;
}

/**
 * Training-mode backward (batch statistics depend on x):
 * dx = γ·invstd/m · (m·dy − Σdy − x̂·Σ(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
 */
export function batchNormBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  s: BatchNormShape,
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const m = s.n * s.h * s.w;
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  const dgamma = new Float64Array(s.c);
  const dbeta = new Float64Array(s.c);
  for (let c = 0; c < s.c; c++) {
    const xhat = (i: number) => (x[i] - mean[c]) * invstd[c];
    let sumDy = 0;
    let sumDyXhat = 0;
    forChannel(s, c, (i) => {
      sumDy += dy[i];
      sumDyXhat += dy[i] * xhat(i);
    });
    dgamma[c] = sumDyXhat;
    dbeta[c] = sumDy;
    const k = (gamma[c] * invstd[c]) / m;
    forChannel(s, c, (i) => dx[i] = k * (m * dy[i] - sumDy - xhat(i) * sumDyXhat));
  }
  return { dx, dgamma, dbeta };
}

function forChannel(s: BatchNormShape, c: number, f: (i: number) => void): void {
  const hw = s.h * s.w;
  for (let n = 0; n < s.n; n++) {
    const base = (n * s.c + c) * hw;
    for (let j = 0; j < hw; j++) f(base + j);
  }
}
