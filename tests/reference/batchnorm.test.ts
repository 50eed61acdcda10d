import { assertClose } from "../helpers/close.ts";
import { Rng } from "../helpers/rand.ts";
import {
  batchNormBackward,
  batchNormEvalForward,
  batchNormInitRunning,
  batchNormTrainForward,
  dot,
  numericalGradient,
} from "../../src/reference/mod.ts";

// BN is smooth; h=1e-5 central differences are accurate to ~1e-10 on these O(1) losses.
const TOL = { rtol: 1e-6, atol: 1e-8 };

const shapes = [
  { name: "2x3x4x4", n: 2, c: 3, h: 4, w: 4 },
  { name: "batch 1 odd 1x2x3x5", n: 1, c: 2, h: 3, w: 5 },
  { name: "4x2x1x1 (post-GAP-like)", n: 4, c: 2, h: 1, w: 1 },
];

for (const s of shapes) {
  Deno.test(`batchnorm train backward matches finite differences: ${s.name}`, () => {
    const rng = new Rng(11);
    const size = s.n * s.c * s.h * s.w;
    const x = Float64Array.from(rng.normal(size, 0.3, 2));
    const gamma = Float64Array.from(rng.uniform(s.c, 0.5, 1.5));
    const beta = Float64Array.from(rng.normal(s.c));
    const g = Float64Array.from(rng.normal(size));
    const loss = () => dot(batchNormTrainForward(x, gamma, beta, null, s).y, g);
    const { mean, invstd } = batchNormTrainForward(x, gamma, beta, null, s);
    const { dx, dgamma, dbeta } = batchNormBackward(g, x, gamma, mean, invstd, s);
    assertClose(dx, numericalGradient(loss, x), { ...TOL, label: `${s.name} dx` });
    assertClose(dgamma, numericalGradient(loss, gamma), { ...TOL, label: `${s.name} dgamma` });
    assertClose(dbeta, numericalGradient(loss, beta), { ...TOL, label: `${s.name} dbeta` });
  });
}

Deno.test("batchnorm train forward: statistics, eps and the unbiased running variance", () => {
  // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased var 5/3.
  const s = { n: 2, c: 1, h: 1, w: 2 };
  const x = [1, 2, 3, 4];
  const running = batchNormInitRunning(1);
  const { y, mean, invstd } = batchNormTrainForward(x, [2], [0.5], running, s);
  const inv = 1 / Math.sqrt(1.25 + 1e-5);
  assertClose(mean, [2.5], { rtol: 1e-15, label: "mean" });
  assertClose(invstd, [inv], { rtol: 1e-15, label: "invstd" });
  assertClose(y, x.map((v) => (v - 2.5) * inv * 2 + 0.5), { rtol: 1e-14, label: "y" });
  assertClose(running.mean, [0.25], { rtol: 1e-15, label: "running mean" });
  assertClose(running.var, [0.9 + 0.1 * (5 / 3)], { rtol: 1e-15, label: "running var" });
  // Second step compounds: momentum 0.1 towards the new batch.
  batchNormTrainForward([0, 0, 0, 4], [1], [0], running, s);
  assertClose(running.mean, [0.9 * 0.25 + 0.1 * 1], { rtol: 1e-15, label: "running mean 2" });
  assertClose(running.var, [0.9 * (0.9 + 0.1 * (5 / 3)) + 0.1 * 4], {
    rtol: 1e-15,
    label: "running var 2",
  });
});

Deno.test("batchnorm eval forward uses running statistics", () => {
  const s = { n: 1, c: 2, h: 1, w: 2 };
  const running = { mean: Float64Array.of(1, -1), var: Float64Array.of(4, 0.25) };
  const y = batchNormEvalForward([3, 5, -1, 0], [1, 2], [0, 1], running, s);
  const a = 1 / Math.sqrt(4 + 1e-5);
  const b = 1 / Math.sqrt(0.25 + 1e-5);
  assertClose(y, [2 * a, 4 * a, 1, 2 * b + 1], { rtol: 1e-14, label: "eval y" });
});
