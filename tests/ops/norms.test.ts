/**
 * Per-tensor L2 norms and clip_grad_norm_ on the GPU against src/reference/clip.ts and PyTorch.
 *
 * Tolerance: a tensor's Σx² is summed in f32 in two levels (each invocation ≤ chunk/256 terms
 * in order, then 256- and ≤1024-way trees), so its relative error is ≲ (chunk/256 + 20)·u with
 * u = 2⁻²⁴; the square root halves it. We allow 64u ≈ 4e-6 relative on norms and the clip scale.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime, upload } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { assertClose } from "../helpers/close.ts";
import { formula, type FormulaSpec, goldenCase } from "../helpers/golden.ts";
import { planClipGradNorm, planNorms } from "../../src/ops/norms.ts";
import { runOnce } from "../../src/gpu/plan.ts";
import { clipGradNorm, l2Norm } from "../../src/reference/clip.ts";

const RTOL = 64 * 2 ** -24;

Deno.test({
  name: "norms: 12 tensors from 1 to 1.2M elements (multi-chunk), one buffer of results",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const rng = new Rng(31);
    const sizes = [1, 3, 10, 255, 256, 257, 4097, 9000, 65536, 300_001, 1_200_000, 17];
    const data = sizes.map((n, i) => rng.normal(n, 0.1 * i, 1 + i));
    const bufs = data.map((d) => upload(rt, d));
    const plan = await planNorms(rt, sizes, bufs);
    runOnce(rt, { steps: plan.steps, scratch: [] });
    assertClose(await plan.read(), data.map(l2Norm), { rtol: RTOL, atol: 0, label: "norms" });
    // Replaying overwrites rather than accumulates.
    runOnce(rt, { steps: plan.steps, scratch: [] });
    assertClose(await plan.read(), data.map(l2Norm), { rtol: RTOL, atol: 0, label: "norms again" });
    for (const b of [...bufs, ...plan.scratch]) rt.pool.release(b);
  },
});

for (const maxNorm of [0.5, 1e3]) {
  Deno.test({
    name: `clip_grad_norm in place, max ${maxNorm} (${maxNorm < 1 ? "clips" : "leaves as is"})`,
    ...GPU_TEST,
    async fn() {
      const rt = await runtime();
      const rng = new Rng(32);
      const sizes = [7, 300, 5000];
      const g32 = sizes.map((n) => rng.normal(n, 0, 0.2));
      const bufs = g32.map((g) => upload(rt, g));
      const plan = await planClipGradNorm(rt, sizes, bufs, { maxNorm, inPlace: true });
      runOnce(rt, { steps: plan.steps, scratch: [] });
      const g64 = g32.map((g) => Float64Array.from(g));
      const want = clipGradNorm(g64, maxNorm);
      assert.equal(want.scale < 1, maxNorm < 1, "the case must (not) clip");
      const got = await plan.readClip();
      assertClose([got.totalNorm, got.scale], [want.totalNorm, want.scale], {
        rtol: RTOL,
        atol: 0,
        label: "total norm, scale",
      });
      for (let i = 0; i < sizes.length; i++) {
        const g = new Float32Array(await rt.read(bufs[i], sizes[i] * 4));
        // Scale error (RTOL) plus one rounding of the product.
        assertClose(g, g64[i], { rtol: RTOL + 2 ** -24, atol: 0, label: `grad ${i}` });
      }
      for (const b of [...bufs, ...plan.scratch]) rt.pool.release(b);
    },
  });
}

Deno.test({
  name: "clip_grad_norm against PyTorch golden values",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const c = goldenCase("clip_grad_norm");
    const grads = (c.inputs.grads as FormulaSpec[]).map(formula);
    const sizes = grads.map((g) => g.length);
    const bufs = grads.map((g) => upload(rt, g));
    const maxNorm = (c.options as { max_norm: number }).max_norm;
    const plan = await planClipGradNorm(rt, sizes, bufs, { maxNorm, inPlace: true });
    runOnce(rt, { steps: plan.steps, scratch: [] });
    const { totalNorm } = await plan.readClip();
    // Inputs rounded to f32 add one u on top of the summation allowance.
    const tol = { rtol: RTOL + 2 * 2 ** -24, atol: 0 };
    assertClose([totalNorm], [c.outputs.total_norm as number], { ...tol, label: "total" });
    const want = c.outputs.grads as number[][];
    for (let i = 0; i < sizes.length; i++) {
      const g = new Float32Array(await rt.read(bufs[i], sizes[i] * 4));
      assertClose(g, want[i], { ...tol, label: `golden clipped grad ${i}` });
    }
    for (const b of [...bufs, ...plan.scratch]) rt.pool.release(b);
  },
});
