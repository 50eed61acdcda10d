/**
 * JPEG decoding with libjpeg-turbo 2.0 compiled to WebAssembly (the TurboJPEG API of npm
 * `@cwasm/jpeg-turbo`, driven directly rather than through its wrapper, which leaks its buffers on
 * a corrupt file and cannot say whether an image is gray). The same library as Pillow's, with the
 * same defaults (accurate integer IDCT, fancy upsampling), so decoded pixels equal Pillow's bit for
 * bit (tests/image/decode_pillow.test.ts). Why this decoder: docs/IMAGES.md.
 */
import jpegTurbo from "./jpeg_turbo_wasm.js";
import {
  type DecodedImage,
  type DecodeLimits,
  ImageDecodeError,
  readImageHeader,
} from "./header.ts";

interface TurboExports {
  memory: WebAssembly.Memory;
  malloc(n: number): number;
  free(p: number): void;
  tjInitDecompress(): number;
  tjDestroy(h: number): number;
  tjDecompressHeader3(
    h: number,
    src: number,
    size: number,
    w: number,
    ht: number,
    sub: number,
    cs: number,
  ): number;
  tjDecompress2(
    h: number,
    src: number,
    size: number,
    dst: number,
    w: number,
    pitch: number,
    ht: number,
    pf: number,
    flags: number,
  ): number;
}

const TJPF_RGB = 0, TJPF_GRAY = 6;
const TJCS_GRAY = 2, TJCS_CMYK = 3, TJCS_YCCK = 4;

/** libjpeg's error exit longjmps; this build's longjmp throws this, unwinding out of the module. */
class Longjmp extends Error {}

/**
 * A heap past this after a decode is dropped with its instance (wasm memory never shrinks): one
 * large photo must not pin its buffers for the rest of a run.
 */
const KEEP_HEAP_BYTES = 64 << 20;

let instance: TurboExports | null = null;

function turbo(): TurboExports {
  if (instance) return instance;
  const fail = (what: string) => () => {
    throw new Error(`libjpeg-turbo called ${what}, which this build does not provide`);
  };
  const inst = new WebAssembly.Instance(jpegTurbo, {
    env: {
      setjmp: () => 0,
      longjmp: () => {
        throw new Longjmp("libjpeg error exit");
      },
    },
    wasi_snapshot_preview1: {
      environ_sizes_get: () => 0,
      environ_get: fail("environ_get"),
      proc_exit: fail("proc_exit"),
      fd_close: fail("fd_close"),
      fd_seek: fail("fd_seek"),
      fd_write: fail("fd_write"),
    },
  });
  instance = inst.exports as unknown as TurboExports;
  return instance;
}

/** Whether the bytes have an end-of-image marker, for telling truncation from other damage. */
function hasEndMarker(b: Uint8Array): boolean {
  for (let i = b.length - 2; i >= Math.max(2, b.length - 4096); i--) {
    if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  }
  return false;
}

/**
 * Decodes a baseline or progressive JPEG (gray or YCbCr/RGB, 8-bit) to interleaved uint8: one
 * channel for gray, three for color. CMYK, 12-bit and lossless JPEGs and sizes over `limits` are
 * refused from the header, before decoding.
 *
 * ```ts
 * import { decodeJpeg } from "@resgpu/resgpu/images";
 * const img = decodeJpeg(await Deno.readFile("photo.jpg"));
 * console.log(img.width, img.height, img.channels); // e.g. 500 375 3
 * ```
 */
export function decodeJpeg(bytes: Uint8Array, limits: DecodeLimits = {}): DecodedImage {
  const h = readImageHeader(bytes, limits);
  if (h.format !== "jpeg") throw new ImageDecodeError("format", `not a JPEG (a ${h.format})`);
  const t = turbo();
  let src = 0, meta = 0, dst = 0, handle = 0;
  let failed = true;
  try {
    src = t.malloc(bytes.length);
    meta = t.malloc(16);
    handle = t.tjInitDecompress();
    if (!src || !meta || !handle) throw new ImageDecodeError("limit", "JPEG decoder out of memory");
    new Uint8Array(t.memory.buffer, src, bytes.length).set(bytes);
    if (
      t.tjDecompressHeader3(handle, src, bytes.length, meta, meta + 4, meta + 8, meta + 12) !== 0
    ) {
      throw new ImageDecodeError("corrupt", "JPEG header is corrupt (libjpeg-turbo refused it)");
    }
    const [width, height, , colorspace] = new Int32Array(t.memory.buffer, meta, 4);
    // libjpeg reads the same frame header we did; a mismatch means a header we misread.
    if (width !== h.width || height !== h.height) {
      throw new ImageDecodeError(
        "corrupt",
        `JPEG headers disagree on the size (${width}×${height})`,
      );
    }
    if (colorspace === TJCS_CMYK || colorspace === TJCS_YCCK) {
      throw new ImageDecodeError("format", "CMYK JPEG is not supported: convert it to RGB first");
    }
    const channels = colorspace === TJCS_GRAY ? 1 : 3;
    const size = width * height * channels;
    dst = t.malloc(size);
    if (!dst) {
      throw new ImageDecodeError("limit", `JPEG decoder out of memory for ${width}×${height}`);
    }
    const rc = t.tjDecompress2(
      handle,
      src,
      bytes.length,
      dst,
      width,
      width * channels,
      height,
      channels === 1 ? TJPF_GRAY : TJPF_RGB,
      0,
    );
    // TurboJPEG 2.0 returns -1 for warnings too (e.g. premature end of data), which Pillow
    // reports as a truncated image: both refuse such a file.
    if (rc !== 0) throw corrupt(bytes);
    const data = new Uint8Array(size);
    data.set(new Uint8Array(t.memory.buffer, dst, size));
    failed = false;
    return { width, height, channels, data };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    if (e instanceof Longjmp || e instanceof WebAssembly.RuntimeError) throw corrupt(bytes);
    throw e;
  } finally {
    if (failed || t.memory.buffer.byteLength > KEEP_HEAP_BYTES) {
      // After a longjmp the library's own allocations are unreachable: start a fresh instance.
      instance = null;
    } else {
      if (handle) t.tjDestroy(handle);
      if (dst) t.free(dst);
      if (meta) t.free(meta);
      if (src) t.free(src);
    }
  }
}

function corrupt(bytes: Uint8Array): ImageDecodeError {
  return new ImageDecodeError(
    "corrupt",
    hasEndMarker(bytes)
      ? "JPEG data is corrupt (libjpeg-turbo refused it)"
      : "JPEG is truncated (no end-of-image marker; libjpeg-turbo refused it)",
  );
}
