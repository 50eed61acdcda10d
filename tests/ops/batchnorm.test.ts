/**
 * Batch-norm kernels against the f64 CPU reference (src/reference/batchnorm.ts) and PyTorch.
 *
 * Error bounds are stated per element in units of ε = 2⁻²⁴ (f32 unit round-off) times the size of
 * what was rounded, and κ = 1 + |μ|/σ: x is stored in f32, so x − μ carries an absolute error of
 * about ε·|μ|, which is κ·ε relative to σ. This is the unavoidable loss of centering an offset
 * channel; E[x²] − E[x]² would instead lose ε·κ² (the test proves that bound would fail).
 */
import assert from "node:assert/strict";
import { download, GPU_TEST, runtime, upload } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { goldenCase, goldenInput, goldenOutput } from "../helpers/golden.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { type Planned, runOnce } from "../../src/gpu/plan.ts";
import {
  batchNormGrid,
  type BatchNormShape,
  planBatchNormBackward,
  planBatchNormEvalBackward,
  planBatchNormEvalForward,
  planBatchNormTrainForward,
} from "../../src/ops/batchnorm.ts";
import {
  batchNormBackward,
  batchNormEvalBackward,
  batchNormEvalForward,
  batchNormInitRunning,
  batchNormTrainForward,
} from "../../src/reference/batchnorm.ts";

const EPS32 = 2 ** -24;

/** Fails unless |actual[i] − expected[i]| ≤ bound(i) everywhere; reports the worst ratio. */
function assertWithin(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  bound: (i: number) => number,
  label: string,
): number {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const r = Math.abs(actual[i] - expected[i]) / bound(i);
    if (!(r <= worst)) [worst, at] = [r, i]; // NaN lands here and fails below
  }
  assert.ok(
    worst <= 1,
    `${label}: error ${worst.toFixed(2)}× the bound at [${at}]: ${actual[at]} vs ${expected[at]}`,
  );
  if (Deno.env.get("BN_RATIOS")) console.log(label, worst.toFixed(3));
  return worst;
}

function chan(s: BatchNormShape, i: number): number {
  return Math.floor(i / (s.h * s.w)) % s.c;
}

/** Per channel: Σ|v(i)| over its elements. */
function channelAbsSum(s: BatchNormShape, v: (i: number) => number): Float64Array {
  const out = new Float64Array(s.c);
  for (let i = 0; i < s.n * s.c * s.h * s.w; i++) out[chan(s, i)] += Math.abs(v(i));
  return out;
}

interface Case {
  s: BatchNormShape;
  mean: number;
  std: number;
  relu?: boolean;
  accumulate?: boolean;
  seed: number;
}

async function checkTrain(rt: Runtime, k: Case): Promise<void> {
  const { s } = k;
  const total = s.n * s.c * s.h * s.w;
  const rng = new Rng(k.seed);
  const x = rng.normal(total, k.mean, k.std);
  const gamma = rng.uniform(s.c, 0.5, 1.5);
  const beta = rng.normal(s.c);
  const dy = rng.normal(total);
  const dx0 = k.accumulate ? rng.normal(total) : new Float32Array(total);
  const rm0 = rng.normal(s.c), rv0 = rng.uniform(s.c, 0.5, 2);

  const bx = upload(rt, x), bg = upload(rt, gamma), bb = upload(rt, beta), bdy = upload(rt, dy);
  const brm = upload(rt, rm0), brv = upload(rt, rv0), bdx = upload(rt, dx0);
  const by = rt.pool.acquire(total * 4), bdg = rt.pool.acquire(s.c * 4);
  const bdb = rt.pool.acquire(s.c * 4);
  const fwd = await planBatchNormTrainForward(rt, s, {
    x: bx,
    gamma: bg,
    beta: bb,
    y: by,
    runningMean: brm,
    runningVar: brv,
  }, { relu: k.relu });
  const bwd = await planBatchNormBackward(rt, s, {
    dy: bdy,
    x: bx,
    gamma: bg,
    mean: fwd.mean,
    invstd: fwd.invstd,
    dx: bdx,
    dgamma: bdg,
    dbeta: bdb,
    beta: k.relu ? bb : undefined,
  }, { relu: k.relu, accumulate: k.accumulate });
  const both: Planned = { steps: [...fwd.steps, ...bwd.steps], scratch: [] };
  runOnce(rt, both);
  const [y, mean, invstd, rm, rv, dx, dg, db] = await Promise.all([
    download(rt, by, total),
    download(rt, fwd.mean, s.c),
    download(rt, fwd.invstd, s.c),
    download(rt, brm, s.c),
    download(rt, brv, s.c),
    download(rt, bdx, total),
    download(rt, bdg, s.c),
    download(rt, bdb, s.c),
  ]);
  for (const b of [...fwd.scratch, ...bwd.scratch, bx, bg, bb, bdy, brm, brv, bdx, by, bdg, bdb]) {
    rt.pool.release(b);
  }

  const running = { mean: Float64Array.from(rm0), var: Float64Array.from(rv0) };
  const ref = batchNormTrainForward(x, gamma, beta, running, s);
  const kappa = 1 + Math.abs(k.mean) / k.std;
  const tag = `${JSON.stringify(s)} μ=${k.mean}${k.relu ? " relu" : ""}`;
  // Statistics: μ to a few roundings of max|x| (Welford + merges), σ² (hence invstd) to κ·ε.
  const maxAbsX = Math.abs(k.mean) + 6 * k.std;
  assertWithin(mean, ref.mean, () => 8 * EPS32 * maxAbsX, `mean ${tag}`);
  assertWithin(invstd, ref.invstd, (c) => 8 * EPS32 * kappa * ref.invstd[c], `invstd ${tag}`);
  assertWithin(rm, running.mean, (c) => 8 * EPS32 * (Math.abs(running.mean[c]) + maxAbsX), tag);
  assertWithin(rv, running.var, (c) => 8 * EPS32 * kappa * running.var[c], `running var ${tag}`);
  // y = γ·x̂ + β: x̂ is good to κ·ε absolute (per unit of x̂), then two roundings.
  const xhat = (i: number) => (x[i] - ref.mean[chan(s, i)]) * ref.invstd[chan(s, i)];
  const yBound = (i: number) => {
    const c = chan(s, i);
    return 8 * EPS32 * (kappa * gamma[c] * (1 + Math.abs(xhat(i))) + Math.abs(beta[c]));
  };
  const yRef = k.relu ? ref.y.map((v) => Math.max(v, 0)) : ref.y;
  assertWithin(y, yRef, yBound, `y ${tag}`);
  if (k.relu) {
    for (let i = 0; i < total; i++) assert.ok(y[i] >= 0, "fused relu output is non-negative");
  }

  // Backward from the GPU's own y mask (a value within rounding of 0 may differ from the f64 y).
  const g = k.relu ? dy.map((v, i) => (y[i] > 0 ? v : 0)) : dy;
  const rb = batchNormBackward(g, x, gamma, ref.mean, ref.invstd, s);
  const m = s.n * s.h * s.w;
  // Sums of m terms: the worst case of tree/chunk summation is ε·log₂(m)·Σ|terms|, but its
  // roundings are independent, so a few ε·Σ|terms| holds with a wide margin; plus κ·ε in each x̂.
  const sumG = channelAbsSum(s, (i) => g[i]);
  const sumGx = channelAbsSum(s, (i) => g[i] * (1 + Math.abs(xhat(i))));
  assertWithin(db, rb.dbeta, (c) => 4 * EPS32 * sumG[c], `dbeta ${tag}`);
  assertWithin(dg, rb.dgamma, (c) => 4 * EPS32 * kappa * sumGx[c], `dgamma ${tag}`);
  // dx = γ·invstd·(g − Σg/m − x̂·Σg·x̂/m): each term's error as above, relative to its size.
  const dxRef = rb.dx.map((v, i) => v + dx0[i]);
  assertWithin(dx, dxRef, (i) => {
    const c = chan(s, i);
    const terms = Math.abs(g[i]) + sumG[c] / m + (1 + Math.abs(xhat(i))) * sumGx[c] / m;
    return 8 * EPS32 * (kappa * gamma[c] * ref.invstd[c] * terms + Math.abs(dx0[i]));
  }, `dx ${tag}`);
}

const CASES: Case[] = [
  { s: { n: 2, c: 3, h: 5, w: 7 }, mean: 0, std: 1, seed: 1 },
  { s: { n: 1, c: 17, h: 9, w: 11 }, mean: 0.3, std: 2, seed: 2 },
  { s: { n: 3, c: 1, h: 13, w: 13 }, mean: 0, std: 1, seed: 3 },
  { s: { n: 5, c: 64, h: 3, w: 3 }, mean: -1, std: 1, seed: 4 },
  // 1×1 planes: the cursor steps by whole planes.
  { s: { n: 300, c: 3, h: 1, w: 1 }, mean: 0, std: 1, seed: 5 },
  // Planes larger than a workgroup, batch 1.
  { s: { n: 1, c: 2, h: 37, w: 41 }, mean: 0, std: 1, seed: 6 },
  // H·W % 4 == 0: the vec4 item kernels (one plane of 4, several chunks, many channels).
  { s: { n: 3, c: 5, h: 2, w: 2 }, mean: 0, std: 1, seed: 12 },
  { s: { n: 7, c: 3, h: 28, w: 28 }, mean: 0.7, std: 2, seed: 13 },
  { s: { n: 2, c: 66, h: 6, w: 6 }, mean: -1, std: 1, seed: 14 },
  { s: { n: 4, c: 128, h: 4, w: 4 }, mean: 0, std: 1, seed: 16 },
  { s: { n: 4, c: 4, h: 32, w: 32 }, mean: 0, std: 1, seed: 17 },
  { s: { n: 4, c: 32, h: 8, w: 8 }, mean: 0, std: 1, seed: 18 },
  { s: { n: 4, c: 8, h: 16, w: 16 }, mean: 0, std: 1, seed: 19 },
  { s: { n: 4, c: 8, h: 8, w: 8 }, mean: 0, std: 1, seed: 20, relu: true },
  { s: { n: 4, c: 8, h: 8, w: 8 }, mean: 0, std: 1, seed: 21, relu: true, accumulate: true },
  { s: { n: 4, c: 8, h: 8, w: 8 }, mean: 0, std: 1, seed: 22, accumulate: true },
  { s: { n: 4, c: 32, h: 8, w: 8 }, mean: 3, std: 0.1, seed: 23, relu: true },
  { s: { n: 4, c: 16, h: 16, w: 16 }, mean: 0, std: 1, seed: 24, relu: true },
  // Partials per channel that are not a power of two (3 and 12 under both policies): the merges
  // pad them to one with zeros.
  { s: { n: 24, c: 2, h: 16, w: 16 }, mean: 0.5, std: 1, seed: 25, relu: true },
  { s: { n: 32, c: 16, h: 28, w: 28 }, mean: 0, std: 1, seed: 26, relu: true, accumulate: true },
  // A lane per channel (software policy) with an accumulating dx, vec4 and f32 items.
  { s: { n: 4, c: 32, h: 4, w: 4 }, mean: 0.5, std: 1, seed: 27, relu: true, accumulate: true },
  { s: { n: 2, c: 40, h: 3, w: 3 }, mean: 0, std: 1, seed: 28, accumulate: true },
];

Deno.test({
  name: "batch norm test cases include partial counts that are not powers of two",
  ...GPU_TEST,
  async fn() {
    for (const kernels of ["cpu", "gpu"] as const) {
      const rt = await runtime(kernels);
      const parts = CASES.map((k) => batchNormGrid(rt, k.s).parts);
      assert.ok(parts.some((p) => p > 2 && (p & (p - 1)) !== 0), `${kernels}: ${parts}`);
    }
  },
});

Deno.test({
  name: "batch norm test cases run both reductions: a lane per channel and workgroups per chunk",
  ...GPU_TEST,
  async fn() {
    // The software policy's lane-per-channel reductions (few items a channel, ≥ 32 channels),
    // with and without the fused ReLU, beside cases on workgroups; GPUs never take lanes.
    const cpu = await runtime("cpu"), gpu = await runtime("gpu");
    const lanes = CASES.map((k) => batchNormGrid(cpu, k.s).lanes);
    assert.ok(
      CASES.some((k, i) => lanes[i] && k.relu) && CASES.some((k, i) => lanes[i] && !k.relu),
    );
    assert.ok(CASES.some((k, i) => lanes[i] && k.accumulate && k.relu));
    assert.ok(CASES.some((k, i) => lanes[i] && k.accumulate && !k.relu));
    assert.ok(lanes.some((l) => !l));
    assert.ok(CASES.every((k) => !batchNormGrid(gpu, k.s).lanes));
  },
});

Deno.test({
  name: "batch norm train forward + backward vs reference (odd shapes, batch 1, C 1/3/17/64)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    for (const k of CASES) await checkTrain(rt, k);
  },
});

Deno.test({
  name: "batch norm under the GPU kernel policy (up to 16× the chunks per channel) vs reference",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime("gpu");
    for (const k of CASES) await checkTrain(rt, k);
  },
});

Deno.test({
  name: "batch norm fused ReLU forward/backward and accumulating dx",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    await checkTrain(rt, { s: { n: 2, c: 17, h: 7, w: 9 }, mean: 0, std: 1, relu: true, seed: 7 });
    // vec4 items, fused ReLU and accumulating dx.
    await checkTrain(rt, {
      s: { n: 5, c: 4, h: 14, w: 14 },
      mean: 0.2,
      std: 1,
      relu: true,
      accumulate: true,
      seed: 15,
    });
    await checkTrain(rt, {
      s: { n: 3, c: 5, h: 11, w: 5 },
      mean: 0.5,
      std: 1,
      accumulate: true,
      seed: 8,
    });
    await checkTrain(rt, {
      s: { n: 1, c: 3, h: 19, w: 23 },
      mean: 0,
      std: 1,
      relu: true,
      accumulate: true,
      seed: 9,
    });
  },
});

Deno.test({
  name: "batch norm is stable on an offset channel (x = 100 + noise, N·H·W = 65536, 32 chunks)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const k: Case = { s: { n: 64, c: 16, h: 32, w: 32 }, mean: 100, std: 0.5, seed: 10 };
    await checkTrain(rt, k);
    // The bound above is discriminating: E[x²] − E[x]² in f32 on the same data misses it.
    const x = new Rng(10).normal(k.s.n * k.s.c * k.s.h * k.s.w, k.mean, k.std);
    const hw = k.s.h * k.s.w, m = k.s.n * hw;
    let s1 = 0, s2 = 0, e1 = 0, e2 = 0;
    for (let n = 0; n < k.s.n; n++) {
      for (let j = 0; j < hw; j++) {
        const v = x[n * k.s.c * hw + j];
        s1 = Math.fround(s1 + v);
        s2 = Math.fround(s2 + Math.fround(v * v));
        e1 += v;
        e2 += v * v;
      }
    }
    const naive = Math.fround(s2 / m) - Math.fround(s1 / m) ** 2;
    const exact = e2 / m - (e1 / m) ** 2;
    const kappa = 1 + k.mean / k.std;
    assert.ok(Math.abs(naive - exact) / exact > 16 * EPS32 * kappa, "naive variance is worse");
  },
});

Deno.test({
  name: "batch norm eval forward from running stats (plain and fused ReLU)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    for (const relu of [false, true]) {
      const s = { n: 3, c: 17, h: 5, w: 9 };
      const total = s.n * s.c * s.h * s.w;
      const rng = new Rng(11);
      const x = rng.normal(total), gamma = rng.normal(s.c), beta = rng.normal(s.c);
      const running = {
        mean: Float64Array.from(rng.normal(s.c)),
        var: Float64Array.from(rng.uniform(s.c, 0.1, 3)),
      };
      const b = {
        x: upload(rt, x),
        gamma: upload(rt, gamma),
        beta: upload(rt, beta),
        runningMean: upload(rt, running.mean),
        runningVar: upload(rt, running.var),
        y: rt.pool.acquire(total * 4),
      };
      runOnce(rt, await planBatchNormEvalForward(rt, s, b, { relu }));
      const y = await download(rt, b.y, total);
      Object.values(b).forEach((buf) => rt.pool.release(buf));
      let ref = batchNormEvalForward(x, gamma, beta, running, s);
      if (relu) ref = ref.map((v) => Math.max(v, 0));
      // A handful of roundings of each term of (x − μ)·invstd·γ + β.
      assertWithin(y, ref, (i) => {
        const c = chan(s, i);
        const inv = 1 / Math.sqrt(running.var[c] + 1e-5);
        const t = (Math.abs(x[i]) + Math.abs(running.mean[c])) * inv * Math.abs(gamma[c]);
        return 8 * EPS32 * (t + Math.abs(beta[c]));
      }, `eval relu=${relu}`);
    }
  },
});

Deno.test({
  name: "batch norm eval backward (frozen BN in training): plain, fused ReLU, accumulate, vec4/f32",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    let seed = 40;
    // H·W % 4 = 0 (vec4 items) and not (f32 items).
    for (const s of [{ n: 2, c: 5, h: 4, w: 6 }, { n: 3, c: 7, h: 3, w: 5 }]) {
      for (const relu of [false, true]) {
        for (const accumulate of [false, true]) {
          const total = s.n * s.c * s.h * s.w;
          const rng = new Rng(seed++);
          const x = rng.normal(total), dy = rng.normal(total), dx0 = rng.normal(total);
          const gamma = rng.normal(s.c), beta = rng.normal(s.c);
          const running = {
            mean: Float64Array.from(rng.normal(s.c)),
            var: Float64Array.from(rng.uniform(s.c, 0.1, 3)),
          };
          const b = {
            dy: upload(rt, dy),
            x: upload(rt, x),
            gamma: upload(rt, gamma),
            beta: upload(rt, beta),
            runningMean: upload(rt, running.mean),
            runningVar: upload(rt, running.var),
            dx: upload(rt, dx0),
          };
          runOnce(rt, await planBatchNormEvalBackward(rt, s, b, { relu, accumulate }));
          const dx = await download(rt, b.dx, total);
          Object.values(b).forEach((buf) => rt.pool.release(buf));
          const g = batchNormEvalBackward(dy, x, gamma, beta, running, s, { relu });
          const ref = accumulate ? g.map((v, i) => v + dx0[i]) : g;
          const pre = batchNormEvalForward(x, gamma, beta, running, s);
          // k = γ·(1/√(var + eps)) is a few roundings (inverse square root 2 ulp, the product 1)
          // and g·k one more: 8ε of |dy·k|, plus the accumulate's add. A pre-activation within
          // 1e-5 of zero may land either side of the ReLU: those elements are not judged.
          assertWithin(dx, ref, (i) => {
            if (relu && Math.abs(pre[i]) < 1e-5) return Infinity;
            const c = chan(s, i);
            const k = Math.abs(gamma[c]) / Math.sqrt(running.var[c] + 1e-5);
            return 8 * EPS32 * Math.abs(dy[i]) * k +
              (accumulate ? 2 * EPS32 * Math.abs(ref[i]) : 0) +
              1e-30;
          }, `eval backward ${JSON.stringify(s)} relu=${relu} acc=${accumulate}`);
        }
      }
    }
  },
});

Deno.test({
  name: "batch norm vs PyTorch golden: two train steps, backward, eval",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const gc = goldenCase("batchnorm_train");
    const s = gc.shape as unknown as BatchNormShape;
    const total = s.n * s.c * s.h * s.w;
    const [x1, x2, gamma, beta, g] = ["x1", "x2", "gamma", "beta", "g"].map((k) =>
      goldenInput(gc, k)
    );
    const init = batchNormInitRunning(s.c);
    const bx1 = upload(rt, x1), bx2 = upload(rt, x2), bg = upload(rt, gamma);
    const bb = upload(rt, beta), bgr = upload(rt, g);
    const rm = upload(rt, init.mean), rv = upload(rt, init.var);
    const y1 = rt.pool.acquire(total * 4), y2 = rt.pool.acquire(total * 4);
    const yEval = rt.pool.acquire(total * 4), dx = rt.pool.acquire(total * 4);
    const dg = rt.pool.acquire(s.c * 4), db = rt.pool.acquire(s.c * 4);
    const f1 = await planBatchNormTrainForward(rt, s, {
      x: bx1,
      gamma: bg,
      beta: bb,
      y: y1,
      runningMean: rm,
      runningVar: rv,
    });
    const bw = await planBatchNormBackward(rt, s, {
      dy: bgr,
      x: bx1,
      gamma: bg,
      mean: f1.mean,
      invstd: f1.invstd,
      dx,
      dgamma: dg,
      dbeta: db,
    });
    runOnce(rt, { steps: [...f1.steps, ...bw.steps], scratch: [] });
    const got1 = {
      y1: await download(rt, y1, total),
      mean1: await download(rt, f1.mean, s.c),
      invstd1: await download(rt, f1.invstd, s.c),
      running_mean1: await download(rt, rm, s.c),
      running_var1: await download(rt, rv, s.c),
      dx: await download(rt, dx, total),
      dgamma: await download(rt, dg, s.c),
      dbeta: await download(rt, db, s.c),
    };
    const f2 = await planBatchNormTrainForward(rt, s, {
      x: bx2,
      gamma: bg,
      beta: bb,
      y: y2,
      runningMean: rm,
      runningVar: rv,
    });
    const ev = await planBatchNormEvalForward(rt, s, {
      x: bx1,
      gamma: bg,
      beta: bb,
      runningMean: rm,
      runningVar: rv,
      y: yEval,
    });
    runOnce(rt, { steps: [...f2.steps, ...ev.steps], scratch: [] });
    const got = {
      ...got1,
      y2: await download(rt, y2, total),
      running_mean2: await download(rt, rm, s.c),
      running_var2: await download(rt, rv, s.c),
      y_eval: await download(rt, yEval, total),
    };
    for (const b of [...f1.scratch, ...bw.scratch, ...f2.scratch]) rt.pool.release(b);
    for (const b of [bx1, bx2, bg, bb, bgr, rm, rv, y1, y2, yEval, dx, dg, db]) rt.pool.release(b);
    // PyTorch ran in f64 on the formula inputs; ours are those inputs rounded to f32 (ε relative)
    // and O(1) in size here, so 64ε of the tensor's largest magnitude covers input rounding
    // amplified by invstd (≈1–3 for these inputs) plus the kernel's own roundings.
    for (const [name, actual] of Object.entries(got)) {
      const want = goldenOutput(gc, name);
      const scale = Math.max(...want.map(Math.abs), 1);
      assertWithin(actual, want, () => 8 * EPS32 * scale, `golden ${name}`);
    }
  },
});

/** relu(bn(x) + skip) in one pass (train and eval statistics) against the reference. */
async function checkJoin(rt: Runtime, s: BatchNormShape, evalMode: boolean, seed: number) {
  const total = s.n * s.c * s.h * s.w;
  const rng = new Rng(seed);
  const x = rng.normal(total, 0.5, 2), skip = rng.normal(total);
  const gamma = rng.uniform(s.c, 0.5, 1.5), beta = rng.normal(s.c);
  const running = {
    mean: Float64Array.from(rng.normal(s.c)),
    var: Float64Array.from(rng.uniform(s.c, 0.5, 2)),
  };
  const b = {
    x: upload(rt, x),
    skip: upload(rt, skip),
    gamma: upload(rt, gamma),
    beta: upload(rt, beta),
    runningMean: upload(rt, running.mean),
    runningVar: upload(rt, running.var),
    y: rt.pool.acquire(total * 4),
  };
  const plan = evalMode
    ? await planBatchNormEvalForward(rt, s, b)
    : await planBatchNormTrainForward(rt, s, b);
  runOnce(rt, plan);
  const y = await download(rt, b.y, total);
  for (const buf of Object.values(b)) rt.pool.release(buf);
  let mean: ArrayLike<number>, invstd: ArrayLike<number>, bn: Float64Array;
  if (evalMode) {
    bn = batchNormEvalForward(x, gamma, beta, running, s);
    mean = running.mean;
    invstd = running.var.map((v) => 1 / Math.sqrt(v + 1e-5));
  } else {
    ({ y: bn, mean, invstd } = batchNormTrainForward(x, gamma, beta, null, s));
  }
  const ref = bn.map((v, i) => Math.max(v + skip[i], 0));
  // normalize's bound (κ = 1 + |μ|/σ ≤ 2 here, absolute terms for eval), plus the add's rounding.
  assertWithin(y, ref, (i) => {
    const c = chan(s, i);
    const t = (Math.abs(x[i]) + Math.abs(mean[c])) * invstd[c] * gamma[c];
    return 8 * EPS32 * (2 * t + Math.abs(beta[c]) + Math.abs(skip[i]));
  }, `join ${JSON.stringify(s)} ${evalMode ? "eval" : "train"}`);
  assert.ok(y.every((v) => v >= 0) && ref.some((v) => v === 0) && ref.some((v) => v > 0));
}

Deno.test({
  name: "batch norm with its residual join fused: relu(bn(x) + skip), train and eval, vec4/f32",
  ...GPU_TEST,
  async fn() {
    for (const kernels of ["cpu", "gpu"] as const) {
      const rt = await runtime(kernels);
      let seed = 40;
      for (const s of [{ n: 4, c: 16, h: 8, w: 8 }, { n: 3, c: 5, h: 7, w: 7 }]) {
        for (const evalMode of [false, true]) await checkJoin(rt, s, evalMode, seed++);
      }
    }
  },
});

Deno.test({
  name: "batch norm refuses a fused join with its own ReLU, or skip bound twice",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const s = { n: 1, c: 2, h: 2, w: 2 };
    const buf = () => rt.pool.acquire(64);
    const b = {
      x: buf(),
      gamma: buf(),
      beta: buf(),
      runningMean: buf(),
      runningVar: buf(),
      y: buf(),
    };
    await assert.rejects(
      planBatchNormTrainForward(rt, s, { ...b, skip: buf() }, { relu: true }),
      /already ends in a ReLU/,
    );
    await assert.rejects(
      planBatchNormEvalForward(rt, s, { ...b, skip: b.y }),
      /one buffer bound twice/,
    );
  },
});
