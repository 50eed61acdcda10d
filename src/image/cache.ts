/**
 * The optional on-disk cache of decoded images: one file per source image holding its pixels
 * after decoding and channel conversion, keyed by the source's path and checked against its size
 * and modification time on every read, so an edited or replaced photo is decoded again. Entries
 * are written atomically (temporary file, then rename) until the cache's size limit is reached;
 * nothing is evicted, so the first epoch fills it and later epochs read it.
 */
import { mix32 } from "../util/hash.ts";
import type { DecodedImage } from "./header.ts";

const MAGIC = "RGPUIMG1";
const enc = new TextEncoder(), dec = new TextDecoder();

/** The cache file of a source path (two 32-bit hashes of its absolute path). */
export function cacheFile(dir: string, path: string): string {
  let a = 0x811c9dc5, b = 0x3c6ef372;
  for (const byte of enc.encode(path)) {
    a = mix32(a ^ byte);
    b = mix32(b + byte * 0x9e3779b1);
  }
  return `${dir}/${a.toString(16).padStart(8, "0")}${b.toString(16).padStart(8, "0")}.img`;
}

/** Bytes under `dir` (0 when it does not exist). */
export function cacheBytes(dir: string): number {
  let total = 0;
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && e.name.endsWith(".img")) total += Deno.statSync(`${dir}/${e.name}`).size;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return total;
}

/** The cached image of `path` if there is one for the file as it is now, else null. */
export function readCached(dir: string, path: string, src: Deno.FileInfo): DecodedImage | null {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(cacheFile(dir, path));
  } catch {
    return null;
  }
  if (bytes.length < 40 || dec.decode(bytes.subarray(0, 8)) !== MAGIC) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const [size, mtime] = [v.getFloat64(8, true), v.getFloat64(16, true)];
  const [width, height, channels, pathLen] = [24, 28, 32, 36].map((o) => v.getUint32(o, true));
  if (size !== src.size || mtime !== (src.mtime?.getTime() ?? -1)) return null;
  if (dec.decode(bytes.subarray(40, 40 + pathLen)) !== path) return null; // a hash collision
  const data = bytes.subarray(40 + pathLen);
  if (data.length !== width * height * channels || channels < 1 || channels > 4) return null;
  return { width, height, channels: channels as 1 | 2 | 3 | 4, data };
}

/** Writes the entry of `path`; returns the bytes written. */
export function writeCached(
  dir: string,
  path: string,
  src: Deno.FileInfo,
  img: DecodedImage,
): number {
  const p = enc.encode(path);
  const out = new Uint8Array(40 + p.length + img.data.length);
  out.set(enc.encode(MAGIC), 0);
  const v = new DataView(out.buffer);
  v.setFloat64(8, src.size, true);
  v.setFloat64(16, src.mtime?.getTime() ?? -1, true);
  [img.width, img.height, img.channels, p.length].forEach((x, i) =>
    v.setUint32(24 + 4 * i, x, true)
  );
  out.set(p, 40);
  out.set(img.data, 40 + p.length);
  const file = cacheFile(dir, path);
  const tmp = `${file}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  Deno.writeFileSync(tmp, out);
  Deno.renameSync(tmp, file);
  return out.length;
}
