/**
 * What every convolution planner shares: the direct kernels' register tile and the 64 KiB
 * uniform window, shape checks and derived shapes (the transposed convolution, backward-data's
 * stride phases), the Params prefix, workgroup sizing and a few buffers a plan owns.
 */
import type { Runtime } from "../../gpu/runtime.ts";
import { conv2dOutSize, type Conv2dShape } from "../../shapes.ts";

/** Rows (pixels) × columns (channels) one invocation accumulates; fixed by the WGSL tile. */
export const TILE_ROWS = 8;
export const TILE_COLS = 16;

/** Floats in one uniform window: 64 KiB, WebGPU's guaranteed maxUniformBufferBindingSize. */
export const WINDOW = 16384;

/** Whether `rt` binds whole 64 KiB uniform windows at window-aligned offsets. */
export function windowsBind(rt: Runtime): boolean {
  return rt.limits.maxUniformBufferBindingSize >= WINDOW * 4 &&
    (WINDOW * 4) % rt.device.limits.minUniformBufferOffsetAlignment === 0;
}

/** Window `t` of a buffer of back-to-back windows, as a binding. */
export const windowOf = (b: GPUBuffer, t: number) => ({
  buffer: b,
  offset: t * WINDOW * 4,
  size: WINDOW * 4,
});

/** The shape prefix every direct kernel's Params struct starts with. */
export function shapeWords(s: Conv2dShape, oh: number, ow: number): number[] {
  return [s.n, s.c, s.h, s.w, s.k, s.kh, s.kw, s.stride, s.padding, oh, ow];
}

export function checkShape(s: Conv2dShape): { oh: number; ow: number } {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`conv2d: ${k} = ${v}`);
  }
  if (s.stride < 1 || s.kh < 1 || s.kw < 1) throw new RangeError("conv2d: empty kernel or stride");
  const o = conv2dOutSize(s);
  if (o.oh < 1 || o.ow < 1) throw new RangeError(`conv2d: output ${o.oh}×${o.ow} is empty`);
  return o;
}

/**
 * The largest power of two ≤ `want` the device allows. The policy's default is 16 on lavapipe,
 * where larger workgroups of this register-heavy tile measured slower (spilled tiles of a whole
 * workgroup stop fitting in L1) and 16 keeps enough workgroups for every core on small layers,
 * and 64 on a GPU, where a 16-invocation workgroup idles half a 32-lane warp.
 */
export function workgroupSize(rt: Runtime, want = rt.policy.convWorkgroup): number {
  const l = rt.limits;
  const wg = Math.min(want, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
  return 1 << Math.floor(Math.log2(wg));
}

/**
 * The convolution backward-data computes for a stride-1 `s`: dy (N, K, OH, OW) correlated with
 * w transposed (K ↔ C) and rotated 180°, padded by KH − 1 − padding, giving dx (N, C, H, W).
 */
export function transposedShape(s: Conv2dShape): Conv2dShape {
  const { oh, ow } = conv2dOutSize(s);
  return { ...s, c: s.k, h: oh, w: ow, k: s.c, padding: s.kh - 1 - s.padding };
}

/** Input pixels with iy ≡ ry, ix ≡ rx (mod stride): hq × wq per image, m in all. */
export interface StridePhase {
  ry: number;
  rx: number;
  hq: number;
  wq: number;
  m: number;
}

/**
 * Backward-data's stride phases (ry, rx): the pixels of one phase share which taps reach an
 * output, so each runs as one dispatch whose tap loops skip the taps that never do.
 */
export function stridePhases(s: Conv2dShape): StridePhase[] {
  const phases: StridePhase[] = [];
  for (let ry = 0; ry < Math.min(s.stride, s.h); ry++) {
    for (let rx = 0; rx < Math.min(s.stride, s.w); rx++) {
      const hq = Math.ceil((s.h - ry) / s.stride), wq = Math.ceil((s.w - rx) / s.stride);
      if (s.n * hq * wq > 0) phases.push({ ry, rx, hq, wq, m: s.n * hq * wq });
    }
  }
  return phases;
}

/** A zero bias of `k` floats, written once at plan time (owned by the plan's scratch). */
export function zeroBias(rt: Runtime, k: number, scratch: GPUBuffer[]): GPUBuffer {
  const b = rt.pool.acquire(k * 4, "conv2d.zero_bias");
  rt.device.queue.writeBuffer(b, 0, new Float32Array(k));
  scratch.push(b);
  return b;
}
