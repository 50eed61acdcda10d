/**
 * Winograd minimal filtering F(m×m, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016): an m×m output tile of a 3×3 stride-1 correlation is
 *
 *   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 *
 * for the (m+2)×(m+2) input patch d and the 3×3 filter g, summed over input channels in the
 * transformed domain — (m+2)² multiply-adds per channel pair instead of 9m². The matrices here are
 * the single source of the transforms: tools/gen_winograd.ts writes them into
 * shaders/conv2d_winograd.gen.wgsl and the tests check both against the direct correlation.
 */
import { conv2dOutSize, type Conv2dShape, winogradApplies, type WinogradTile } from "../shapes.ts";

export { winogradApplies, type WinogradTile };

export interface WinogradTransforms {
  /** Input transform, (m+2) × (m+2). */
  BT: readonly (readonly number[])[];
  /** Filter transform, (m+2) × 3. */
  G: readonly (readonly number[])[];
  /** Output transform, m × (m+2). */
  AT: readonly (readonly number[])[];
}

/** Interpolation points 0, ±1 (F(2,3)) and 0, ±1, ±2 (F(4,3)), plus ∞. */
export const WINOGRAD: Record<WinogradTile, WinogradTransforms> = {
  2: {
    BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
    AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
  },
  4: {
    BT: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    G: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
  },
};

/** L · X · Rᵀ for small dense matrices (rows of L, rows of R). */
function sandwich(
  L: readonly (readonly number[])[],
  X: number[][],
  R: readonly (readonly number[])[],
): number[][] {
  return L.map((l) =>
    R.map((r) => {
      let acc = 0;
      for (let i = 0; i < l.length; i++) {
        for (let j = 0; j < r.length; j++) acc += l[i] * X[i][j] * r[j];
      }
      return acc;
    })
  );
}

/** V[c] = Bᵀ d B for every input channel's patch of image n at output tile origin (ty, tx). */
function inputTransform(
  x: ArrayLike<number>,
  s: Conv2dShape,
  BT: readonly (readonly number[])[],
  n: number,
  ty: number,
  tx: number,
): number[][][] {
  const a = BT.length;
  return Array.from({ length: s.c }, (_, c) => {
    const d = Array.from({ length: a }, (_, i) =>
      Array.from({ length: a }, (_, j) => {
        const yy = ty + i - s.padding, xx = tx + j - s.padding;
        return yy < 0 || xx < 0 || yy >= s.h || xx >= s.w
          ? 0
          : x[((n * s.c + c) * s.h + yy) * s.w + xx];
      }));
    return sandwich(BT, d, BT);
  });
}

/**
 * The forward convolution computed tile by tile through the transforms, in float64: the
 * algorithm the GPU kernels run, kept separate from conv.ts's direct loops so a test can hold the
 * two against each other. Other `transforms` (e.g. with absolute values, for error bounds) may
 * be passed.
 */
export function conv2dWinograd(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  s: Conv2dShape,
  m: WinogradTile,
  transforms: WinogradTransforms = WINOGRAD[m],
): Float64Array {
  if (!winogradApplies(s)) throw new RangeError("winograd: needs a 3×3 stride-1 convolution");
  const { BT, G, AT } = transforms;
  const a = m + 2;
  const { oh, ow } = conv2dOutSize(s);
  const u: number[][][][] = [];
  for (let k = 0; k < s.k; k++) {
    u.push([]);
    for (let c = 0; c < s.c; c++) {
      const g = [0, 1, 2].map((i) => [0, 1, 2].map((j) => weight[((k * s.c + c) * 3 + i) * 3 + j]));
      u[k].push(sandwich(G, g, G));
    }
  }
  const y = new Float64Array(s.n * s.k * oh * ow);
  for (let n = 0; n < s.n; n++) {
    for (let ty = 0; ty < oh; ty += m) {
      for (let tx = 0; tx < ow; tx += m) {
        const v = inputTransform(x, s, BT, n, ty, tx);
        for (let k = 0; k < s.k; k++) {
          const e = Array.from({ length: a }, () => new Array<number>(a).fill(0));
          for (let c = 0; c < s.c; c++) {
            for (let i = 0; i < a; i++) {
              for (let j = 0; j < a; j++) e[i][j] += u[k][c][i][j] * v[c][i][j];
            }
          }
          const out = sandwich(AT, e, AT);
          for (let i = 0; i < m && ty + i < oh; i++) {
            for (let j = 0; j < m && tx + j < ow; j++) {
              y[((n * s.k + k) * oh + ty + i) * ow + tx + j] = out[i][j];
            }
          }
        }
      }
    }
  }
  return y;
}

/**
 * The filter gradient dw (K, C, 3, 3) through the same transforms, in float64: per tile
 * dM = A dY Aᵀ, dU[k][c] += dM[k] ⊙ V[c], then dw = Gᵀ dU G — what the GPU kernels run.
 */
export function conv2dWinogradBackwardWeight(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  s: Conv2dShape,
  m: WinogradTile,
  transforms: WinogradTransforms = WINOGRAD[m],
): Float64Array {
  if (!winogradApplies(s)) throw new RangeError("winograd: needs a 3×3 stride-1 convolution");
  const { BT, G, AT } = transforms;
  const A = AT[0].map((_, j) => AT.map((r) => r[j]));
  const GT = G[0].map((_, j) => G.map((r) => r[j]));
  const a = m + 2;
  const { oh, ow } = conv2dOutSize(s);
  const du = Array.from(
    { length: s.k * s.c },
    () => Array.from({ length: a }, () => new Array<number>(a).fill(0)),
  );
  for (let n = 0; n < s.n; n++) {
    for (let ty = 0; ty < oh; ty += m) {
      for (let tx = 0; tx < ow; tx += m) {
        const v = inputTransform(x, s, BT, n, ty, tx);
        for (let k = 0; k < s.k; k++) {
          const g = Array.from(
            { length: m },
            (_, i) =>
              Array.from(
                { length: m },
                (_, j) =>
                  ty + i < oh && tx + j < ow ? dy[((n * s.k + k) * oh + ty + i) * ow + tx + j] : 0,
              ),
          );
          const dm = sandwich(A, g, A);
          for (let c = 0; c < s.c; c++) {
            const acc = du[k * s.c + c];
            for (let i = 0; i < a; i++) {
              for (let j = 0; j < a; j++) acc[i][j] += dm[i][j] * v[c][i][j];
            }
          }
        }
      }
    }
  }
  const dw = new Float64Array(s.k * s.c * 9);
  for (let kc = 0; kc < s.k * s.c; kc++) {
    const g = sandwich(GT, du[kc], GT);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) dw[kc * 9 + i * 3 + j] = g[i][j];
  }
  return dw;
}
