/**
 * IDX reader for MNIST-family files (images: ubyte × 3 dims, labels: ubyte × 1 dim), raw or
 * gzipped. Every failure names the file, because a data directory usually holds four look-alike
 * files and "bad magic" alone does not tell which one is broken.
 */

/** Dtype code 0x08 (unsigned byte) is the only one MNIST-family data uses. */
const UBYTE = 0x08;

export interface IdxImages {
  count: number;
  height: number;
  width: number;
  /** count × height × width bytes, row-major. */
  data: Uint8Array;
}

/** Reads a file, inflating it when it starts with the gzip magic bytes 1f 8b. */
export async function readMaybeGzip(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: file not found`);
    throw new Error(`${path}: cannot read: ${(e as Error).message}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return await gunzip(bytes);
    } catch (e) {
      throw new Error(`${path}: corrupt gzip data: ${(e as Error).message}`);
    }
  }
  return bytes;
}

export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
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
  const got = bytes.length - headerLen;
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
  return { dims, data: bytes.subarray(headerLen, headerLen + payload) };
}

export async function readIdxImages(path: string): Promise<IdxImages> {
  const { dims, data } = parseIdx(await readMaybeGzip(path), path, 3);
  return { count: dims[0], height: dims[1], width: dims[2], data };
}

export async function readIdxLabels(path: string, classes = 10): Promise<Uint8Array> {
  const { data } = parseIdx(await readMaybeGzip(path), path, 1);
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
