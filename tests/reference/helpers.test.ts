import { assertClose, maxAbsDiff, relL2Error } from "../helpers/close.ts";
import { Rng } from "../helpers/rand.ts";

Deno.test("assertClose passes within tolerance and names the worst element when it fails", () => {
  assertClose([1, 2, 3], [1, 2 + 1e-7, 3], { rtol: 1e-6 });
  let message = "";
  try {
    assertClose([1, 2.5, 3.01], [1, 2, 3], { rtol: 1e-3, atol: 0, label: "probe" });
  } catch (e) {
    message = (e as Error).message;
  }
  for (const part of ["probe", "2/3", "max abs err 5.000e-1", "worst at [1]", "actual 2.5"]) {
    if (!message.includes(part)) throw new Error(`missing "${part}" in: ${message}`);
  }
});

Deno.test("assertClose rejects NaN and length mismatches", () => {
  for (const [a, b] of [[[NaN], [1]], [[1, 2], [1]]]) {
    let threw = false;
    try {
      assertClose(a, b);
    } catch {
      threw = true;
    }
    if (!threw) throw new Error(`accepted ${a} vs ${b}`);
  }
});

Deno.test("maxAbsDiff and relL2Error", () => {
  assertClose([maxAbsDiff([1, 2, 3], [1, 2.5, 2])], [1], { rtol: 0, atol: 0 });
  assertClose([relL2Error([3, 4], [0, 5])], [Math.sqrt(10 / 25)], { rtol: 1e-15 });
  assertClose([relL2Error([0], [0])], [0]);
});

Deno.test("Rng is deterministic and roughly standard normal", () => {
  const a = new Rng(123).normal(20000);
  const b = new Rng(123).normal(20000);
  assertClose(a, b, { rtol: 0, atol: 0, label: "same seed" });
  let mean = 0, sq = 0;
  for (const v of a) {
    mean += v;
    sq += v * v;
  }
  mean /= a.length;
  assertClose([mean, sq / a.length], [0, 1], { atol: 0.03, label: "moments" });
  const u = new Rng(5).uniform(1000, -2, 3);
  if (u.some((v) => v < -2 || v >= 3)) throw new Error("uniform out of range");
});
