/**
 * Fused softmax cross-entropy against the f64 reference (src/reference/loss.ts) and PyTorch.
 *
 * Tolerances, with u = 2⁻²⁴: WGSL lets exp(x) be off by 3 + 2|x| ulp, and the row sum adds up to
 * `classes` roundings, so dlogits_j may differ by (8 + 2|l_j − max| + classes)·u·p_j/N (+ one
 * rounding of the result). A row's loss log Σ − (l − max) is good to ~4 ulp of its two terms, so
 * the loss sum gets 8u·Σ(|log Σ| + |l − max|) + N·u·|sum|. Counts are exact.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { goldenCase, goldenInput, goldenOutput } from "../helpers/golden.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { planSoftmaxCrossEntropy, type SoftmaxXentPlan } from "../../src/ops/loss.ts";
import { softmaxCrossEntropy } from "../../src/reference/loss.ts";

const U = 2 ** -24;

interface Case {
  rt: Runtime;
  plan: SoftmaxXentPlan;
  logits: GPUBuffer;
  labels: GPUBuffer;
  dlogits: GPUBuffer;
  release(): void;
}

async function setup(n: number, classes: number, lossScale = 1): Promise<Case> {
  const rt = await runtime();
  const logits = rt.pool.acquire(n * classes * 4, "logits");
  const labels = rt.pool.acquire(n * 4, "labels");
  const dlogits = rt.pool.acquire(n * classes * 4, "dlogits");
  const plan = await planSoftmaxCrossEntropy(rt, { n, classes }, { logits, labels, dlogits }, {
    lossScale,
  });
  return {
    rt,
    plan,
    logits,
    labels,
    dlogits,
    release() {
      for (const b of [logits, labels, dlogits, ...plan.scratch]) rt.pool.release(b);
    },
  };
}

/** Uploads a batch, replays the plan, returns dlogits. */
async function step(c: Case, x: Float32Array, y: Int32Array, classes: number) {
  c.rt.device.queue.writeBuffer(c.logits, 0, Float32Array.from(x));
  c.rt.device.queue.writeBuffer(c.labels, 0, Int32Array.from(y));
  c.rt.replay(c.plan.steps);
  c.rt.submit();
  return new Float32Array(await c.rt.read(c.dlogits, x.length * 4)).subarray(0, y.length * classes);
}

/** The reference on one batch, plus the loss-sum allowance described in the header. */
function reference(x: Float32Array, y: Int32Array, classes: number) {
  const n = y.length;
  const r = softmaxCrossEntropy(x, y, { n, classes });
  let allowance = 0;
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * classes, (i + 1) * classes);
    const max = Math.max(...row);
    const lse = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    allowance += 8 * U * (Math.abs(lse) + Math.abs(row[y[i]] - max));
  }
  return { ...r, lossSum: r.loss * n, allowance: allowance + n * U * Math.abs(r.loss * n) };
}

function checkGrad(
  got: Float32Array,
  x: Float32Array,
  want: { probs: Float64Array; dlogits: Float64Array },
  n: number,
  classes: number,
  scale: number,
  label: string,
): void {
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * classes, (i + 1) * classes);
    const max = Math.max(...row);
    for (let j = 0; j < classes; j++) {
      const e = i * classes + j;
      const w = scale * want.dlogits[e];
      const tol = scale * (8 + 2 * Math.abs(row[j] - max) + classes) * U * want.probs[e] / n +
        3 * U * Math.abs(w);
      assert.ok(
        Math.abs(got[e] - w) <= tol,
        `${label}: dlogits[${i}, ${j}] = ${got[e]}, want ${w} (tol ${tol.toExponential(2)})`,
      );
    }
  }
}

function batch(rng: Rng, n: number, classes: number, spread: number) {
  const x = rng.normal(n * classes, 0, spread);
  const y = Int32Array.from({ length: n }, () => rng.int(classes));
  return { x, y };
}

Deno.test({
  name: "softmax xent: dlogits and metrics accumulated over 3 steps, then reset",
  ...GPU_TEST,
  async fn() {
    const [n, classes] = [37, 10];
    const c = await setup(n, classes);
    const rng = new Rng(11);
    let lossSum = 0, allowance = 0, correct = 0;
    for (let t = 0; t < 3; t++) {
      // Spread 3: confident rows, so some predictions are right and the loss ranges widely.
      const { x, y } = batch(rng, n, classes, 3);
      const got = await step(c, x, y, classes);
      const want = reference(x, y, classes);
      checkGrad(got, x, want, n, classes, 1, `step ${t + 1}`);
      lossSum += want.lossSum;
      allowance += want.allowance;
      correct += want.correct;
      const m = await c.plan.readMetrics();
      assert.ok(Math.abs(m.lossSum - lossSum) <= allowance, `loss sum ${m.lossSum} vs ${lossSum}`);
      assert.deepEqual([m.correct, m.samples, m.badLabels, m.steps], [
        correct,
        n * (t + 1),
        0,
        t + 1,
      ]);
    }
    assert.ok(correct > 0 && correct < 3 * n, "the batch must exercise both outcomes");
    c.plan.reset();
    const m = await c.plan.readMetrics();
    assert.deepEqual([m.lossSum, m.correct, m.samples, m.badLabels, m.steps], [0, 0, 0, 0, 0]);
    c.release();
  },
});

Deno.test({
  name: "softmax xent: 1000 classes, batch 3, loss scale 128; batch 1",
  ...GPU_TEST,
  async fn() {
    for (const [n, classes, scale] of [[3, 1000, 128], [1, 7, 1]]) {
      const c = await setup(n, classes, scale);
      const { x, y } = batch(new Rng(12), n, classes, 5);
      const got = await step(c, x, y, classes);
      const want = reference(x, y, classes);
      checkGrad(got, x, want, n, classes, scale, `N${n} C${classes}`);
      const m = await c.plan.readMetrics();
      // The loss is the true loss: the scale applies to the gradient only.
      assert.ok(Math.abs(m.lossSum - want.lossSum) <= want.allowance, `loss ${m.lossSum}`);
      assert.equal(m.correct, want.correct);
      c.release();
    }
  },
});

Deno.test({
  name: "softmax xent: large logits stay finite; argmax ties go to the first index",
  ...GPU_TEST,
  async fn() {
    const classes = 6;
    // exp(1000) overflows f32 without the max shift. Rows 1 and 2 tie at indices 2 and 4.
    const x = Float32Array.from([
      ...[1000, 999, 998, 1000.5, 0, -1000],
      ...[0, 1, 3, 2, 3, -5],
      ...[0, 1, 3, 2, 3, -5],
    ]);
    const y = Int32Array.from([3, 2, 4]);
    const c = await setup(3, classes);
    const got = await step(c, x, y, classes);
    const want = reference(x, y, classes);
    checkGrad(got, x, want, 3, classes, 1, "large/ties");
    const m = await c.plan.readMetrics();
    assert.ok(Number.isFinite(m.lossSum) && Math.abs(m.lossSum - want.lossSum) <= want.allowance);
    assert.equal(m.correct, 2, "row 0 and row 1 (first of the tied maxima) are correct");
    c.release();
  },
});

Deno.test({
  name: "softmax xent: out-of-range labels are masked and counted, never read out of bounds",
  ...GPU_TEST,
  async fn() {
    const [n, classes] = [5, 4];
    const c = await setup(n, classes);
    const { x } = batch(new Rng(13), n, classes, 1);
    const y = Int32Array.from([1, -1, 4, 2, 0x7fffffff]);
    const got = await step(c, x, y, classes);
    for (const bad of [1, 2, 4]) {
      // ±0: the mask multiplies (p − onehot) by 0.
      assert.deepEqual([...got.subarray(bad * classes, (bad + 1) * classes)].map(Math.abs), [
        0,
        0,
        0,
        0,
      ]);
    }
    // The valid rows match the reference on the valid rows alone, with the batch's 1/N.
    const valid = [0, 3];
    const xv = Float32Array.from(
      valid.flatMap((i) => [...x.subarray(i * classes, (i + 1) * classes)]),
    );
    const want = reference(xv, Int32Array.from(valid.map((i) => y[i])), classes);
    const gv = Float32Array.from(
      valid.flatMap((i) => [...got.subarray(i * classes, (i + 1) * classes)]),
    );
    // want's dlogits divide by 2 valid rows; the kernel divides by the batch of 5.
    checkGrad(
      gv,
      xv,
      { probs: want.probs, dlogits: want.dlogits.map((v) => v * 2 / n) },
      2,
      classes,
      1,
      "valid rows",
    );
    const m = await c.plan.readMetrics();
    assert.deepEqual([m.samples, m.badLabels, m.steps], [2, 3, 1]);
    assert.ok(Math.abs(m.lossSum - want.lossSum) <= want.allowance, `loss ${m.lossSum}`);
    c.release();
  },
});

Deno.test({
  name: "softmax xent against PyTorch golden values",
  ...GPU_TEST,
  async fn() {
    const g = goldenCase("softmax_ce");
    const { n, classes } = g.shape as { n: number; classes: number };
    const x = Float32Array.from(goldenInput(g, "logits"));
    const y = Int32Array.from(g.labels!);
    const c = await setup(n, classes);
    const got = await step(c, x, y, classes);
    const probs = Float64Array.from(goldenOutput(g, "probs"));
    // Inputs rounded to f32 move each logit by ≤ u·|l| ≤ 2u (|l| ≤ 2): 4u·p more on the gradient.
    const dl = Float64Array.from(goldenOutput(g, "dlogits"));
    for (let e = 0; e < dl.length; e++) {
      const tol = (12 + 2 * 4 + classes) * U * probs[e] / n + U * Math.abs(dl[e]);
      assert.ok(Math.abs(got[e] - dl[e]) <= tol, `dlogits[${e}] ${got[e]} vs ${dl[e]}`);
    }
    const m = await c.plan.readMetrics();
    assert.ok(
      Math.abs(m.lossSum / n - (g.outputs.loss as number)) <= 1e-6,
      `loss ${m.lossSum / n}`,
    );
    assert.equal(m.correct, g.outputs.correct as number);
    c.release();
  },
});
