/**
 * CIFAR-10 binary version: each record is 1 label byte followed by 3072 bytes of a 32×32 image,
 * stored as planes R, G, B (already CHW, so no transposition is needed for NCHW batches).
 */

export const CIFAR_RECORD = 1 + 3 * 32 * 32;
export const CIFAR_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR_TEST_FILE = "test_batch.bin";
export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

export interface CifarBatch {
  count: number;
  /** count × 3 × 32 × 32 bytes. */
  images: Uint8Array;
  labels: Uint8Array;
}

export function parseCifarBatch(bytes: Uint8Array, file: string): CifarBatch {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0) {
    throw new Error(
      `${file}: size ${bytes.length} bytes is not a positive multiple of the ` +
        `${CIFAR_RECORD}-byte CIFAR-10 record (1 label + 3072 pixels); file truncated or not ` +
        `CIFAR-10 binary`,
    );
  }
  const count = bytes.length / CIFAR_RECORD;
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const off = i * CIFAR_RECORD;
    const label = bytes[off];
    if (label > 9) {
      throw new Error(`${file}: label ${label} in record ${i} is out of range (expected 0..9)`);
    }
    labels[i] = label;
    images.set(bytes.subarray(off + 1, off + CIFAR_RECORD), i * 3072);
  }
  return { count, images, labels };
}

/**
 * Resolves the directory holding the batches: `dir` itself or the `cifar-10-batches-bin`
 * folder the official tarball unpacks into.
 */
export function findCifarDir(dir: string): string | null {
  const base = dir.replace(/\/+$/, "");
  for (const d of [base, `${base}/cifar-10-batches-bin`]) {
    if (exists(`${d}/${CIFAR_TEST_FILE}`) || exists(`${d}/${CIFAR_TRAIN_FILES[0]}`)) return d;
  }
  return null;
}

export async function readCifarFiles(dir: string, files: string[]): Promise<CifarBatch> {
  const missing = files.filter((f) => !exists(`${dir}/${f}`));
  if (missing.length > 0) {
    throw new Error(`${dir}: missing CIFAR-10 file(s): ${missing.join(", ")}`);
  }
  const parts = await Promise.all(
    files.map(async (f) => parseCifarBatch(await Deno.readFile(`${dir}/${f}`), `${dir}/${f}`)),
  );
  const count = parts.reduce((a, p) => a + p.count, 0);
  const images = new Uint8Array(count * 3072);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const p of parts) {
    images.set(p.images, n * 3072);
    labels.set(p.labels, n);
    n += p.count;
  }
  return { count, images, labels };
}

export async function loadCifar10(dir: string): Promise<{ train: CifarBatch; test: CifarBatch }> {
  const root = findCifarDir(dir);
  if (root === null) {
    throw new Error(
      `${dir}: no CIFAR-10 binary batches found (expected ${CIFAR_TRAIN_FILES.join(", ")}, ` +
        `${CIFAR_TEST_FILE}, here or in cifar-10-batches-bin/)`,
    );
  }
  const [train, test] = await Promise.all([
    readCifarFiles(root, CIFAR_TRAIN_FILES),
    readCifarFiles(root, [CIFAR_TEST_FILE]),
  ]);
  return { train, test };
}

function exists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}
