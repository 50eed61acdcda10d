/**
 * IDX reader for MNIST-family files (images: ubyte × 3 dims, labels: ubyte × 1 dim), raw or
 * gzipped. Every failure names the file, because a data directory usually holds four look-alike
 * files and "bad magic" alone does not tell which one is broken.
 */
import { openForReading, readInto } from "../io/file_read.ts";

/** Dtype code 0x08 (unsigned byte) is the only one MNIST-family data uses. */
const UBYTE = 0x08;

export interface IdxImages {
  count: number;
  height: number;
  width: number;
  /** count × height × width bytes, row-major. */
  data: Uint8Array;
}

/**
 * The largest IDX payload read (1 GiB; MNIST's training images are 47 MB). A header declaring
 * more is refused before anything of that size is allocated or inflated.
 */
export const IDX_MAX_BYTES = 2 ** 30;

/** Validates an IDX header (magic, dtype, dimension count, sizes) from its first bytes. */
function idxHeader(
  bytes: Uint8Array,
  file: string,
  expectedDims: number,
): { dims: number[]; headerLen: number; payload: number } {
  if (bytes.length < 4) {
    throw new Error(
      `${file}: truncated IDX header: expected at least 4 bytes, got ${bytes.length}`,
    );
  }
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const want = (UBYTE << 8) | expectedDims;
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[3] !== expectedDims) {
    throw new Error(
      `${file}: wrong magic number 0x${hex(magic)} (expected 0x${hex(want)}: ` +
        `ubyte IDX with ${expectedDims} dimension${expectedDims === 1 ? "" : "s"})`,
    );
  }
  if (bytes[2] !== UBYTE) {
    throw new Error(
      `${file}: wrong dtype code 0x${bytes[2].toString(16).padStart(2, "0")} ` +
        `(expected 0x08, unsigned byte)`,
    );
  }
  const headerLen = 4 + 4 * expectedDims;
  if (bytes.length < headerLen) {
    throw new Error(
      `${file}: truncated IDX header: expected ${headerLen} bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < expectedDims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const payload = dims.reduce((a, b) => a * b, 1);
  if (payload > IDX_MAX_BYTES) {
    throw new Error(
      `${file}: shape [${dims.join(", ")}] declares ${payload} bytes of data, more than the ` +
        `${IDX_MAX_BYTES}-byte limit`,
    );
  }
  return { dims, headerLen, payload };
}

/**
 * Validates the IDX header (magic 00 00 <dtype> <ndim>, then ndim big-endian u32 sizes) and
 * returns the dims and a view of the payload.
 */
export function parseIdx(
  bytes: Uint8Array,
  file: string,
  expectedDims: number,
): { dims: number[]; data: Uint8Array } {
  const { dims, headerLen, payload } = idxHeader(bytes, file, expectedDims);
  checkLength(bytes.length - headerLen, payload, dims, file);
  return { dims, data: bytes.subarray(headerLen, headerLen + payload) };
}

function checkLength(got: number, payload: number, dims: number[], file: string): void {
  if (got < payload) {
    throw new Error(
      `${file}: truncated data: expected ${payload} bytes for shape [${dims.join(", ")}], ` +
        `got ${got}`,
    );
  }
  if (got > payload) {
    throw new Error(
      `${file}: ${got - payload} unexpected trailing bytes after ${payload} bytes of data ` +
        `for shape [${dims.join(", ")}]`,
    );
  }
}

/**
 * Reads an IDX file, raw or gzipped (recognised by its magic bytes 1f 8b), header first: a raw
 * file's size is checked against its header before the data is read; a gzipped one is inflated
 * as a stream that stops as soon as it holds more than the header declares, so a small file
 * that inflates to gigabytes costs at most the declared size.
 */
export async function readIdx(
  path: string,
  expectedDims: number,
): Promise<{ dims: number[]; data: Uint8Array }> {
  const f = await openForReading(path);
  let closed = false;
  try {
    const size = (await f.stat()).size;
    const start = await readUpTo(f, 4 + 4 * expectedDims);
    if (start.length >= 2 && start[0] === 0x1f && start[1] === 0x8b) {
      await f.seek(0, Deno.SeekMode.Start);
      closed = true; // the stream owns the file now and closes it
      return await inflateIdx(f.readable, path, expectedDims);
    }
    const { dims, headerLen, payload } = idxHeader(start, path, expectedDims);
    checkLength(size - headerLen, payload, dims, path);
    const data = await readUpTo(f, payload);
    checkLength(data.length, payload, dims, path);
    return { dims, data };
  } finally {
    if (!closed) f.close();
  }
}

/** Reads up to `n` bytes from the file's position (fewer only at its end). */
async function readUpTo(f: Deno.FsFile, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  return out.subarray(0, await readInto(f, out));
}

/** Compressed bytes fed to the inflater at a time (at most ~4 MB of output each). */
const GZ_PIECE = 4096;

/** Inflates a gzipped IDX stream, refusing it once it exceeds what its header declares. */
export async function inflateIdx(
  gz: ReadableStream<Uint8Array>,
  file: string,
  expectedDims: number,
): Promise<{ dims: number[]; data: Uint8Array }> {
  // Small compressed pieces: deflate inflates up to ~1000×, so a 64 KB read of a bomb would
  // arrive as one 64 MB chunk before any check could stop it.
  const pieces = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      for (let o = 0; o < chunk.length; o += GZ_PIECE) c.enqueue(chunk.subarray(o, o + GZ_PIECE));
    },
  });
  const reader = (gz.pipeThrough(pieces) as ReadableStream<BufferSource>)
    .pipeThrough(new DecompressionStream("gzip"))
    .getReader();
  const chunks: Uint8Array[] = [];
  let got = 0;
  let header: ReturnType<typeof idxHeader> | null = null;
  const headerLen = 4 + 4 * expectedDims;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        throw new Error(`${file}: corrupt gzip data: ${(e as Error).message}`);
      }
      if (r.done) break;
      chunks.push(r.value);
      got += r.value.length;
      if (!header && got >= headerLen) header = idxHeader(concat(chunks, got), file, expectedDims);
      if (header && got > header.headerLen + header.payload) {
        throw new Error(
          `${file}: inflates to more than the ${header.headerLen + header.payload} bytes its ` +
            `header declares for shape [${header.dims.join(", ")}] (stopped reading)`,
        );
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = concat(chunks, got);
  return parseIdx(bytes, file, expectedDims);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  chunks.splice(0, chunks.length, out);
  return out;
}

export async function readIdxImages(path: string): Promise<IdxImages> {
  const { dims, data } = await readIdx(path, 3);
  return { count: dims[0], height: dims[1], width: dims[2], data };
}

export async function readIdxLabels(path: string, classes = 10): Promise<Uint8Array> {
  const { data } = await readIdx(path, 1);
  checkLabels(data, classes, path);
  return data;
}

export function checkLabels(labels: Uint8Array, classes: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes) {
      throw new Error(
        `${file}: label ${labels[i]} at index ${i} is out of range (expected 0..${classes - 1})`,
      );
    }
  }
}

/** Loads an images/labels pair and checks that they describe the same number of samples. */
export async function readIdxPair(
  imagesPath: string,
  labelsPath: string,
  classes = 10,
): Promise<IdxImages & { labels: Uint8Array }> {
  const [images, labels] = await Promise.all([
    readIdxImages(imagesPath),
    readIdxLabels(labelsPath, classes),
  ]);
  if (images.count !== labels.length) {
    throw new Error(
      `image/label count mismatch: ${imagesPath} has ${images.count} images but ` +
        `${labelsPath} has ${labels.length} labels`,
    );
  }
  return { ...images, labels };
}

/** File name stems of the standard MNIST-family split files. */
export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/**
 * Finds `stem` in `dir` as distributed (`.gz`) or unpacked, also accepting the `.idx3-ubyte`
 * spelling some mirrors use. Returns null when none exists.
 */
export function findIdxFile(dir: string, stem: string): string | null {
  const dotted = stem.replace(/-(idx\d-ubyte)$/, ".$1");
  for (const name of [stem, `${stem}.gz`, dotted, `${dotted}.gz`]) {
    const p = `${dir.replace(/\/+$/, "")}/${name}`;
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // try the next spelling
    }
  }
  return null;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}
