/**
 * Central finite differences, for checking analytic backward passes in f64. Error is O(h²) on
 * smooth functions, so h = 1e-5 gives ~1e-10 truncation and ~1e-11 round-off relative error.
 */

/** dL/dx[i] ≈ (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h for every i; x is restored afterwards. */
export function numericalGradient(
  loss: (x: Float64Array) => number,
  x: Float64Array,
  h = 1e-5,
): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const orig = x[i];
    x[i] = orig + h;
    const plus = loss(x);
    x[i] = orig - h;
    const minus = loss(x);
    x[i] = orig;
    g[i] = (plus - minus) / (2 * h);
  }
  return g;
}

/** Σ y·g: the scalar whose gradient w.r.t. y is g, used to pull a chosen upstream gradient. */
export function dot(y: ArrayLike<number>, g: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * g[i];
  return s;
}
