/**
 * PNG decoding: every color type and bit depth of the standard (gray 1–16 bits, gray+alpha, RGB,
 * RGBA, palette 1–8 bits), Adam7 interlacing, all five filters. Inflation is node:zlib's native
 * inflate, bounded by the size the header implies, so a small file that inflates to gigabytes is
 * refused after at most that many bytes; every chunk's CRC is checked, so a flipped bit is an
 * error rather than wrong pixels. Why our own decoder: docs/IMAGES.md.
 */
import { inflateSync } from "node:zlib";
import {
  type DecodedImage,
  type DecodeLimits,
  ImageDecodeError,
  readImageHeader,
} from "./header.ts";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/**
 * Decodes a PNG to interleaved uint8: gray 1 channel, gray+alpha 2, RGB and palette 3, RGBA 4.
 * 16-bit samples keep their high byte (as Pillow does for RGB); lower depths are scaled to 0–255;
 * ancillary chunks (gamma, ICC profiles, text) are ignored, as Pillow's pixel data ignores them.
 *
 * ```ts
 * import { decodePng } from "@resgpu/resgpu/images";
 * const img = decodePng(await Deno.readFile("plot.png"));
 * console.log(img.width, img.height, img.channels);
 * ```
 */
export function decodePng(bytes: Uint8Array, limits: DecodeLimits = {}): DecodedImage {
  const h = readImageHeader(bytes, limits);
  if (h.format !== "png") throw new ImageDecodeError("format", `not a PNG (a ${h.format})`);
  const { width, height, bitDepth, colorType = 0 } = h;
  const samples = colorType === 3 ? 1 : h.channels; // per pixel as stored
  const idat: Uint8Array[] = [];
  let palette: Uint8Array | null = null;
  let ended = false;
  for (let o = 8; o < bytes.length;) {
    if (o + 12 > bytes.length) throw truncated("inside a chunk header");
    const len = be32(bytes, o);
    const type = String.fromCharCode(bytes[o + 4], bytes[o + 5], bytes[o + 6], bytes[o + 7]);
    if (len > 0x7fffffff || o + 12 + len > bytes.length) {
      throw truncated(`inside its ${printable(type)} chunk (${len} bytes declared)`);
    }
    if (crc32(bytes, o + 4, o + 8 + len) !== be32(bytes, o + 8 + len)) {
      throw new ImageDecodeError("corrupt", `PNG ${printable(type)} chunk fails its CRC check`);
    }
    const data = bytes.subarray(o + 8, o + 8 + len);
    if (type === "IDAT") idat.push(data);
    else if (type === "PLTE") {
      if (len % 3 !== 0 || len === 0 || len > 768) {
        throw new ImageDecodeError("corrupt", `PNG palette has an invalid length ${len}`);
      }
      palette = data;
    } else if (type === "IEND") {
      ended = true;
      break;
    }
    o += 12 + len;
  }
  if (idat.length === 0) {
    throw ended
      ? new ImageDecodeError("corrupt", "PNG has no image data")
      : truncated("before its image data");
  }
  if (colorType === 3 && !palette) {
    throw new ImageDecodeError("corrupt", "PNG palette image has no palette (PLTE chunk)");
  }
  const passes = h.interlaced ? ADAM7 : [[0, 0, 1, 1]];
  let expected = 0;
  for (const [xs, ys, dx, dy] of passes) {
    const pw = Math.ceil((width - xs) / dx), ph = Math.ceil((height - ys) / dy);
    if (pw > 0 && ph > 0) expected += ph * (1 + Math.ceil((pw * samples * bitDepth) / 8));
  }
  const raw = inflate(concat(idat), expected);
  const channels = colorType === 3 ? 3 : h.channels;
  const out = new Uint8Array(width * height * channels);
  const bpp = Math.max(1, (samples * bitDepth) >> 3);
  let o = 0;
  for (const [xs, ys, dx, dy] of passes) {
    const pw = Math.ceil((width - xs) / dx), ph = Math.ceil((height - ys) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * samples * bitDepth) / 8);
    for (let r = 0; r < ph; r++) {
      unfilterRow(raw, o, r === 0 ? -1 : o - stride - 1, stride, bpp);
      emitRow(
        raw,
        o + 1,
        pw,
        (ys + r * dy) * width + xs,
        dx,
        out,
        h.channels,
        colorType,
        bitDepth,
        palette,
      );
      o += stride + 1;
    }
  }
  return { width, height, channels: channels as 1 | 2 | 3 | 4, data: out };
}

function truncated(where: string): ImageDecodeError {
  return new ImageDecodeError("corrupt", `PNG is truncated ${where}`);
}

function printable(type: string): string {
  return /^[A-Za-z]{4}$/.test(type) ? type : JSON.stringify(type);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function inflate(z: Uint8Array, expected: number): Uint8Array {
  let raw: Uint8Array;
  try {
    // One byte over what the image needs, so "too much data" is told from "exactly enough".
    const buf = inflateSync(z, { maxOutputLength: expected + 1 });
    // A plain Uint8Array view: V8's element access on the Buffer subclass is several times slower.
    raw = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof RangeError && /larger than/.test(msg)) {
      throw new ImageDecodeError(
        "corrupt",
        `PNG image data inflates to more than the ${expected} bytes its header implies`,
      );
    }
    throw new ImageDecodeError("corrupt", `PNG image data is corrupt or truncated (${msg})`);
  }
  if (raw.length < expected) {
    throw new ImageDecodeError(
      "corrupt",
      `PNG image data is short: ${raw.length} of the ${expected} bytes its header implies`,
    );
  }
  if (raw.length > expected) {
    throw new ImageDecodeError(
      "corrupt",
      `PNG image data inflates to more than the ${expected} bytes its header implies`,
    );
  }
  return raw;
}

/** Undoes one row's filter in place; the filter byte is at `o`, the row at o+1. */
function unfilterRow(b: Uint8Array, o: number, prev: number, stride: number, bpp: number): void {
  const f = b[o];
  const s = o + 1, p = prev + 1;
  switch (f) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < stride; i++) b[s + i] = (b[s + i] + b[s + i - bpp]) & 0xff;
      return;
    case 2:
      if (prev < 0) return;
      for (let i = 0; i < stride; i++) b[s + i] = (b[s + i] + b[p + i]) & 0xff;
      return;
    case 3:
      if (prev < 0) {
        for (let i = bpp; i < stride; i++) b[s + i] = (b[s + i] + (b[s + i - bpp] >> 1)) & 0xff;
        return;
      }
      for (let i = 0; i < bpp; i++) b[s + i] = (b[s + i] + (b[p + i] >> 1)) & 0xff;
      for (let i = bpp; i < stride; i++) {
        b[s + i] = (b[s + i] + ((b[s + i - bpp] + b[p + i]) >> 1)) & 0xff;
      }
      return;
    case 4:
      // Without a previous row Paeth predicts from the left (as filter 1); its first pixel from
      // above (as filter 2).
      if (prev < 0) {
        for (let i = bpp; i < stride; i++) b[s + i] = (b[s + i] + b[s + i - bpp]) & 0xff;
        return;
      }
      for (let i = 0; i < bpp; i++) b[s + i] = (b[s + i] + b[p + i]) & 0xff;
      // Branch-free: on photographs the predictor's choice is noise, and mispredicted branches
      // made this loop 3× slower (measured on a 500×375 photo).
      for (let i = bpp; i < stride; i++) {
        const a = b[s + i - bpp], up = b[p + i], c = b[p + i - bpp];
        const x = up - c, y = a - c, t = x + y;
        const pa = (x ^ (x >> 31)) - (x >> 31);
        const pb = (y ^ (y >> 31)) - (y >> 31);
        const pc = (t ^ (t >> 31)) - (t >> 31);
        const notA = ((pb - pa) | (pc - pa)) >> 31, useC = (pc - pb) >> 31;
        b[s + i] += (a & ~notA) | (((up & ~useC) | (c & useC)) & notA);
      }
      return;
    default:
      throw new ImageDecodeError("corrupt", `PNG row has an unknown filter type ${f}`);
  }
}

/** Writes one unfiltered row of `pw` pixels to `out`, pixel k at (first + k·step). */
function emitRow(
  b: Uint8Array,
  s: number,
  pw: number,
  first: number,
  step: number,
  out: Uint8Array,
  stored: number,
  colorType: number,
  depth: number,
  palette: Uint8Array | null,
): void {
  if (colorType === 3) {
    const entries = palette!.length / 3;
    for (let k = 0; k < pw; k++) {
      const idx = depth === 8 ? b[s + k] : subByte(b, s, k, depth);
      const d = (first + k * step) * 3;
      // An index past the palette reads as black, as in Pillow (whose palette is zero-filled).
      if (idx < entries) {
        out[d] = palette![idx * 3];
        out[d + 1] = palette![idx * 3 + 1];
        out[d + 2] = palette![idx * 3 + 2];
      } else out[d] = out[d + 1] = out[d + 2] = 0;
    }
    return;
  }
  if (depth === 8) {
    if (step === 1) out.set(b.subarray(s, s + pw * stored), first * stored);
    else {
      for (let k = 0; k < pw; k++) {
        for (let c = 0; c < stored; c++) {
          out[(first + k * step) * stored + c] = b[s + k * stored + c];
        }
      }
    }
  } else if (depth === 16) {
    for (let k = 0; k < pw; k++) {
      for (let c = 0; c < stored; c++) {
        out[(first + k * step) * stored + c] = b[s + 2 * (k * stored + c)];
      }
    }
  } else {
    // Gray at 1, 2 or 4 bits, scaled to 0..255 (×255, ×85, ×17).
    const scale = 255 / ((1 << depth) - 1);
    for (let k = 0; k < pw; k++) out[first + k * step] = subByte(b, s, k, depth) * scale;
  }
}

/** Sample k of a row packed at `depth` < 8 bits, most significant bits first. */
function subByte(b: Uint8Array, s: number, k: number, depth: number): number {
  const bit = k * depth;
  return (b[s + (bit >> 3)] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}
