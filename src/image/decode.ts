/**
 * One call for any supported image: the format is sniffed from the bytes, the header checked
 * against the limits, then the PNG or JPEG decoder runs. Channel conversions follow Pillow's
 * `Image.convert`, which is what torchvision's ImageFolder applies to every file.
 */
import { type DecodedImage, type DecodeLimits, ImageDecodeError, sniffFormat } from "./header.ts";
import { decodeJpeg } from "./jpeg.ts";
import { decodePng } from "./png.ts";
import { checkUint8 } from "../util/typed.ts";

/**
 * Decodes a PNG or JPEG (sniffed from the bytes, not a file name) to interleaved uint8.
 * Throws {@link ImageDecodeError} naming the problem for anything else, for a corrupt or
 * truncated file, and, from the header alone, for an image over `limits`.
 *
 * ```ts
 * import { decodeImage, toRgb } from "@resgpu/resgpu/images";
 * const rgb = toRgb(decodeImage(await Deno.readFile("cat.jpg")));
 * console.log(rgb.width, rgb.height, rgb.data.length); // w, h, w·h·3
 * ```
 */
export function decodeImage(bytes: Uint8Array, limits: DecodeLimits = {}): DecodedImage {
  checkUint8(bytes, "image bytes");
  const format = sniffFormat(bytes);
  if (format === "png") return decodePng(bytes, limits);
  if (format === "jpeg") return decodeJpeg(bytes, limits);
  return decodePng(bytes, limits); // throws the header's error naming what the bytes are
}

/**
 * Three channels, as Pillow's `convert("RGB")`: gray is replicated, alpha dropped (not blended).
 * Returns the image itself when it is RGB already.
 *
 * ```ts
 * import { toRgb } from "@resgpu/resgpu/images";
 * const rgb = toRgb({ width: 1, height: 1, channels: 1, data: new Uint8Array([7]) });
 * console.log(rgb.data); // Uint8Array [7, 7, 7]
 * ```
 */
export function toRgb(img: DecodedImage): DecodedImage {
  const { width, height, channels: c, data } = img;
  if (c === 3) return img;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (c <= 2) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i * c];
    else {
      out[3 * i] = data[4 * i];
      out[3 * i + 1] = data[4 * i + 1];
      out[3 * i + 2] = data[4 * i + 2];
    }
  }
  return { width, height, channels: 3, data: out };
}

/**
 * One channel, as Pillow's `convert("L")`: ITU-R 601-2 luma in Pillow's fixed point,
 * (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16; gray+alpha drops the alpha.
 *
 * ```ts
 * import { toGray } from "@resgpu/resgpu/images";
 * const g = toGray({ width: 1, height: 1, channels: 3, data: new Uint8Array([255, 0, 0]) });
 * console.log(g.data); // Uint8Array [76]
 * ```
 */
export function toGray(img: DecodedImage): DecodedImage {
  const { width, height, channels: c, data } = img;
  if (c === 1) return img;
  const n = width * height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = c === 2
      ? data[2 * i]
      : (19595 * data[i * c] + 38470 * data[i * c + 1] + 7471 * data[i * c + 2] + 0x8000) >>> 16;
  }
  return { width, height, channels: 1, data: out };
}

export { type DecodedImage, ImageDecodeError };
