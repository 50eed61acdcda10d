/** Per-element rounding-error bounds for kernels that sum f32 terms (Higham, ch. 3). */
import assert from "node:assert/strict";
import { relL2Error } from "./close.ts";

const U = 2 ** -24;

/** γ(n) = n·u / (1 − n·u): the relative error bound of n chained f32 roundings. */
export function gamma(n: number): number {
  return n * U / (1 - n * U);
}

/**
 * Asserts |got − want| ≤ γ(depth)·mag elementwise (reporting the worst element), then that the
 * relative L2 error is below `relL2Max` (typical error sits far below the worst case).
 */
export function assertWithinBound(
  got: Float32Array,
  want: ArrayLike<number>,
  mag: ArrayLike<number>,
  depth: number,
  label: string,
  relL2Max: number,
): void {
  assert.equal(got.length, want.length, `${label}: length`);
  const g = gamma(depth);
  let worst = -1, worstRatio = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    // mag = 0 means every term is exactly zero, and so must the result be.
    const ratio = d === 0 ? 0 : d / (g * mag[i]);
    if (!(ratio <= 1) && (worst < 0 || !(ratio <= worstRatio))) {
      worst = i;
      worstRatio = ratio;
    }
  }
  assert.ok(
    worst < 0,
    `${label}: [${worst}] gpu ${got[worst]} vs ref ${want[worst]}, |err| = ` +
      `${worstRatio.toFixed(2)}× the bound γ(${depth})·${mag[worst]}`,
  );
  const rel = relL2Error(got, want);
  assert.ok(rel < relL2Max, `${label}: rel L2 ${rel}`);
}
