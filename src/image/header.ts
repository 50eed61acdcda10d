/**
 * Image headers read without decoding: the format (sniffed from the first bytes, never the file
 * name), the size, and what the decoder would have to do. Every limit is enforced here, before a
 * decoder allocates anything, so a 20,000×20,000 image of a few kilobytes (a decompression bomb)
 * costs nothing but this read.
 */
import { checkUint8 } from "../util/typed.ts";

/** A file that is not a decodable image, or one refused by a limit; the message names why. */
export class ImageDecodeError extends Error {
  /** What kind of problem: `format` (not PNG/JPEG or an unsupported variant), `limit`, `corrupt`. */
  readonly kind: "format" | "limit" | "corrupt";
  /** `kind` says which of the three kinds of problem; `message` names it. */
  constructor(kind: "format" | "limit" | "corrupt", message: string) {
    super(message);
    this.name = "ImageDecodeError";
    this.kind = kind;
  }
}

/** Decoding limits; both are checked against the header before any pixel is decoded. */
export interface DecodeLimits {
  /** Largest width × height accepted (default {@link DEFAULT_MAX_PIXELS}). */
  maxPixels?: number;
  /** Largest width or height accepted (default {@link DEFAULT_MAX_SIDE}). */
  maxSide?: number;
}

/**
 * 40 megapixels: a 7,300×5,475 photo, more than any camera image a classifier is fed, and 120 MB
 * decoded as RGB (the most a decode allocates, plus its input). 20,000×20,000 is refused.
 */
export const DEFAULT_MAX_PIXELS = 40_000_000;
/** 16,384 pixels a side: wider panoramas are refused rather than decoded into a tiny crop. */
export const DEFAULT_MAX_SIDE = 16_384;

/** Decoded pixels, interleaved (height × width × channels), uint8. */
export interface DecodedImage {
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** height × width × channels samples. */
  data: Uint8Array;
}

/** The formats resgpu decodes. */
export type ImageFormat = "png" | "jpeg";

/** What an image's header says, validated. */
export interface ImageHeader {
  /** PNG or JPEG. */
  format: ImageFormat;
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
  /** Channels as stored: 1 gray, 2 gray+alpha, 3 RGB/YCbCr or palette, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** Bits per sample as stored (PNG 1, 2, 4, 8 or 16; JPEG 8). */
  bitDepth: number;
  /** PNG: palette image (decoded to RGB). */
  palette?: boolean;
  /** PNG: Adam7 interlaced; JPEG: progressive. */
  interlaced: boolean;
  /** PNG color type (0, 2, 3, 4, 6); JPEG: undefined. */
  colorType?: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format the bytes start with, or null. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  return null;
}

/** Names a few formats people have in image folders, for the error that refuses them. */
function otherFormat(b: Uint8Array): string | null {
  const ascii = (o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));
  if (ascii(0, 4) === "GIF8") return "GIF";
  if (ascii(0, 2) === "BM") return "BMP";
  if (ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") return "WebP";
  if (ascii(0, 4) === "II*\0" || ascii(0, 4) === "MM\0*") return "TIFF";
  if (ascii(4, 8) === "ftypavif" || ascii(4, 8) === "ftypheic") return "AVIF/HEIC";
  if (b[0] === 0x50 && b[1] >= 0x31 && b[1] <= 0x36) return "PNM";
  return null;
}

/**
 * Reads and validates the header: format, size, variant. Throws {@link ImageDecodeError} for
 * anything resgpu will not decode (other formats, CMYK, 12-bit or lossless JPEG, sizes over the
 * limits), before any pixel work.
 */
export function readImageHeader(bytes: Uint8Array, limits: DecodeLimits = {}): ImageHeader {
  checkUint8(bytes, "image bytes");
  const format = sniffFormat(bytes);
  let h: ImageHeader;
  if (format === "png") h = readPngHeader(bytes);
  else if (format === "jpeg") h = readJpegHeader(bytes);
  else {
    const other = bytes.length >= 12 ? otherFormat(bytes) : null;
    throw new ImageDecodeError(
      "format",
      bytes.length === 0
        ? "empty file, not an image"
        : other
        ? `${other} images are not supported: resgpu decodes PNG and JPEG (convert it)`
        : "not a PNG or JPEG file (unrecognised first bytes)",
    );
  }
  checkLimits(h, limits);
  return h;
}

/** Throws ImageDecodeError (kind `limit`) when a size is over `limits`. */
export function checkLimits(h: { width: number; height: number }, limits: DecodeLimits): void {
  const maxPixels = limits.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxSide = limits.maxSide ?? DEFAULT_MAX_SIDE;
  if (h.width > maxSide || h.height > maxSide || h.width * h.height > maxPixels) {
    throw new ImageDecodeError(
      "limit",
      `${h.width}×${h.height} pixels is over the decoding limit (${maxSide} a side, ` +
        `${maxPixels.toLocaleString("en")} pixels in all): refused before decoding ` +
        "(raise DecodeLimits.maxPixels/maxSide to accept it)",
    );
  }
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

const PNG_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
const PNG_CHANNELS: Record<number, 1 | 2 | 3 | 4> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

function readPngHeader(b: Uint8Array): ImageHeader {
  // Signature (8), IHDR length (4) and type (4), 13 data bytes, CRC (4).
  if (b.length < 33) throw new ImageDecodeError("corrupt", "PNG is truncated inside its header");
  if (be32(b, 8) !== 13 || String.fromCharCode(...b.subarray(12, 16)) !== "IHDR") {
    throw new ImageDecodeError("corrupt", "PNG does not start with a 13-byte IHDR chunk");
  }
  const width = be32(b, 16), height = be32(b, 20);
  const bitDepth = b[24], colorType = b[25];
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new ImageDecodeError("corrupt", `PNG header has an invalid size ${width}×${height}`);
  }
  if (!(colorType in PNG_DEPTHS)) {
    throw new ImageDecodeError("corrupt", `PNG has an invalid color type ${colorType}`);
  }
  if (!PNG_DEPTHS[colorType].includes(bitDepth)) {
    throw new ImageDecodeError(
      "corrupt",
      `PNG color type ${colorType} cannot have bit depth ${bitDepth}`,
    );
  }
  if (b[26] !== 0 || b[27] !== 0 || b[28] > 1) {
    throw new ImageDecodeError(
      "corrupt",
      `PNG has an unknown compression (${b[26]}), filter (${b[27]}) or interlace (${b[28]}) method`,
    );
  }
  return {
    format: "png",
    width,
    height,
    channels: PNG_CHANNELS[colorType],
    bitDepth,
    palette: colorType === 3,
    interlaced: b[28] === 1,
    colorType,
  };
}

/** JPEG start-of-frame markers and what each is. */
const SOF_KINDS: Record<number, string> = {
  0xc0: "baseline",
  0xc1: "extended sequential",
  0xc2: "progressive",
  0xc3: "lossless",
  0xc5: "differential sequential",
  0xc6: "differential progressive",
  0xc7: "differential lossless",
  0xc9: "arithmetic sequential",
  0xca: "arithmetic progressive",
  0xcb: "arithmetic lossless",
  0xcd: "arithmetic differential sequential",
  0xce: "arithmetic differential progressive",
  0xcf: "arithmetic differential lossless",
};
// Arithmetic-coded JPEGs are rare and no test image of one can be made here: refused, not guessed.
const SOF_DECODABLE = new Set([0xc0, 0xc1, 0xc2]);

/** Walks the marker segments up to the first start-of-frame. */
function readJpegHeader(b: Uint8Array): ImageHeader {
  let o = 2;
  let adobeTransform = -1;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) {
      throw new ImageDecodeError(
        "corrupt",
        `JPEG marker expected at byte ${o}, found 0x${hex(b[o])}`,
      );
    }
    const marker = b[o + 1];
    if (marker === 0xff) { // fill byte
      o++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      o += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) {
      throw new ImageDecodeError(
        "corrupt",
        `JPEG has no frame header (reached ${
          marker === 0xd9 ? "end of image" : "scan data"
        } first)`,
      );
    }
    const len = (b[o + 2] << 8) | b[o + 3];
    if (len < 2) {
      throw new ImageDecodeError("corrupt", `JPEG segment at byte ${o} has length ${len}`);
    }
    if (
      marker === 0xee && len >= 14 && String.fromCharCode(...b.subarray(o + 4, o + 9)) === "Adobe"
    ) {
      adobeTransform = b[o + 15] ?? -1;
    }
    if (marker in SOF_KINDS) {
      if (o + 4 + 6 > b.length) break;
      const kind = SOF_KINDS[marker];
      const precision = b[o + 4];
      const height = (b[o + 5] << 8) | b[o + 6], width = (b[o + 7] << 8) | b[o + 8];
      const components = b[o + 9];
      if (!SOF_DECODABLE.has(marker)) {
        throw new ImageDecodeError(
          "format",
          `${kind} JPEG is not supported (baseline and progressive are)`,
        );
      }
      if (precision !== 8) {
        throw new ImageDecodeError("format", `${precision}-bit JPEG is not supported (8-bit is)`);
      }
      if (components === 4) {
        throw new ImageDecodeError(
          "format",
          `CMYK JPEG is not supported${adobeTransform === 2 ? " (YCCK)" : ""}: convert it to RGB ` +
            "first (e.g. Pillow: Image.open(f).convert('RGB').save(...))",
        );
      }
      if (components !== 1 && components !== 3) {
        throw new ImageDecodeError("format", `JPEG with ${components} components is not supported`);
      }
      if (width === 0 || height === 0) {
        throw new ImageDecodeError(
          "corrupt",
          `JPEG frame header has an invalid size ${width}×${height}`,
        );
      }
      return {
        format: "jpeg",
        width,
        height,
        channels: components as 1 | 3,
        bitDepth: 8,
        interlaced: marker === 0xc2,
      };
    }
    o += 2 + len;
  }
  throw new ImageDecodeError("corrupt", "JPEG truncated before its frame header");
}

function hex(v: number | undefined): string {
  return (v ?? 0).toString(16).padStart(2, "0");
}
