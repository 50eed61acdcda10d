/**
 * Inference's own kernels planned as steps (shaders/infer.wgsl): raw pixels → the network's
 * normalized NCHW input, and the softmax of each row of logits.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Planned } from "../gpu/plan.ts";

const WG = 64;

/** Element type and order of raw pixel input. */
export interface PixelFormat {
  /** uint8 0…255, or f32 in [0, 1]. */
  type: "u8" | "f32";
  /** (n, y, x, c), channel fastest, as decoders produce it; or (n, c, y, x). */
  layout: "hwc" | "chw";
}

/**
 * out = (v · unit − mean[c]) / std[c] in NCHW for `n` images of c×h×w, reading `src` as `format`
 * says (u8: 4 bytes per little-endian u32 word). `stats` holds [c] (mean, std) pairs as f32.
 */
export async function planPixels(
  rt: Runtime,
  s: { n: number; c: number; h: number; w: number },
  b: { src: GPUBuffer; stats: GPUBuffer; out: GPUBuffer },
  format: PixelFormat,
): Promise<Planned> {
  const total = s.n * s.c * s.h * s.w;
  if (!Number.isInteger(total) || total < 1) throw new RangeError(`pixels: bad shape ${s}`);
  const unit = format.type === "u8" ? 1 / 255 : 1;
  const u = rt.uniform(packParams([total, s.c, s.h * s.w, unit], new Set([3])));
  const k = await rt.kernel("infer", format.type === "u8" ? "pixels_u8" : "pixels_f32", {
    HWC: format.layout === "hwc" ? 1 : 0,
  });
  return {
    steps: [dispatchStep(rt, k, [u, b.src, b.stats, b.out], Math.ceil(total / WG))],
    scratch: [],
  };
}

/** probs[r, k] = softmax(logits[r, ·])[k] for `rows` rows of `classes`. */
export async function planSoftmaxRows(
  rt: Runtime,
  s: { rows: number; classes: number },
  b: { logits: GPUBuffer; probs: GPUBuffer },
): Promise<Planned> {
  if (b.logits === b.probs) throw new Error("softmax: logits and probs are one buffer");
  const u = rt.uniform(packParams([s.rows, s.classes]));
  const k = await rt.kernel("infer", "softmax_rows");
  return {
    steps: [dispatchStep(rt, k, [u, b.logits, b.probs], Math.ceil(s.rows / WG))],
    scratch: [],
  };
}
