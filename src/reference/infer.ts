/**
 * References for inference's kernels: torchvision's ToTensor + Normalize on raw pixels, and the
 * softmax of each row, in f64.
 */

/**
 * NCHW (v · unit − mean[c]) / std[c] for n images of c×h×w stored in `layout` order; unit is 1/255
 * for uint8 pixels and 1 for [0, 1] floats.
 */
export function normalizePixels(
  src: ArrayLike<number>,
  s: { n: number; c: number; h: number; w: number },
  layout: "hwc" | "chw",
  unit: number,
  mean: readonly number[],
  std: readonly number[],
): Float64Array {
  const { n, c, h, w } = s;
  const out = new Float64Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) {
        const at = layout === "hwc" ? (i * h * w + p) * c + ch : (i * c + ch) * h * w + p;
        out[(i * c + ch) * h * w + p] = (src[at] * unit - mean[ch]) / std[ch];
      }
    }
  }
  return out;
}

/** Row-wise softmax of a rows × classes matrix, max-subtracted. */
export function softmaxRows(logits: ArrayLike<number>, classes: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length / classes; r++) {
    let m = -Infinity;
    for (let k = 0; k < classes; k++) m = Math.max(m, logits[r * classes + k]);
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      sum += out[r * classes + k] = Math.exp(logits[r * classes + k] - m);
    }
    for (let k = 0; k < classes; k++) out[r * classes + k] /= sum;
  }
  return out;
}
