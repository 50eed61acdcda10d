/**
 * Shapes of the ops and the output sizes they imply, in PyTorch's conventions. Both the GPU ops
 * and the CPU references import them from here, so a plan and its reference agree on every size.
 */

export interface Conv2dShape {
  n: number;
  c: number;
  h: number;
  w: number;
  /** Output channels. */
  k: number;
  kh: number;
  kw: number;
  stride: number;
  padding: number;
}

/** PyTorch's output length of a sliding window (convolution, pooling): ⌊(n + 2p − k) / s⌋ + 1. */
export function windowOutSize(size: number, k: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - k) / stride) + 1;
}

/** PyTorch output size: floor((H + 2p − kh) / stride) + 1. */
export function conv2dOutSize(s: Conv2dShape): { oh: number; ow: number } {
  return {
    oh: windowOutSize(s.h, s.kh, s.stride, s.padding),
    ow: windowOutSize(s.w, s.kw, s.stride, s.padding),
  };
}

export interface ShortcutAShape {
  n: number;
  c: number;
  h: number;
  w: number;
  /** Output channels, ≥ c. */
  k: number;
  stride: number;
}

export function shortcutAOutSize(s: ShortcutAShape): { oh: number; ow: number } {
  return { oh: Math.ceil(s.h / s.stride), ow: Math.ceil(s.w / s.stride) };
}

export interface Pool2dShape {
  n: number;
  c: number;
  h: number;
  w: number;
  kernel: number;
  stride: number;
  padding: number;
}

export interface PlaneShape {
  n: number;
  c: number;
  h: number;
  w: number;
}

export function pool2dOutSize(s: Pool2dShape): { oh: number; ow: number } {
  return {
    oh: windowOutSize(s.h, s.kernel, s.stride, s.padding),
    ow: windowOutSize(s.w, s.kernel, s.stride, s.padding),
  };
}

export interface AdaptivePoolShape extends PlaneShape {
  oh: number;
  ow: number;
}

/** Output tile edge of a Winograd F(m×m, 3×3) convolution. */
export type WinogradTile = 2 | 4;

/** Whether F(m×m, 3×3) computes this convolution: 3×3 kernel, stride 1, padding ≤ 2. */
export function winogradApplies(s: Conv2dShape): boolean {
  return s.kh === 3 && s.kw === 3 && s.stride === 1 && s.padding <= 2;
}
