/**
 * Pooling references with PyTorch semantics (ceil_mode=False): max pool pads with −inf and routes
 * the gradient to the first maximum in row-major window order; average pool counts padding in the
 * divisor (count_include_pad=True); adaptive average pool uses PyTorch's floor/ceil bin edges.
 */
import {
  type AdaptivePoolShape,
  type PlaneShape,
  pool2dOutSize,
  type Pool2dShape,
} from "../shapes.ts";

export { type AdaptivePoolShape, type PlaneShape, pool2dOutSize, type Pool2dShape };

/**
 * Returns also `argmax`: for every output element the flat index into x of the chosen input.
 * A strict `>` keeps the first maximum, as PyTorch's CPU and CUDA kernels do.
 */
export function maxPool2dForward(
  x: ArrayLike<number>,
  s: Pool2dShape,
): { y: Float64Array; oh: number; ow: number; argmax: Int32Array } {
  const { oh, ow } = pool2dOutSize(s);
  const y = new Float64Array(s.n * s.c * oh * ow);
  const argmax = new Int32Array(y.length).fill(-1);
  for (let p = 0; p < s.n * s.c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        let bestIdx = -1;
        for (let ky = 0; ky < s.kernel; ky++) {
          const iy = oy * s.stride - s.padding + ky;
          if (iy < 0 || iy >= s.h) continue;
          for (let kx = 0; kx < s.kernel; kx++) {
            const ix = ox * s.stride - s.padding + kx;
            if (ix < 0 || ix >= s.w) continue;
            const xi = (p * s.h + iy) * s.w + ix;
            if (x[xi] > best || bestIdx < 0) {
              best = x[xi];
              bestIdx = xi;
            }
          }
        }
        const yi = (p * oh + oy) * ow + ox;
        y[yi] = best;
        argmax[yi] = bestIdx;
      }
    }
  }
  return { y, oh, ow, argmax };
}

export function maxPool2dBackward(
  dy: ArrayLike<number>,
  argmax: Int32Array,
  s: Pool2dShape,
): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  for (let i = 0; i < argmax.length; i++) dx[argmax[i]] += dy[i];
  return dx;
}

/** Visits every input inside each average window together with that window's divisor. */
function forEachAvgTap(
  s: Pool2dShape,
  tap: (xi: number, yi: number, divisor: number) => void,
): void {
  const { oh, ow } = pool2dOutSize(s);
  for (let p = 0; p < s.n * s.c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const y0 = oy * s.stride - s.padding;
        const x0 = ox * s.stride - s.padding;
        // Divisor counts padded cells but not cells past the padded border (PyTorch's pool_size).
        const y1 = Math.min(y0 + s.kernel, s.h + s.padding);
        const x1 = Math.min(x0 + s.kernel, s.w + s.padding);
        const divisor = (y1 - y0) * (x1 - x0);
        const yi = (p * oh + oy) * ow + ox;
        for (let iy = Math.max(y0, 0); iy < Math.min(y1, s.h); iy++) {
          for (let ix = Math.max(x0, 0); ix < Math.min(x1, s.w); ix++) {
            tap((p * s.h + iy) * s.w + ix, yi, divisor);
          }
        }
      }
    }
  }
}

export function avgPool2dForward(
  x: ArrayLike<number>,
  s: Pool2dShape,
): { y: Float64Array; oh: number; ow: number } {
  const { oh, ow } = pool2dOutSize(s);
  const y = new Float64Array(s.n * s.c * oh * ow);
  forEachAvgTap(s, (xi, yi, d) => y[yi] += x[xi] / d);
  return { y, oh, ow };
}

export function avgPool2dBackward(dy: ArrayLike<number>, s: Pool2dShape): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  forEachAvgTap(s, (xi, yi, d) => dx[xi] += dy[yi] / d);
  return dx;
}

/** (N,C,H,W) → (N,C): mean over each plane. */
export function globalAvgPoolForward(x: ArrayLike<number>, s: PlaneShape): Float64Array {
  const hw = s.h * s.w;
  const y = new Float64Array(s.n * s.c);
  for (let p = 0; p < y.length; p++) {
    let acc = 0;
    for (let i = 0; i < hw; i++) acc += x[p * hw + i];
    y[p] = acc / hw;
  }
  return y;
}

export function globalAvgPoolBackward(dy: ArrayLike<number>, s: PlaneShape): Float64Array {
  const hw = s.h * s.w;
  const dx = new Float64Array(s.n * s.c * hw);
  for (let i = 0; i < dx.length; i++) dx[i] = dy[Math.floor(i / hw)] / hw;
  return dx;
}

function forEachAdaptiveTap(
  s: AdaptivePoolShape,
  tap: (xi: number, yi: number, divisor: number) => void,
): void {
  for (let p = 0; p < s.n * s.c; p++) {
    for (let oy = 0; oy < s.oh; oy++) {
      const y0 = Math.floor((oy * s.h) / s.oh);
      const y1 = Math.ceil(((oy + 1) * s.h) / s.oh);
      for (let ox = 0; ox < s.ow; ox++) {
        const x0 = Math.floor((ox * s.w) / s.ow);
        const x1 = Math.ceil(((ox + 1) * s.w) / s.ow);
        const divisor = (y1 - y0) * (x1 - x0);
        const yi = (p * s.oh + oy) * s.ow + ox;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) tap((p * s.h + iy) * s.w + ix, yi, divisor);
        }
      }
    }
  }
}

export function adaptiveAvgPool2dForward(
  x: ArrayLike<number>,
  s: AdaptivePoolShape,
): Float64Array {
  const y = new Float64Array(s.n * s.c * s.oh * s.ow);
  forEachAdaptiveTap(s, (xi, yi, d) => y[yi] += x[xi] / d);
  return y;
}

export function adaptiveAvgPool2dBackward(
  dy: ArrayLike<number>,
  s: AdaptivePoolShape,
): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  forEachAdaptiveTap(s, (xi, yi, d) => dx[xi] += dy[yi] / d);
  return dx;
}
