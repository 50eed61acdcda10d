/**
 * Validation of a predictor call's images before anything reaches the GPU: type, length for the
 * number of images, and values (non-finite values and out-of-range pixel floats are refused,
 * naming the image and position, instead of producing garbage logits).
 */
import type { PixelFormat } from "../ops/infer.ts";
import { typeName } from "../util/typed.ts";

/**
 * A batch of images: a Float32Array (normalized NCHW, or [0, 1] pixels) or a Uint8Array /
 * Uint8ClampedArray of 0…255 pixels.
 */
export type ImageBatch = Float32Array | Uint8Array | Uint8ClampedArray;

/** Whether a call's images are already the network's normalized input or raw pixels. */
export type InputKind = "normalized" | "pixels";

/**
 * Checks `x` holds exactly `n` images of `shape` ([C, H, W]) as `input` says; returns the pixel
 * format to normalize on the GPU, or null for normalized input.
 */
export function checkImages(
  user: string,
  x: unknown,
  n: number,
  shape: readonly number[],
  input: InputKind,
  layout: "hwc" | "chw",
): PixelFormat | null {
  const [c, h, w] = shape;
  const bytes = x instanceof Uint8Array || x instanceof Uint8ClampedArray;
  if (!(x instanceof Float32Array) && !bytes) {
    throw new TypeError(
      `${user}: images must be a Float32Array${
        input === "pixels" ? " or a Uint8Array of 0…255 pixels" : " (normalized NCHW)"
      }, got ${typeName(x)}`,
    );
  }
  if (bytes && input === "normalized") {
    throw new TypeError(
      `${user}: a ${typeName(x)} holds raw pixels; pass { input: "pixels" } ` +
        `(normalized input is a Float32Array)`,
    );
  }
  const per = c * h * w, want = n * per;
  if (x.length !== want) {
    const order = input === "normalized"
      ? `${c}×${h}×${w}`
      : layout === "hwc"
      ? `${h}×${w}×${c} (HWC)`
      : `${c}×${h}×${w} (CHW)`;
    const hint = x.length % per === 0
      ? `it holds ${x.length / per} images`
      : `not a whole number of ${per}-value images`;
    throw new RangeError(
      `${user}: ${x.length} values for ${n} images of ${order}, expected ${want} (${hint})`,
    );
  }
  if (x instanceof Float32Array) checkValues(user, x, per, input === "pixels");
  return input === "pixels" ? { type: bytes ? "u8" : "f32", layout } : null;
}

function checkValues(user: string, x: Float32Array, per: number, pixels: boolean): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    // One comparison per value on the common path; NaN fails both forms.
    if (pixels ? v >= 0 && v <= 1 : v - v === 0) continue;
    const where = `image ${Math.floor(i / per)}, value ${i % per}`;
    if (!Number.isFinite(v)) {
      throw new RangeError(`${user}: ${where} is ${v}; images must be finite`);
    }
    throw new RangeError(
      `${user}: ${where} is ${v}; float pixels must be in [0, 1] ` +
        `(pass 0…255 pixels as a Uint8Array, or normalized images with { input: "normalized" })`,
    );
  }
}
