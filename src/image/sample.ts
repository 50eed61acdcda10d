/**
 * One training or evaluation sample from an image file: read, decode (or take from the cache),
 * convert channels, transform, normalize into a batch slot. The decode workers run it for every
 * sample; the loader runs it on its own thread only to replace a bad image.
 */
import type { Rng } from "../util/rng.ts";
import type { DecodedImage, DecodeLimits } from "./header.ts";
import { decodeImage, toGray, toRgb } from "./decode.ts";
import { applyTransform, type ImageTransform } from "./transforms.ts";
import { readCached, writeCached } from "./cache.ts";

export const AUG_TAG = 0xa06;

/** Where a sample's random parameters come from: Rng(seed, epoch, batch, index, AUG_TAG). */
export type SampleKey = [seed: number, epoch: number, batch: number, index: number];

export interface CacheBudget {
  dir: string;
  /** Bytes this thread may still add. */
  left: number;
}

/** Decoded pixels of a file in `channels` (1 or 3), through the cache when one is given. */
export function loadPixels(
  path: string,
  channels: 1 | 3,
  limits: DecodeLimits,
  cache?: CacheBudget,
): DecodedImage {
  const info = cache ? Deno.statSync(path) : null;
  if (cache && info) {
    const hit = readCached(cache.dir, path, info);
    if (hit && hit.channels === channels) return hit;
  }
  const decoded = decodeImage(Deno.readFileSync(path), limits);
  const img = channels === 3 ? toRgb(decoded) : toGray(decoded);
  if (cache && info && img.data.length + 256 <= cache.left) {
    cache.left -= writeCached(cache.dir, path, info, img);
  }
  return img;
}

/** Loads `path` and writes its transformed sample at `out[offset]`. */
export function loadSample(
  path: string,
  key: SampleKey,
  t: ImageTransform,
  limits: DecodeLimits,
  out: Float32Array,
  offset: number,
  rng: Rng,
  cache?: CacheBudget,
): void {
  const img = loadPixels(path, t.mean.length as 1 | 3, limits, cache);
  applyTransform(img, t, rng.seed(...key, AUG_TAG), out, offset);
}
