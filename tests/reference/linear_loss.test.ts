import { assertClose } from "../helpers/close.ts";
import { Rng } from "../helpers/rand.ts";
import {
  dot,
  linearBackward,
  linearForward,
  numericalGradient,
  softmaxCrossEntropy,
} from "../../src/reference/mod.ts";

const TOL = { rtol: 1e-6, atol: 1e-9 };

Deno.test("linear forward: hand-computed", () => {
  // x = [[1, 2]], W = [[1, 0], [2, -1], [0.5, 0.5]], b = [0, 1, -1] → [1, 1, 0.5].
  const y = linearForward([1, 2], [1, 0, 2, -1, 0.5, 0.5], [0, 1, -1], {
    n: 1,
    inFeatures: 2,
    outFeatures: 3,
  });
  assertClose(y, [1, 1, 0.5], { rtol: 1e-15, label: "y" });
});

Deno.test("linear backward matches finite differences", () => {
  const rng = new Rng(8);
  for (
    const s of [{ n: 3, inFeatures: 5, outFeatures: 4 }, { n: 1, inFeatures: 7, outFeatures: 10 }]
  ) {
    const x = Float64Array.from(rng.normal(s.n * s.inFeatures));
    const w = Float64Array.from(rng.normal(s.outFeatures * s.inFeatures));
    const b = Float64Array.from(rng.normal(s.outFeatures));
    const g = Float64Array.from(rng.normal(s.n * s.outFeatures));
    const loss = () => dot(linearForward(x, w, b, s), g);
    const { dx, dw, db } = linearBackward(g, x, w, s);
    assertClose(dx, numericalGradient(loss, x), { ...TOL, label: "linear dx" });
    assertClose(dw, numericalGradient(loss, w), { ...TOL, label: "linear dw" });
    assertClose(db, numericalGradient(loss, b), { ...TOL, label: "linear db" });
  }
});

Deno.test("softmax cross-entropy: values, probabilities and correct count", () => {
  // Row 0 uniform over 4 classes: loss log 4, wrong-or-right by first-max tie → argmax 0.
  // Row 1 strongly favours class 2 and its label is 2.
  const logits = [0, 0, 0, 0, 1, 2, 30, 0];
  const r = softmaxCrossEntropy(logits, [0, 2], { n: 2, classes: 4 });
  const z = Math.exp(1) + Math.exp(2) + Math.exp(30) + 1;
  const expectedLoss = (Math.log(4) + (Math.log(z) - 30)) / 2;
  assertClose([r.loss], [expectedLoss], { rtol: 1e-13, label: "loss" });
  assertClose(r.probs.subarray(0, 4), [0.25, 0.25, 0.25, 0.25], { rtol: 1e-15, label: "p0" });
  assertClose([r.correct], [2], { label: "correct" });
  assertClose([softmaxCrossEntropy(logits, [1, 3], { n: 2, classes: 4 }).correct], [0], {
    label: "none correct",
  });
  // Large logits must not overflow.
  const big = softmaxCrossEntropy([1000, 0], [0], { n: 1, classes: 2 });
  assertClose([big.loss], [Math.log1p(Math.exp(-1000))], { atol: 1e-300, label: "stable" });
});

Deno.test("softmax cross-entropy dlogits matches finite differences", () => {
  const rng = new Rng(9);
  const s = { n: 5, classes: 7 };
  const logits = Float64Array.from(rng.normal(35, 0, 2));
  const labels = Array.from({ length: 5 }, () => rng.int(7));
  const { dlogits } = softmaxCrossEntropy(logits, labels, s);
  const num = numericalGradient(() => softmaxCrossEntropy(logits, labels, s).loss, logits);
  assertClose(dlogits, num, { rtol: 1e-6, atol: 1e-9, label: "dlogits" });
});
