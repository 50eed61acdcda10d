/** Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2). */

export function l2Norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/**
 * Scales every gradient in place by max_norm / (total + 1e-6) when that factor is below 1.
 * Returns the total norm measured BEFORE clipping (what PyTorch returns) and the factor applied.
 */
export function clipGradNorm(
  grads: Float64Array[],
  maxNorm: number,
): { totalNorm: number; scale: number } {
  let sq = 0;
  for (const g of grads) sq += l2Norm(g) ** 2;
  const totalNorm = Math.sqrt(sq);
  const coef = maxNorm / (totalNorm + 1e-6);
  const scale = coef < 1 ? coef : 1;
  if (scale < 1) {
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  return { totalNorm, scale };
}
