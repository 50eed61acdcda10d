/**
 * Option-A (parameter-free) ResNet shortcut: subsample pixels (i·stride, j·stride), then zero-pad
 * channels C → K with floor((K − C)/2) zero channels before the input channels and the rest after
 * (the CIFAR `F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))` idiom, generalized to odd K − C).
 */
import { shortcutAOutSize, type ShortcutAShape } from "../shapes.ts";

export { shortcutAOutSize, type ShortcutAShape };

/** Calls `tap(xi, yi)` for every output element that copies an input element. */
function forEachCopy(s: ShortcutAShape, tap: (xi: number, yi: number) => void): void {
  const { oh, ow } = shortcutAOutSize(s);
  const before = Math.floor((s.k - s.c) / 2);
  for (let n = 0; n < s.n; n++) {
    for (let c = 0; c < s.c; c++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          tap(
            ((n * s.c + c) * s.h + oy * s.stride) * s.w + ox * s.stride,
            ((n * s.k + c + before) * oh + oy) * ow + ox,
          );
        }
      }
    }
  }
}

export function shortcutAForward(
  x: ArrayLike<number>,
  s: ShortcutAShape,
): { y: Float64Array; oh: number; ow: number } {
  const { oh, ow } = shortcutAOutSize(s);
  const y = new Float64Array(s.n * s.k * oh * ow);
  forEachCopy(s, (xi, yi) => y[yi] = x[xi]);
  return { y, oh, ow };
}

/** Adjoint of the forward: gathers the copied positions back, zero elsewhere. */
export function shortcutABackward(dy: ArrayLike<number>, s: ShortcutAShape): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  forEachCopy(s, (xi, yi) => dx[xi] = dy[yi]);
  return dx;
}
