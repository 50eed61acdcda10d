/**
 * Antialiased bilinear resampling as torchvision's `Resize` does it (`antialias=True`, the kernel
 * torchvision ported from Pillow): a triangle filter widened by the downscale factor, with the
 * taps clamped to the source region and renormalized. Computed in float32 without Pillow's
 * intermediate rounding to uint8, so it equals torchvision on float tensors to float rounding and
 * Pillow's uint8 result within one level (tests/image/transforms_torch.test.ts derives both).
 *
 * The primitive resamples a source region (a crop box) to a virtual size and writes one window of
 * that output, normalized and optionally mirrored, into an NCHW float batch. Resize-then-crop
 * (the eval transform) and crop-then-resize (random-resized crop) are both this call: computing
 * only a window of a resize equals cropping the full resize, since each output pixel depends only
 * on its own coordinates.
 */
import type { DecodedImage } from "./header.ts";

/** Taps of one axis: for output k, `count[k]` weights from source index `first[k]`. */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  /** count.max() weights per output, zero-padded. */
  weights: Float32Array;
  stride: number;
}

/**
 * Pillow's `precompute_coeffs` for the bilinear (triangle) filter: output k of `outSize` samples
 * of the source range [start, start + inSize), for outputs `from` .. `from + n - 1`.
 */
function taps(start: number, inSize: number, outSize: number, from: number, n: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support is 1
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(n), count = new Int32Array(n);
  const weights = new Float32Array(n * stride);
  const w64 = new Float64Array(stride);
  for (let k = 0; k < n; k++) {
    const center = (from + k + 0.5) * scale;
    let lo = Math.trunc(center - support + 0.5);
    if (lo < 0) lo = 0;
    let hi = Math.trunc(center + support + 0.5);
    if (hi > inSize) hi = inSize;
    const m = Math.max(0, Math.min(stride, hi - lo));
    let sum = 0;
    for (let t = 0; t < m; t++) {
      const x = Math.abs((t + lo - center + 0.5) / filterScale);
      w64[t] = x < 1 ? 1 - x : 0;
      sum += w64[t];
    }
    for (let t = 0; t < m; t++) weights[k * stride + t] = sum > 0 ? w64[t] / sum : 0;
    first[k] = start + lo;
    count[k] = m;
  }
  return { first, count, weights, stride };
}

/** Where and how one image lands in a batch slot. */
export interface ResampleSpec {
  /** Source region: top, left, height, width (a crop box; the whole image for a plain resize). */
  box: [number, number, number, number];
  /** Size the region is resampled to. */
  size: [number, number];
  /** Window of that resampled image to write: top, left, height, width; may extend past it (zeros). */
  window: [number, number, number, number];
  /** Mirror the window left to right. */
  flip: boolean;
}

/**
 * Writes `(resample(img)[window] / 255 − mean) / std` as C×H×W float32 at `out[offset]`; pixels
 * of the window outside the resampled image are written as 0 before normalization (torchvision's
 * zero padding).
 */
export function resampleInto(
  img: DecodedImage,
  spec: ResampleSpec,
  mean: ArrayLike<number>,
  std: ArrayLike<number>,
  out: Float32Array,
  offset: number,
): void {
  const c = img.channels;
  const [by, bx, bh, bw] = spec.box;
  const [rh, rw] = spec.size;
  const [wy, wx, oh, ow] = spec.window;
  // Window rows/cols that fall inside the resampled image.
  const y0 = Math.max(0, -wy), y1 = Math.min(oh, rh - wy);
  const x0 = Math.max(0, -wx), x1 = Math.min(ow, rw - wx);
  const plane = oh * ow;
  for (let ch = 0; ch < c; ch++) {
    out.fill((0 - mean[ch]) / std[ch], offset + ch * plane, offset + (ch + 1) * plane);
  }
  if (y1 <= y0 || x1 <= x0) return;
  const nx = x1 - x0, ny = y1 - y0;
  const tx = taps(bx, bw, rw, wx + x0, nx);
  const ty = taps(by, bh, rh, wy + y0, ny);
  // Source rows the vertical pass reads.
  const rowLo = ty.first[0], rowHi = ty.first[ny - 1] + ty.count[ny - 1];
  const rows = rowHi - rowLo;
  // Horizontal pass over just those rows: rows × nx × c.
  const mid = new Float32Array(rows * nx * c);
  const src = img.data, sw = img.width;
  for (let r = 0; r < rows; r++) {
    const srow = (rowLo + r) * sw;
    for (let k = 0; k < nx; k++) {
      const f = tx.first[k], n = tx.count[k], wo = k * tx.stride;
      const d = (r * nx + k) * c;
      if (c === 3) {
        // RGB, the common case: the three channels in one sweep over the taps.
        let a0 = 0, a1 = 0, a2 = 0;
        for (let t = 0, si = (srow + f) * 3; t < n; t++, si += 3) {
          const wt = tx.weights[wo + t];
          a0 += wt * src[si];
          a1 += wt * src[si + 1];
          a2 += wt * src[si + 2];
        }
        mid[d] = a0;
        mid[d + 1] = a1;
        mid[d + 2] = a2;
        continue;
      }
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let t = 0; t < n; t++) acc += tx.weights[wo + t] * src[(srow + f + t) * c + ch];
        mid[d + ch] = acc;
      }
    }
  }
  // Vertical pass, normalization and mirroring, straight into the CHW slot. Row-major over the
  // taps (each tap's row of `mid` read contiguously) into a row accumulator.
  const acc = new Float64Array(nx * c);
  for (let k = 0; k < ny; k++) {
    const f = ty.first[k] - rowLo, n = ty.count[k], wo = k * ty.stride;
    acc.fill(0);
    for (let t = 0; t < n; t++) {
      const wt = ty.weights[wo + t];
      const m = (f + t) * nx * c;
      for (let i = 0; i < nx * c; i++) acc[i] += wt * mid[m + i];
    }
    for (let ch = 0; ch < c; ch++) {
      const a = 1 / (255 * std[ch]), b = -mean[ch] / std[ch];
      const orow = offset + ch * plane + (y0 + k) * ow;
      for (let x = 0; x < nx; x++) {
        const ox = spec.flip ? ow - 1 - (x0 + x) : x0 + x;
        out[orow + ox] = acc[x * c + ch] * a + b;
      }
    }
  }
}
