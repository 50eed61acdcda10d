/** Small images made in TypeScript for tests that must not need Python: a PNG encoder and two JPEGs. */
// zlib's CRC, not the decoder's: the files these tests feed the decoder must not share its bugs.
import { crc32, deflateSync } from "node:zlib";

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * `png` with its IHDR rewritten to claim `width`×`height` and its CRC fixed, so only the size lies
 * (a decompression bomb's header, or a size that disagrees with the pixel data).
 */
export function withIhdrSize(png: Uint8Array, width: number, height: number): Uint8Array {
  const out = png.slice();
  const v = new DataView(out.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  v.setUint32(29, crc32(out.subarray(12, 29)));
  return out;
}

/**
 * An 8-bit PNG (gray, gray+alpha, RGB or RGBA by channel count) of interleaved `data`, rows
 * unfiltered. `header` overrides the IHDR's width and height (for lying headers).
 */
export function encodePng(
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  data: Uint8Array,
  header: { width?: number; height?: number } = {},
): Uint8Array {
  const raw = new Uint8Array(height * (1 + width * channels));
  for (let y = 0; y < height; y++) {
    raw.set(
      data.subarray(y * width * channels, (y + 1) * width * channels),
      y * (1 + width * channels) + 1,
    );
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, header.width ?? width);
  v.setUint32(4, header.height ?? height);
  ihdr[8] = 8;
  ihdr[9] = { 1: 0, 2: 4, 3: 2, 4: 6 }[channels];
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A gradient pattern, interleaved uint8, for any size and channel count. */
export function pattern(width: number, height: number, channels: number, seed = 0): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  for (let i = 0; i < out.length; i++) out[i] = (i * 37 + seed * 101 + (i >> 5)) & 0xff;
  return out;
}

const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** 24×16 RGB, quality 80, written by Pillow: baseline 4:2:0. */
export const TINY_JPEG = b64(
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAAQABgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDxHT/DvT5P0rptP8O9Pk/Su+0/w70+T9K6bT/DvT5P0rhp43zPNyfiPbU4HT/DvT5P0or2TT/DvT5P0ortjjdNz9IwnEf7tan/2Q==",
);
/** The same image, progressive. */
export const TINY_PROGRESSIVE_JPEG = b64(
  "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wgARCAAQABgDASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABQAG/8QAFgEBAQEAAAAAAAAAAAAAAAAAAwQG/9oADAMBAAIQAxAAAAHEJvphMBbKbSf/xAAWEAADAAAAAAAAAAAAAAAAAAAAAwT/2gAIAQEAAQUCXOLnFzi5xc4uc//EABgRAAIDAAAAAAAAAAAAAAAAAAAFAwQi/9oACAEDAQE/AabEiY5P/8QAFxEAAwEAAAAAAAAAAAAAAAAAAAEDAv/aAAgBAgEBPwHNhWP/xAAUEAEAAAAAAAAAAAAAAAAAAAAg/9oACAEBAAY/Al//xAAVEAEBAAAAAAAAAAAAAAAAAAAAYf/aAAgBAQABPyGKKKKKL//aAAwDAQACAAMAAAAQAC//xAAWEQEBAQAAAAAAAAAAAAAAAAAhADH/2gAIAQMBAT8QxYzf/8QAFxEBAAMAAAAAAAAAAAAAAAAAACExYf/aAAgBAgEBPxDVDb//xAAWEAADAAAAAAAAAAAAAAAAAAAAMcH/2gAIAQEAAT8QRIiREiJESIk//9k=",
);
