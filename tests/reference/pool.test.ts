import { assertClose } from "../helpers/close.ts";
import { Rng } from "../helpers/rand.ts";
import {
  adaptiveAvgPool2dBackward,
  adaptiveAvgPool2dForward,
  avgPool2dBackward,
  avgPool2dForward,
  dot,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
  numericalGradient,
  pool2dOutSize,
  type Pool2dShape,
} from "../../src/reference/mod.ts";

const TOL = { rtol: 1e-6, atol: 1e-9 };

const cases: (Pool2dShape & { name: string })[] = [
  { name: "3x3 s2 p1", n: 2, c: 2, h: 7, w: 7, kernel: 3, stride: 2, padding: 1 },
  { name: "2x2 s2", n: 1, c: 3, h: 6, w: 6, kernel: 2, stride: 2, padding: 0 },
  { name: "2x2 s2 odd", n: 2, c: 1, h: 5, w: 7, kernel: 2, stride: 2, padding: 0 },
  { name: "3x3 s1 p1 overlapping", n: 1, c: 2, h: 4, w: 5, kernel: 3, stride: 1, padding: 1 },
];

/** Distinct values spaced 0.1 apart: no window has a near-tie, so FD with h=1e-5 sees no kink. */
function separated(rng: Rng, n: number): Float64Array {
  return Float64Array.from(rng.permutation(n), (v) => (v - n / 2) * 0.1);
}

for (const s of cases) {
  Deno.test(`maxpool2d backward matches finite differences: ${s.name}`, () => {
    const rng = new Rng(3);
    const { oh, ow } = pool2dOutSize(s);
    const x = separated(rng, s.n * s.c * s.h * s.w);
    const g = Float64Array.from(rng.normal(s.n * s.c * oh * ow));
    const fwd = maxPool2dForward(x, s);
    const dx = maxPool2dBackward(g, fwd.argmax, s);
    const num = numericalGradient(() => dot(maxPool2dForward(x, s).y, g), x);
    assertClose(dx, num, { ...TOL, label: `${s.name} maxpool dx` });
  });

  Deno.test(`avgpool2d backward matches finite differences: ${s.name}`, () => {
    const rng = new Rng(4);
    const { oh, ow } = pool2dOutSize(s);
    const x = Float64Array.from(rng.normal(s.n * s.c * s.h * s.w));
    const g = Float64Array.from(rng.normal(s.n * s.c * oh * ow));
    const num = numericalGradient(() => dot(avgPool2dForward(x, s).y, g), x);
    assertClose(avgPool2dBackward(g, s), num, { ...TOL, label: `${s.name} avgpool dx` });
  });
}

Deno.test("maxpool2d: ties go to the first maximum in row-major order; padding is -inf", () => {
  // All-negative plane: a zero-padded pool would return 0 at the borders; -inf padding must not.
  const x = [-5, -1, -1, -3, -1, -2, -4, -4, -9];
  const s = { n: 1, c: 1, h: 3, w: 3, kernel: 3, stride: 2, padding: 1 };
  const { y, argmax } = maxPool2dForward(x, s);
  assertClose(y, [-1, -1, -1, -1], { label: "y" });
  // Window (0,0) covers x[0,1,3,4]: first -1 is index 1. Window (0,1) covers 1,2,4,5 → 1.
  // Window (1,0) covers 3,4,6,7 → 4. Window (1,1) covers 4,5,7,8 → 4.
  assertClose(Array.from(argmax), [1, 1, 4, 4], { label: "argmax" });
  const dx = maxPool2dBackward([1, 2, 3, 4], argmax, s);
  assertClose(dx, [0, 3, 0, 0, 7, 0, 0, 0, 0], { label: "dx accumulates" });
});

Deno.test("avgpool2d: padded cells count in the divisor (count_include_pad=True)", () => {
  const x = [1, 2, 3, 4];
  const s = { n: 1, c: 1, h: 2, w: 2, kernel: 3, stride: 1, padding: 1 };
  // Every 3x3 window sees all four values and five padding zeros.
  assertClose(avgPool2dForward(x, s).y, [10 / 9, 10 / 9, 10 / 9, 10 / 9], { label: "y" });
});

Deno.test("global avg pool forward and backward", () => {
  const rng = new Rng(5);
  const s = { n: 2, c: 3, h: 3, w: 5 };
  const x = Float64Array.from(rng.normal(90));
  const y = globalAvgPoolForward(x, s);
  let sum = 0;
  for (let i = 15; i < 30; i++) sum += x[i];
  assertClose([y[1]], [sum / 15], { rtol: 1e-12, label: "plane 1 mean" });
  const g = Float64Array.from(rng.normal(6));
  const num = numericalGradient(() => dot(globalAvgPoolForward(x, s), g), x);
  assertClose(globalAvgPoolBackward(g, s), num, { ...TOL, label: "gap dx" });
});

Deno.test("adaptive avg pool: PyTorch bins floor(i*H/out)..ceil((i+1)*H/out)", () => {
  // H=5 → 3 bins: [0,2) [1,4) [3,5); W=1 → 1 bin.
  const x = [1, 2, 4, 8, 16];
  const s = { n: 1, c: 1, h: 5, w: 1, oh: 3, ow: 1 };
  assertClose(adaptiveAvgPool2dForward(x, s), [1.5, 14 / 3, 12], { rtol: 1e-12, label: "y" });
  // An output size that divides the input is an ordinary avgpool: 4x4 → 2x2.
  const x4 = Float64Array.from({ length: 16 }, (_, i) => i);
  const y4 = adaptiveAvgPool2dForward(x4, { n: 1, c: 1, h: 4, w: 4, oh: 2, ow: 2 });
  assertClose(y4, [2.5, 4.5, 10.5, 12.5], { rtol: 1e-12, label: "4x4→2x2" });
});

Deno.test("adaptive avg pool backward matches finite differences (7x5 → 3x2, overlapping)", () => {
  const rng = new Rng(6);
  const s = { n: 2, c: 2, h: 7, w: 5, oh: 3, ow: 2 };
  const x = Float64Array.from(rng.normal(140));
  const g = Float64Array.from(rng.normal(24));
  const num = numericalGradient(() => dot(adaptiveAvgPool2dForward(x, s), g), x);
  assertClose(adaptiveAvgPool2dBackward(g, s), num, { ...TOL, label: "adaptive dx" });
});
