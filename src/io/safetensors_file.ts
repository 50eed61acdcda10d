/**
 * safetensors files on disk (the format itself is src/io/safetensors.ts): reads that look at
 * the header before reading anything else and then read exactly the declared bytes, and writes
 * that are atomic.
 */
import {
  decodeSafetensors,
  encodeSafetensors,
  headerLength,
  parseSafetensorsHeader,
  type SafetensorsFile,
  type SafetensorsHeader,
  type TensorIn,
} from "./safetensors.ts";
import { openForReading, readInto } from "./file_read.ts";

/** Reads exactly `into.length` bytes at the file's current position, or throws naming `what`. */
async function readExactly(f: Deno.FsFile, into: Uint8Array, path: string, what: string) {
  const got = await readInto(f, into);
  if (got < into.length) {
    throw new Error(`${path}: ended after ${got} of the ${into.length} bytes of its ${what}`);
  }
}

/**
 * Reads and validates a safetensors file: the 8-byte length and the header first, checked
 * against the file's size (so a lying length allocates nothing and a file with trailing bytes
 * is refused before its data is read), then exactly the data the header declares.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return await withFile(path, async (f, size) => {
    const { first8, json } = await readHeader(f, size, path);
    const bytes = new Uint8Array(size);
    bytes.set(first8);
    bytes.set(json, 8);
    await readExactly(f, bytes.subarray(8 + json.length), path, "tensor data");
    return decodeSafetensors(bytes, path);
  });
}

/** Only the validated header of a safetensors file (names, dtypes, shapes, metadata). */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  return await withFile(path, async (f, size) => (await readHeader(f, size, path)).header);
}

async function withFile<T>(
  path: string,
  use: (f: Deno.FsFile, size: number) => Promise<T>,
): Promise<T> {
  const f = await openForReading(path);
  try {
    return await use(f, (await f.stat()).size);
  } finally {
    f.close();
  }
}

async function readHeader(f: Deno.FsFile, size: number, path: string) {
  const first8 = new Uint8Array(Math.min(8, size));
  await readExactly(f, first8, path, "header length");
  const len = headerLength(first8, size, path);
  const json = new Uint8Array(len);
  await readExactly(f, json, path, "header");
  // Validates every tensor against the data section the file has, before reading it.
  const header = parseSafetensorsHeader(json, size - 8 - len, path);
  return { first8, json, header };
}

/** Encodes and writes atomically (see {@link writeFileAtomic}). */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorIn> | Map<string, TensorIn>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** `path.tmp-` and 12 hex digits: the temporary names {@link writeFileAtomic} uses. */
const TEMP = /\.tmp-[0-9a-f]{12}$/;

/**
 * Writes atomically: a crash mid-write leaves the previous file intact, because the bytes go to
 * a temporary file in the same directory (same filesystem, so rename is atomic), are fsynced,
 * and only then renamed over `path`. A process killed mid-write leaves its temporary file:
 * {@link removeStaleTemps} clears those.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const rand = crypto.getRandomValues(new Uint8Array(6));
  const tmp = `${path}.tmp-${Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await f.write(bytes.subarray(written));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`${path}: write failed: ${(e as Error).message}`);
  }
  await syncDir(path);
}

/**
 * Removes the temporary files that writes of `path` interrupted by a crash or kill left
 * (`path.tmp-<12 hex digits>`); returns their names. Call it only where no other process is
 * writing `path`.
 */
export function removeStaleTemps(path: string): string[] {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  const base = path.slice(slash + 1);
  const removed: string[] = [];
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return removed;
    throw e;
  }
  for (const name of names) {
    if (name.startsWith(base) && TEMP.test(name) && name.length === base.length + 17) {
      Deno.removeSync(`${dir}/${name}`);
      removed.push(name);
    }
  }
  return removed;
}

/** Makes the rename itself durable; best effort, since not every platform can open a dir. */
async function syncDir(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // not supported here; the data itself was fsynced
  }
}
