/**
 * SGD / AdamW kernels against the f64 torch.optim mirrors (src/reference/optim.ts) over several
 * steps, with the learning rate changed between steps through the handle (no re-planning).
 *
 * Tolerance: the reference starts from the same f32 values, so differences are f32 round-off of
 * the update: a handful of roundings per step (~8u relative to the largest term, u = 2⁻²⁴), fed
 * forward by the parameters and state. We allow 8·t·u·(max|p| + max|step|) after t steps, about
 * 1e-6 here; a wrong coefficient (dampening, Nesterov, bias correction) moves params by ≥ 1e-3.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { assertClose } from "../helpers/close.ts";
import { formula, type FormulaSpec, goldenCase, goldenInput } from "../helpers/golden.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { type OptimizerPlan, planAdamW, planSgd } from "../../src/ops/optimizer.ts";
import { planClipGradNorm } from "../../src/ops/norms.ts";
import {
  adamWInitState,
  adamWStep,
  sgdDecoupledStep,
  sgdInitState,
  sgdStep,
} from "../../src/reference/optim.ts";
import { clipGradNorm as clipRef } from "../../src/reference/clip.ts";

const U = 2 ** -24;
const SIZES = [1, 257, 1000];

function upload(rt: Runtime, data: ArrayLike<number>): GPUBuffer {
  const buf = rt.pool.acquire(Math.max(4, data.length * 4), "test");
  rt.device.queue.writeBuffer(buf, 0, Float32Array.from(data));
  return buf;
}

async function download(rt: Runtime, buf: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await rt.read(buf, n * 4));
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Runs `steps` on the GPU and the reference side by side; lr changes to lrs[t] at step t. */
async function compare(
  name: string,
  plan: (rt: Runtime, params: GPUBuffer[], grads: GPUBuffer[]) => Promise<OptimizerPlan>,
  refStep: (p: Float64Array, g: Float64Array, i: number, lr: number) => void,
  lrs: number[],
  seed: number,
  sizes = SIZES,
): Promise<void> {
  const rt = await runtime();
  const rng = new Rng(seed);
  const p64 = sizes.map((n) => Float64Array.from(rng.normal(n)));
  const params = p64.map((p) => upload(rt, p));
  const grads = sizes.map((n) => upload(rt, new Float32Array(n)));
  const opt = await plan(rt, params, grads);
  for (let t = 1; t <= lrs.length; t++) {
    const g32 = sizes.map((n) => rng.normal(n, 0, 0.5));
    g32.forEach((g, i) => rt.device.queue.writeBuffer(grads[i], 0, Float32Array.from(g)));
    opt.setStep(t);
    if (opt.lr !== lrs[t - 1]) opt.setLearningRate(lrs[t - 1]);
    rt.replay(opt.steps);
    rt.submit();
    const before = p64.map((p) => Float64Array.from(p));
    p64.forEach((p, i) => refStep(p, Float64Array.from(g32[i]), i, lrs[t - 1]));
    for (let i = 0; i < sizes.length; i++) {
      const got = await download(rt, params[i], sizes[i]);
      const stepSize = maxAbs(p64[i].map((v, j) => v - before[i][j]));
      const atol = 8 * t * U * (maxAbs(p64[i]) + stepSize);
      assertClose(got, p64[i], { rtol: 0, atol, label: `${name}: tensor ${i} after step ${t}` });
    }
  }
  for (const b of [...params, ...grads, ...opt.scratch]) rt.pool.release(b);
  opt.dispose();
}

Deno.test({
  name: "SGD momentum + Nesterov + coupled weight decay, 4 steps, lr changed twice",
  ...GPU_TEST,
  async fn() {
    const o = { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 };
    const st = SIZES.map(() => sgdInitState());
    await compare(
      "sgd nesterov",
      (rt, params, grads) => planSgd(rt, SIZES, { params, grads }, o),
      (p, g, i, lr) => sgdStep(p, g, st[i], { ...o, lr }),
      [0.1, 0.1, 0.05, 0.02],
      21,
    );
  },
});

Deno.test({
  name: "SGD with dampening, decoupled weight decay and L1, 3 steps; plain SGD",
  ...GPU_TEST,
  async fn() {
    const o = { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.01, l1: 1e-3 };
    const st = SIZES.map(() => sgdInitState());
    await compare(
      "sgd decoupled",
      (rt, params, grads) =>
        planSgd(rt, SIZES, { params, grads }, { ...o, decoupledWeightDecay: true }),
      // L1 enters as l1·sign(p) added to the gradient, sign taken before the step.
      (p, g, i, lr) =>
        sgdDecoupledStep(p, g.map((v, j) => v + o.l1 * Math.sign(p[j])), st[i], { ...o, lr }),
      [0.05, 0.1, 0.1],
      22,
    );
    const plain = SIZES.map(() => sgdInitState());
    await compare(
      "sgd plain",
      (rt, params, grads) => planSgd(rt, SIZES, { params, grads }, { lr: 0.1, weightDecay: 1e-3 }),
      (p, g, i, lr) => sgdStep(p, g, plain[i], { lr, weightDecay: 1e-3 }),
      [0.1, 0.3],
      23,
    );
  },
});

Deno.test({
  name: "AdamW, 4 steps with bias correction, lr changed; per-tensor weight decay",
  ...GPU_TEST,
  async fn() {
    const o = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 };
    const wds = [0, 0.05, 0.2];
    const st = SIZES.map((n) => adamWInitState(n));
    await compare(
      "adamw",
      (rt, params, grads) =>
        planAdamW(rt, SIZES, { params, grads }, {
          ...o,
          perTensor: wds.map((weightDecay) => ({ weightDecay })),
        }),
      (p, g, i, lr) => adamWStep(p, g, st[i], { ...o, lr, weightDecay: wds[i] }),
      [1e-2, 1e-2, 3e-3, 1e-3],
      24,
    );
  },
});

Deno.test({
  name: "SGD reading the GPU clip factor: gradients clipped on the fly (norm above max)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const rng = new Rng(25);
    const p0 = SIZES.map((n) => rng.normal(n));
    const g0 = SIZES.map((n) => rng.normal(n));
    const params = p0.map((p) => upload(rt, p));
    const grads = g0.map((g) => upload(rt, g));
    const clip = await planClipGradNorm(rt, SIZES, grads, { maxNorm: 1 });
    const opt = await planSgd(rt, SIZES, { params, grads, clipScale: clip.clip }, { lr: 0.5 });
    rt.replay(clip.steps);
    rt.replay(opt.steps);
    rt.submit();
    const g64 = g0.map((g) => Float64Array.from(g));
    const { scale } = clipRef(g64, 1);
    assert.ok(scale < 0.1, "the test must clip");
    for (let i = 0; i < SIZES.length; i++) {
      const want = p0[i].map((v, j) => v - 0.5 * g64[i][j]);
      assertClose(await download(rt, params[i], SIZES[i]), want, {
        rtol: 0,
        atol: 8 * U * (maxAbs(want) + 0.5 * maxAbs(g64[i])),
        label: `clipped sgd tensor ${i}`,
      });
    }
    for (const b of [...params, ...grads, ...clip.scratch, ...opt.scratch]) rt.pool.release(b);
    opt.dispose();
  },
});

/** The PyTorch fixtures: 3 steps from formula-built params and grads. */
async function golden(
  name: string,
  plan: (rt: Runtime, p: GPUBuffer, g: GPUBuffer, n: number) => Promise<OptimizerPlan>,
) {
  const rt = await runtime();
  const c = goldenCase(name);
  const p = goldenInput(c, "p");
  const grads = (c.inputs.grads as FormulaSpec[]).map(formula);
  const pb = upload(rt, p), gb = upload(rt, grads[0]);
  const opt = await plan(rt, pb, gb, p.length);
  const want = c.outputs.params as number[][];
  for (let t = 0; t < grads.length; t++) {
    rt.device.queue.writeBuffer(gb, 0, Float32Array.from(grads[t]));
    opt.setStep(t + 1);
    rt.replay(opt.steps);
    rt.submit();
    // Inputs rounded to f32 add ~u·|p| each step to the round-off allowance.
    assertClose(await download(rt, pb, p.length), want[t], {
      rtol: 0,
      atol: 16 * (t + 1) * U * maxAbs(want[t]),
      label: `golden ${name} step ${t + 1}`,
    });
  }
  for (const b of [pb, gb, ...opt.scratch]) rt.pool.release(b);
  opt.dispose();
}

Deno.test({
  name: "SGD Nesterov and AdamW against PyTorch golden values",
  ...GPU_TEST,
  async fn() {
    const so = goldenCase("sgd_nesterov").options as Record<string, number | boolean>;
    await golden("sgd_nesterov", (rt, p, g, n) =>
      planSgd(rt, [n], { params: [p], grads: [g] }, {
        lr: so.lr as number,
        momentum: so.momentum as number,
        dampening: so.dampening as number,
        nesterov: so.nesterov as boolean,
        weightDecay: so.weight_decay as number,
      }));
    const ao = goldenCase("adamw").options as {
      lr: number;
      betas: number[];
      eps: number;
      weight_decay: number;
    };
    await golden("adamw", (rt, p, g, n) =>
      planAdamW(rt, [n], { params: [p], grads: [g] }, {
        lr: ao.lr,
        beta1: ao.betas[0],
        beta2: ao.betas[1],
        eps: ao.eps,
        weightDecay: ao.weight_decay,
      }));
  },
});
