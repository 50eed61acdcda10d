import { assertClose } from "../helpers/close.ts";
import { Rng } from "../helpers/rand.ts";
import {
  addReluBackward,
  addReluForward,
  dot,
  numericalGradient,
  reluBackward,
  reluForward,
  shortcutABackward,
  shortcutAForward,
  shortcutAOutSize,
} from "../../src/reference/mod.ts";

const TOL = { rtol: 1e-6, atol: 1e-9 };

/** Values at least 0.05 away from zero, so ±h never crosses the ReLU kink. */
function awayFromZero(rng: Rng, n: number): Float64Array {
  return Float64Array.from(rng.uniform(n, 0.05, 1), (v) => (rng.next() < 0.5 ? -v : v));
}

Deno.test("relu forward and backward", () => {
  assertClose(reluForward([-2, 0, 3]), [0, 0, 3], { label: "relu y" });
  const rng = new Rng(1);
  const x = awayFromZero(rng, 50);
  const g = Float64Array.from(rng.normal(50));
  const dx = reluBackward(g, reluForward(x));
  assertClose(dx, numericalGradient(() => dot(reluForward(x), g), x), { ...TOL, label: "relu dx" });
  // Gradient at exactly zero is zero (PyTorch convention).
  assertClose(reluBackward([5], [0]), [0], { label: "relu dx at 0" });
});

Deno.test("add_relu forward and backward (same gradient for both branches)", () => {
  const rng = new Rng(2);
  const a = Float64Array.from(rng.normal(40));
  // b chosen so that a + b stays away from zero.
  const target = awayFromZero(rng, 40);
  const b = target.map((t, i) => t - a[i]);
  const g = Float64Array.from(rng.normal(40));
  const y = addReluForward(a, b);
  assertClose(y, reluForward(target), { rtol: 1e-12, label: "add_relu y" });
  const d = addReluBackward(g, y);
  const loss = () => dot(addReluForward(a, b), g);
  assertClose(d, numericalGradient(loss, a), { ...TOL, label: "add_relu da" });
  assertClose(d, numericalGradient(loss, b), { ...TOL, label: "add_relu db" });
});

Deno.test("option-A shortcut forward: subsample and pad channels floor((K-C)/2) before", () => {
  // 1 sample, 1 channel 3x3 → stride 2 keeps (0,0),(0,2),(2,0),(2,2); K=4: 1 zero plane before,
  // the input plane, then 2 zero planes after.
  const x = Float64Array.from({ length: 9 }, (_, i) => i + 1);
  const s = { n: 1, c: 1, h: 3, w: 3, k: 4, stride: 2 };
  const { y, oh, ow } = shortcutAForward(x, s);
  assertClose([oh, ow], [2, 2], { label: "out size ceil(3/2)" });
  assertClose(y, [0, 0, 0, 0, 1, 3, 7, 9, 0, 0, 0, 0, 0, 0, 0, 0], { label: "y" });
  // Stride 1 and K = C is the identity.
  assertClose(shortcutAForward(x, { ...s, k: 1, stride: 1 }).y, x, { label: "identity" });
});

Deno.test("option-A shortcut backward is the adjoint of the forward", () => {
  const rng = new Rng(3);
  for (
    const s of [
      { n: 2, c: 3, h: 5, w: 5, k: 8, stride: 2 },
      { n: 1, c: 4, h: 4, w: 6, k: 8, stride: 2 },
      { n: 2, c: 2, h: 3, w: 3, k: 2, stride: 1 },
    ]
  ) {
    const { oh, ow } = shortcutAOutSize(s);
    const x = Float64Array.from(rng.normal(s.n * s.c * s.h * s.w));
    const g = Float64Array.from(rng.normal(s.n * s.k * oh * ow));
    // <A x, g> = <x, Aᵀ g> for every x, g.
    const lhs = dot(shortcutAForward(x, s).y, g);
    const rhs = dot(x, shortcutABackward(g, s));
    assertClose([lhs], [rhs], { rtol: 1e-12, label: `adjoint k=${s.k}` });
    const num = numericalGradient(() => dot(shortcutAForward(x, s).y, g), x);
    assertClose(shortcutABackward(g, s), num, { ...TOL, label: `shortcut dx k=${s.k}` });
  }
});
