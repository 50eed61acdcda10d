/**
 * lowbias32 (Chris Wellons): a full-avalanche 32-bit integer mix. Exact in any language with
 * 32-bit multiplies, so GPU kernels (dropout masks), TypeScript and Python test fixtures agree
 * bit for bit.
 */
export function mix32(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}
