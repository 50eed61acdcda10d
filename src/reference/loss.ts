/** Softmax cross-entropy over integer labels, averaged over the batch (PyTorch's default). */

export interface SoftmaxCrossEntropyResult {
  /** Mean of −log p[label] over the batch. */
  loss: number;
  /** Softmax probabilities, (N, classes). */
  probs: Float64Array;
  /** dloss/dlogits = (probs − onehot) / N. */
  dlogits: Float64Array;
  /** Samples whose argmax (first maximum on ties) equals the label. */
  correct: number;
}

export function softmaxCrossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  s: { n: number; classes: number },
): SoftmaxCrossEntropyResult {
  const { n, classes } = s;
  const probs = new Float64Array(n * classes);
  const dlogits = new Float64Array(n * classes);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < n; r++) {
    const base = r * classes;
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < classes; j++) {
      if (logits[base + j] > max) {
        max = logits[base + j];
        arg = j;
      }
    }
    // Shifting by the max keeps exp() from overflowing; logsumexp is then max + log Σ.
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(logits[base + j] - max);
    const label = labels[r];
    loss += max + Math.log(sum) - logits[base + label];
    for (let j = 0; j < classes; j++) {
      const p = Math.exp(logits[base + j] - max) / sum;
      probs[base + j] = p;
      dlogits[base + j] = (p - (j === label ? 1 : 0)) / n;
    }
    if (arg === label) correct++;
  }
  return { loss: loss / n, probs, dlogits, correct };
}
