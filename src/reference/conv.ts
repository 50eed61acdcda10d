/**
 * 2-D convolution reference: NCHW input, OIHW weight (PyTorch), square stride and zero padding,
 * dilation 1, groups 1. Forward and both backward passes walk the same list of (input, weight,
 * output) taps, so the backward passes are the exact adjoints of the forward by construction.
 */
import { conv2dOutSize, type Conv2dShape } from "../shapes.ts";

export { conv2dOutSize, type Conv2dShape };

/** Placeholder for the operand a pass does not read (typed, so the loads stay monomorphic). */
const NONE = new Float64Array(0);

/** Which product a pass accumulates: y += x·w, dx += dy·w, or dw += dy·x. */
type Pass = "forward" | "data" | "weight";

/**
 * Walks every multiply-accumulate tap (xi, wi, yi) that lands inside the unpadded input and
 * accumulates the product `pass` asks for. One loop nest for all three passes keeps them exact
 * adjoints; the switch (rather than a callback) lets V8 keep the inner loop monomorphic.
 */
function accumulateTaps(
  pass: Pass,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  y: ArrayLike<number>,
  out: Float64Array,
  s: Conv2dShape,
): void {
  const { oh, ow } = conv2dOutSize(s);
  for (let n = 0; n < s.n; n++) {
    for (let k = 0; k < s.k; k++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const yi = ((n * s.k + k) * oh + oy) * ow + ox;
          for (let c = 0; c < s.c; c++) {
            for (let ky = 0; ky < s.kh; ky++) {
              const iy = oy * s.stride - s.padding + ky;
              if (iy < 0 || iy >= s.h) continue;
              const xRow = ((n * s.c + c) * s.h + iy) * s.w;
              const wRow = ((k * s.c + c) * s.kh + ky) * s.kw;
              for (let kx = 0; kx < s.kw; kx++) {
                const ix = ox * s.stride - s.padding + kx;
                if (ix < 0 || ix >= s.w) continue;
                const xi = xRow + ix;
                const wi = wRow + kx;
                switch (pass) {
                  case "forward":
                    out[yi] += x[xi] * w[wi];
                    break;
                  case "data":
                    out[xi] += y[yi] * w[wi];
                    break;
                  case "weight":
                    out[wi] += y[yi] * x[xi];
                    break;
                }
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dForward(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  s: Conv2dShape,
): { y: Float64Array; oh: number; ow: number } {
  const { oh, ow } = conv2dOutSize(s);
  const y = new Float64Array(s.n * s.k * oh * ow);
  if (bias) {
    const plane = oh * ow;
    for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / plane) % s.k];
  }
  accumulateTaps("forward", x, weight, NONE, y, s);
  return { y, oh, ow };
}

/** dL/dx given dL/dy (N,K,OH,OW). */
export function conv2dBackwardData(
  dy: ArrayLike<number>,
  weight: ArrayLike<number>,
  s: Conv2dShape,
): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  accumulateTaps("data", NONE, weight, dy, dx, s);
  return dx;
}

/** dL/dweight (K,C,KH,KW) and dL/dbias (K) given the forward input and dL/dy. */
export function conv2dBackwardWeight(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  s: Conv2dShape,
): { dw: Float64Array; db: Float64Array } {
  const dw = new Float64Array(s.k * s.c * s.kh * s.kw);
  accumulateTaps("weight", x, NONE, dy, dw, s);
  const { oh, ow } = conv2dOutSize(s);
  const plane = oh * ow;
  const db = new Float64Array(s.k);
  for (let i = 0; i < s.n * s.k * plane; i++) db[Math.floor(i / plane) % s.k] += dy[i];
  return { dw, db };
}
