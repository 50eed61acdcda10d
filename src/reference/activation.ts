/**
 * ReLU and the fused residual join relu(a + b). Backward passes take the forward OUTPUT: out > 0
 * is the same mask as input > 0 and is what a fused kernel keeps around.
 */

export function reluForward(x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
  return y;
}

/** dx = dy · (y > 0); at exactly 0 the gradient is 0, as in PyTorch. */
export function reluBackward(dy: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
  return dx;
}

export function addReluForward(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i] + b[i];
    y[i] = v > 0 ? v : 0;
  }
  return y;
}

/** The gradient is identical for both branches, so it is returned once. */
export function addReluBackward(dy: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  return reluBackward(dy, y);
}
