/** Fully connected layer, PyTorch layout: x (N, in), W (out, in), y = x·Wᵀ + b. */

export interface LinearShape {
  n: number;
  inFeatures: number;
  outFeatures: number;
}

export function linearForward(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  s: LinearShape,
): Float64Array {
  const { n, inFeatures: fi, outFeatures: fo } = s;
  const y = new Float64Array(n * fo);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < fo; o++) {
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < fi; i++) acc += x[r * fi + i] * weight[o * fi + i];
      y[r * fo + o] = acc;
    }
  }
  return y;
}

/** dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy. */
export function linearBackward(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  s: LinearShape,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const { n, inFeatures: fi, outFeatures: fo } = s;
  const dx = new Float64Array(n * fi);
  const dw = new Float64Array(fo * fi);
  const db = new Float64Array(fo);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < fo; o++) {
      const g = dy[r * fo + o];
      db[o] += g;
      for (let i = 0; i < fi; i++) {
        dx[r * fi + i] += g * weight[o * fi + i];
        dw[o * fi + i] += g * x[r * fi + i];
      }
    }
  }
  return { dx, dw, db };
}
