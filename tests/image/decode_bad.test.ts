/**
 * Bad image bytes end in an ImageDecodeError naming the problem — never another exception, a
 * hang, or an allocation the header did not justify. Sizes over the limits are refused from the
 * header alone.
 */
import assert from "node:assert/strict";
import {
  decodeImage,
  decodeJpeg,
  decodePng,
  DEFAULT_MAX_PIXELS,
  ImageDecodeError,
  readImageHeader,
} from "../../images.ts";
import {
  encodePng,
  pattern,
  TINY_JPEG,
  TINY_PROGRESSIVE_JPEG,
  withIhdrSize,
} from "../helpers/images.ts";
import { Rng } from "../../src/util/rng.ts";

function rejects(f: () => unknown, kind: ImageDecodeError["kind"], re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ImageDecodeError, `expected ImageDecodeError, got ${e}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  });
}

/** The offset of the JPEG's SOF height field. */
function sofOffset(jpeg: Uint8Array): number {
  for (let o = 2; o < jpeg.length;) {
    const m = jpeg[o + 1];
    if (m === 0xc0 || m === 0xc2) return o + 5;
    o += 2 + ((jpeg[o + 2] << 8) | jpeg[o + 3]);
  }
  throw new Error("no SOF");
}

const png = encodePng(7, 5, 3, pattern(7, 5, 3));

Deno.test("decode: the helpers' valid images decode", () => {
  assert.deepEqual(decodePng(png).data, pattern(7, 5, 3));
  for (const j of [TINY_JPEG, TINY_PROGRESSIVE_JPEG]) {
    const img = decodeJpeg(j);
    assert.deepEqual([img.width, img.height, img.channels], [24, 16, 3]);
  }
  const one = decodeImage(encodePng(1, 1, 4, new Uint8Array([1, 2, 3, 4])));
  assert.deepEqual([one.width, one.height, [...one.data]], [1, 1, [1, 2, 3, 4]]);
});

Deno.test("decode: not an image, another format, or not bytes", () => {
  rejects(() => decodeImage(new Uint8Array(0)), "format", /empty file/);
  rejects(
    () => decodeImage(new TextEncoder().encode("hello, world\n")),
    "format",
    /not a PNG or JPEG/,
  );
  rejects(
    () => decodeImage(new TextEncoder().encode("GIF89a........")),
    "format",
    /GIF images are not supported/,
  );
  rejects(() => decodeImage(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 ")), "format", /WebP/);
  rejects(() => decodePng(TINY_JPEG), "format", /not a PNG \(a jpeg\)/);
  rejects(() => decodeJpeg(png), "format", /not a JPEG \(a png\)/);
  assert.throws(() => decodeImage([1, 2] as unknown as Uint8Array), TypeError);
});

Deno.test("decode: decompression bombs are refused from the header, before any decoding", () => {
  // 20,000×20,000: 1.2 GB as RGB from a file of a few hundred bytes.
  rejects(() => decodePng(withIhdrSize(png, 20000, 20000)), "limit", /20000×20000 pixels is over/);
  const j = TINY_JPEG.slice();
  j[sofOffset(j)] = 20000 >> 8;
  j[sofOffset(j) + 1] = 20000 & 0xff;
  j[sofOffset(j) + 2] = 20000 >> 8;
  j[sofOffset(j) + 3] = 20000 & 0xff;
  rejects(() => decodeJpeg(j), "limit", /20000×20000 pixels is over the decoding limit/);
  // One long side over maxSide, and the limits are settable.
  rejects(() => readImageHeader(withIhdrSize(png, 20000, 1)), "limit", /16384 a side/);
  rejects(() => decodePng(png, { maxPixels: 34 }), "limit", /7×5 pixels/);
  assert.equal(decodePng(png, { maxPixels: 35 }).width, 7);
  assert.ok(DEFAULT_MAX_PIXELS < 20000 * 20000);
});

Deno.test("decode: a PNG whose header lies about its size", () => {
  // Bigger than its data: the inflated data is short. Smaller: it inflates to more.
  rejects(() => decodePng(withIhdrSize(png, 7, 6)), "corrupt", /image data is short/);
  rejects(() => decodePng(withIhdrSize(png, 6, 5)), "corrupt", /inflates to more than/);
  rejects(() => decodePng(withIhdrSize(png, 0, 5)), "corrupt", /invalid size 0×5/);
});

Deno.test("decode: truncated files are named as truncated or corrupt", () => {
  for (const cut of [10, 30, 40, png.length - 20, png.length - 13]) {
    rejects(() => decodePng(png.subarray(0, cut)), "corrupt", /PNG (is truncated|image data)/);
  }
  // Only the end chunk missing: every pixel is there, and it decodes (as in Pillow).
  assert.deepEqual(decodePng(png.subarray(0, png.length - 12)).data, pattern(7, 5, 3));
  rejects(
    () => decodeJpeg(TINY_JPEG.subarray(0, 100)),
    "corrupt",
    /JPEG truncated before its frame/,
  );
  for (const j of [TINY_JPEG, TINY_PROGRESSIVE_JPEG]) {
    rejects(() => decodeJpeg(j.subarray(0, j.length - 40)), "corrupt", /JPEG is truncated/);
  }
});

Deno.test("decode: a flipped bit in a PNG fails its chunk's CRC", () => {
  const bad = png.slice();
  bad[45] ^= 0x10; // inside the IDAT data
  rejects(() => decodePng(bad), "corrupt", /IDAT chunk fails its CRC check/);
});

Deno.test("decode: 12-bit, lossless and CMYK JPEGs are refused from the header", () => {
  const at = sofOffset(TINY_JPEG) - 4; // the SOF marker byte
  const lossless = TINY_JPEG.slice();
  lossless[at] = 0xc3;
  rejects(() => decodeJpeg(lossless), "format", /lossless JPEG is not supported/);
  const twelve = TINY_JPEG.slice();
  twelve[at + 3] = 12;
  rejects(() => decodeJpeg(twelve), "format", /12-bit JPEG/);
  const cmyk = TINY_JPEG.slice();
  cmyk[at + 8] = 4;
  rejects(() => decodeJpeg(cmyk), "format", /CMYK JPEG is not supported/);
});

/**
 * Random damage — truncation, bit flips, byte runs — to valid files: every outcome is a decoded
 * image of the header's size or an ImageDecodeError. JPEG has no checksum, so a flip inside its
 * entropy-coded data may decode to other pixels; that is the format, not a decoder fault.
 */
Deno.test("decode: random damage ends in pixels or an ImageDecodeError, nothing else", () => {
  const rng = new Rng(24);
  const sources = [png, encodePng(16, 9, 1, pattern(16, 9, 1)), TINY_JPEG, TINY_PROGRESSIVE_JPEG];
  let errors = 0, decoded = 0;
  for (let trial = 0; trial < 600; trial++) {
    const src = sources[trial % sources.length];
    let b = src.slice();
    const kind = rng.int(3);
    if (kind === 0) b = b.subarray(0, rng.int(b.length));
    else if (kind === 1) {
      for (let k = 0, n = 1 + rng.int(4); k < n; k++) b[rng.int(b.length)] ^= 1 << rng.int(8);
    } else {
      const at = rng.int(b.length), n = 1 + rng.int(16);
      for (let k = at; k < Math.min(b.length, at + n); k++) b[k] = rng.int(256);
    }
    try {
      const img = decodeImage(b);
      assert.equal(img.data.length, img.width * img.height * img.channels);
      decoded++;
    } catch (e) {
      if (!(e instanceof ImageDecodeError)) throw new Error(`trial ${trial}: ${e}`, { cause: e });
      errors++;
    }
  }
  assert.ok(errors > 300, `${errors} errors, ${decoded} decoded`);
});
