import { assertClose } from "../helpers/close.ts";
import { Rng } from "../helpers/rand.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dOutSize,
  type Conv2dShape,
  dot,
  numericalGradient,
} from "../../src/reference/mod.ts";

// Convolution is linear in x and in w, so central differences are exact up to round-off.
const TOL = { rtol: 1e-6, atol: 1e-9 };

const cases: (Conv2dShape & { name: string })[] = [
  { name: "3x3 s1 p1", n: 2, c: 3, h: 5, w: 5, k: 4, kh: 3, kw: 3, stride: 1, padding: 1 },
  { name: "3x3 s2 p1 odd", n: 2, c: 2, h: 7, w: 5, k: 3, kh: 3, kw: 3, stride: 2, padding: 1 },
  { name: "1x1 s1", n: 1, c: 4, h: 3, w: 3, k: 5, kh: 1, kw: 1, stride: 1, padding: 0 },
  { name: "1x1 s2", n: 2, c: 3, h: 5, w: 5, k: 2, kh: 1, kw: 1, stride: 2, padding: 0 },
  { name: "7x7 s2 p3", n: 1, c: 2, h: 9, w: 9, k: 2, kh: 7, kw: 7, stride: 2, padding: 3 },
  { name: "2x3 non-square", n: 1, c: 2, h: 6, w: 5, k: 3, kh: 2, kw: 3, stride: 1, padding: 1 },
  { name: "3x1 s2 no pad", n: 3, c: 1, h: 6, w: 4, k: 2, kh: 3, kw: 1, stride: 2, padding: 0 },
];

for (const s of cases) {
  Deno.test(`conv2d backward matches finite differences: ${s.name}`, () => {
    const rng = new Rng(42);
    const { oh, ow } = conv2dOutSize(s);
    const x = Float64Array.from(rng.normal(s.n * s.c * s.h * s.w));
    const w = Float64Array.from(rng.normal(s.k * s.c * s.kh * s.kw));
    const b = Float64Array.from(rng.normal(s.k));
    const g = Float64Array.from(rng.normal(s.n * s.k * oh * ow));
    const loss = () => dot(conv2dForward(x, w, b, s).y, g);

    const dx = conv2dBackwardData(g, w, s);
    const { dw, db } = conv2dBackwardWeight(x, g, s);
    assertClose(dx, numericalGradient(loss, x), { ...TOL, label: `${s.name} dx` });
    assertClose(dw, numericalGradient(loss, w), { ...TOL, label: `${s.name} dw` });
    assertClose(db, numericalGradient(loss, b), { ...TOL, label: `${s.name} db` });
  });
}

Deno.test("conv2d forward: hand-computed 3x3 padded example", () => {
  // x = 1..9 on a 3x3 plane, all-ones 3x3 kernel, padding 1: each output is its 3x3 neighbourhood
  // sum; bias 0.5 is added everywhere.
  const x = Float64Array.from({ length: 9 }, (_, i) => i + 1);
  const w = new Float64Array(9).fill(1);
  const s = { n: 1, c: 1, h: 3, w: 3, k: 1, kh: 3, kw: 3, stride: 1, padding: 1 };
  const { y, oh, ow } = conv2dForward(x, w, [0.5], s);
  assertClose([oh, ow], [3, 3], { label: "out size" });
  assertClose(y, [12, 21, 16, 27, 45, 33, 24, 39, 28].map((v) => v + 0.5), { label: "y" });
  // Stride 2 keeps the corners.
  const s2 = conv2dForward(x, w, null, { ...s, stride: 2 });
  assertClose(s2.y, [12, 16, 24, 28], { label: "y stride 2" });
});

Deno.test("conv2d forward: 1x1 conv equals a per-pixel matmul", () => {
  const rng = new Rng(7);
  const s = { n: 2, c: 3, h: 2, w: 2, k: 2, kh: 1, kw: 1, stride: 1, padding: 0 };
  const x = Float64Array.from(rng.normal(24));
  const w = Float64Array.from(rng.normal(6));
  const expected = new Float64Array(16);
  for (let n = 0; n < 2; n++) {
    for (let k = 0; k < 2; k++) {
      for (let p = 0; p < 4; p++) {
        for (let c = 0; c < 3; c++) {
          expected[(n * 2 + k) * 4 + p] += w[k * 3 + c] * x[(n * 3 + c) * 4 + p];
        }
      }
    }
  }
  assertClose(conv2dForward(x, w, null, s).y, expected, { rtol: 1e-12, label: "1x1" });
});
