/**
 * Tensor-closeness checks shared by the reference, golden and GPU tests. An element passes when
 * |actual − expected| ≤ atol + rtol·|expected| (numpy.allclose); a failure names the label and the
 * worst element so a broken kernel can be located without re-running under a debugger.
 */

export interface CloseOptions {
  /** Relative tolerance; default 1e-5. */
  rtol?: number;
  /** Absolute tolerance; default 1e-8. */
  atol?: number;
  /** Names the tensor in the failure message. */
  label?: string;
}

/** Largest |a[i] − b[i]|; NaN anywhere makes it NaN so it cannot pass a threshold. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLength(a, b, "maxAbsDiff");
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

/** ‖actual − expected‖₂ / ‖expected‖₂ (0 when both are zero, Infinity when only expected is). */
export function relL2Error(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  checkLength(actual, expected, "relL2Error");
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  if (Number.isNaN(num)) return NaN;
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}

/** Throws unless every element is within atol + rtol·|expected|. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: CloseOptions = {},
): void {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-8;
  const label = opts.label ?? "tensor";
  checkLength(actual, expected, label);
  let maxAbs = 0;
  let maxRel = 0;
  // The worst element is the one that exceeds its own allowance by the largest factor.
  let worst = -1;
  let worstRatio = 0;
  let failures = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    const allowed = atol + rtol * Math.abs(e);
    const bad = Number.isNaN(d) ? !(Number.isNaN(a) && Number.isNaN(e)) : d > allowed;
    const ratio = Number.isNaN(d) ? Infinity : d / (allowed || Number.MIN_VALUE);
    if (d > maxAbs || Number.isNaN(d)) maxAbs = d;
    const rel = e === 0 ? (d === 0 ? 0 : Infinity) : d / Math.abs(e);
    if (rel > maxRel || Number.isNaN(rel)) maxRel = rel;
    if (bad) {
      failures++;
      if (worst < 0 || ratio > worstRatio) {
        worst = i;
        worstRatio = ratio;
      }
    }
  }
  if (failures > 0) {
    throw new Error(
      `${label}: ${failures}/${actual.length} elements not close (rtol=${rtol}, atol=${atol}); ` +
        `max abs err ${maxAbs.toExponential(3)}, max rel err ${maxRel.toExponential(3)}; ` +
        `worst at [${worst}]: actual ${actual[worst]}, expected ${expected[worst]}`,
    );
  }
}

function checkLength(a: ArrayLike<number>, b: ArrayLike<number>, label: string): void {
  if (a.length !== b.length) {
    throw new Error(`${label}: length mismatch, actual ${a.length} vs expected ${b.length}`);
  }
}
