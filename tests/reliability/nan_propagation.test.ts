/**
 * Defect 1 of the reliability probe, at the kernel level: the ReLU kernels computed max(x, 0),
 * which is IEEE maxNum on Mesa's adapters and maps NaN to 0, so one NaN pixel never reached the
 * loss while it poisoned the weights. Every ReLU now propagates NaN as PyTorch's does (forward
 * NaN → NaN, ±Inf → Inf / 0; backward passes the gradient where the output is NaN), and so does
 * max pooling; batch norm keeps its running statistics when a batch's are not finite. The
 * training step's guard (src/ops/guard.ts) flags non-finite tensors on the GPU, and a flagged
 * step's optimizer writes nothing.
 * `deno task test:gpu` runs this file on OpenGL too (CI: both Mesa paths).
 */
import assert from "node:assert/strict";
import { download, GPU_TEST, runtime, upload } from "../helpers/gpu.ts";
import { type Planned, runOnce } from "../../src/gpu/plan.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { planReluBackward, planReluForward, planReluInPlace } from "../../src/ops/activation.ts";
import { planAddReluBackward, planAddReluForward } from "../../src/ops/residual.ts";
import {
  planBatchNormBackward,
  planBatchNormEvalForward,
  planBatchNormTrainForward,
} from "../../src/ops/batchnorm.ts";
import { planMaxPool2dForward } from "../../src/ops/pool.ts";
import { createGuardFlag, GUARD_BITS, planNonFiniteCheck } from "../../src/ops/guard.ts";
import { planSgd } from "../../src/ops/optimizer.ts";

const run = (rt: Runtime, ...plans: Planned[]) =>
  runOnce(rt, { steps: plans.flatMap((p) => p.steps), scratch: [] });

/** PyTorch's relu: NaN stays NaN, −Inf and negatives (−0 too) become +0. */
const torchRelu = (v: number) => (Number.isNaN(v) ? NaN : v > 0 ? v : 0);

const special = [NaN, -NaN, Infinity, -Infinity, -0, 0, -1.5, 2.5, -3e38, 3e38, 1e-45, -1e-45];

function sameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) {
  assert.equal(actual.length, expected.length, label);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (!(Number.isNaN(e) ? Number.isNaN(a) : Object.is(a, Math.fround(e)))) {
      assert.fail(`${label}[${i}]: got ${a}, PyTorch gives ${e}`);
    }
  }
}

Deno.test({
  name: "reliability: ReLU and the residual join propagate NaN and Inf as PyTorch does",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    // 12 values (vec4 kernels) and 13 (f32 kernels).
    for (const x of [special, [...special, NaN]]) {
      const n = x.length;
      const bx = upload(rt, x), by = rt.pool.acquire(n * 4), bin = upload(rt, x);
      run(
        rt,
        await planReluForward(rt, n, { x: bx, y: by }),
        await planReluInPlace(rt, n, { x: bin }),
      );
      sameBits(await download(rt, by, n), x.map(torchRelu), `relu n=${n}`);
      sameBits(await download(rt, bin, n), x.map(torchRelu), `relu in place n=${n}`);
      // Backward from y: PyTorch's threshold_backward keeps dy unless y ≤ 0, so NaN passes it.
      const dy = x.map((_, i) => i + 1), bdy = upload(rt, dy), bdx = rt.pool.acquire(n * 4);
      run(rt, await planReluBackward(rt, n, { dy: bdy, y: by, dx: bdx }));
      const y = x.map(torchRelu);
      sameBits(await download(rt, bdx, n), dy.map((g, i) => (y[i] <= 0 ? 0 : g)), `relu bwd ${n}`);
      // relu(a + b) with the NaN in either branch.
      const other = x.map((_, i) => (i % 3) - 1),
        bb = upload(rt, other),
        bj = rt.pool.acquire(n * 4);
      run(rt, await planAddReluForward(rt, n, { a: bb, b: bx, y: bj }));
      const join = x.map((v, i) => torchRelu(Math.fround(v + other[i])));
      sameBits(await download(rt, bj, n), join, `join n=${n}`);
      const da = rt.pool.acquire(n * 4), db = rt.pool.acquire(n * 4);
      run(rt, await planAddReluBackward(rt, n, { dy: bdy, y: bj, da, db }));
      const want = dy.map((g, i) => (join[i] <= 0 ? 0 : g));
      sameBits(await download(rt, da, n), want, `join bwd da ${n}`);
      sameBits(await download(rt, db, n), want, `join bwd db ${n}`);
      for (const b of [bx, by, bin, bdy, bdx, bb, bj, da, db]) rt.pool.release(b);
    }
  },
});

Deno.test({
  name: "reliability: fused BN-ReLU spreads a NaN like PyTorch and keeps its running statistics",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    // h·w = 4 (vec4 kernels) and 3 (f32 kernels).
    for (const [h, w] of [[2, 2], [1, 3]]) {
      const s = { n: 2, c: 3, h, w }, n = s.n * s.c * h * w, per = h * w;
      const x = Array.from({ length: n }, (_, i) => Math.sin(i) * 2);
      // One NaN in channel 1 of sample 0: PyTorch's batch statistics of channel 1 are NaN, so
      // its every output is NaN; channels 0 and 2 are untouched.
      x[per + 1] = NaN;
      const bx = upload(rt, x), by = rt.pool.acquire(n * 4), bys = rt.pool.acquire(n * 4);
      const gamma = upload(rt, [1, 1, 1]), beta = upload(rt, [0.5, 0.5, 0.5]);
      const rm = upload(rt, [0.25, 0.5, 0.75]), rv = upload(rt, [2, 3, 4]);
      const skip = upload(rt, x.map(() => -0.25));
      const fwd = await planBatchNormTrainForward(rt, s, {
        x: bx,
        gamma,
        beta,
        y: by,
        runningMean: rm,
        runningVar: rv,
      }, { relu: true });
      run(rt, fwd);
      const y = await download(rt, by, n);
      for (let i = 0; i < n; i++) {
        const c = Math.floor(i / per) % s.c;
        assert.equal(Number.isNaN(y[i]), c === 1, `fused relu: y[${i}] = ${y[i]} (channel ${c})`);
      }
      // Running statistics: channel 1 keeps its values (PyTorch would make them NaN for good;
      // the trainer's guard skips such a step, so nothing of it may stay behind), 0 and 2 move.
      const [m, v] = [await download(rt, rm, 3), await download(rt, rv, 3)];
      assert.deepEqual([m[1], v[1]], [0.5, 3]);
      assert.ok(m[0] !== 0.25 && v[2] !== 4, `channels 0/2 updated: ${m} ${v}`);
      // Backward: the NaN channel's gradients are NaN (PyTorch: NaN), the others finite.
      const dy = upload(rt, x.map((_, i) => (i % 5) - 2)), dx = rt.pool.acquire(n * 4);
      const dg = rt.pool.acquire(12), dbeta = rt.pool.acquire(12);
      run(
        rt,
        await planBatchNormBackward(rt, s, {
          dy,
          x: bx,
          gamma,
          beta,
          mean: fwd.mean,
          invstd: fwd.invstd,
          dx,
          dgamma: dg,
          dbeta,
        }, { relu: true }),
      );
      const [gx, gg] = [await download(rt, dx, n), await download(rt, dg, 3)];
      for (let i = 0; i < n; i++) {
        const c = Math.floor(i / per) % s.c;
        assert.equal(Number.isNaN(gx[i]), c === 1, `fused relu bwd: dx[${i}] = ${gx[i]}`);
      }
      assert.ok(Number.isNaN(gg[1]) && Number.isFinite(gg[0]) && Number.isFinite(gg[2]), `${gg}`);
      // Eval mode (running statistics) with the join fused: only the NaN element is NaN.
      run(
        rt,
        await planBatchNormEvalForward(rt, s, {
          x: bx,
          gamma,
          beta,
          runningMean: rm,
          runningVar: rv,
          y: bys,
          skip,
        }),
      );
      const ye = await download(rt, bys, n);
      for (let i = 0; i < n; i++) {
        assert.equal(Number.isNaN(ye[i]), i === per + 1, `eval join: y[${i}] = ${ye[i]}`);
      }
      for (const b of [bx, by, bys, gamma, beta, rm, rv, skip, dy, dx, dg, dbeta]) {
        rt.pool.release(b);
      }
      for (const b of fwd.scratch) rt.pool.release(b);
    }
  },
});

Deno.test({
  name: "reliability: max pooling lets a NaN win its window, as PyTorch does",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    // One 4×4 plane, 2×2 windows stride 2: a NaN first, last and in the middle of a window.
    const x = [NaN, 1, 5, 6, 2, 3, 7, NaN, 9, 8, 1, 1, 4, 4, NaN, 0];
    const bx = upload(rt, x), by = rt.pool.acquire(16);
    const plan = await planMaxPool2dForward(
      rt,
      { n: 1, c: 1, h: 4, w: 4, kernel: 2, stride: 2, padding: 0 },
      { x: bx, y: by },
    );
    run(rt, plan);
    sameBits(await download(rt, by, 4), [NaN, NaN, 9, NaN], "max pool");
    for (const b of [bx, by, ...plan.scratch]) rt.pool.release(b);
  },
});

Deno.test({
  name: "reliability: the guard flags NaN or Inf anywhere, and the optimizer then writes nothing",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const flag = createGuardFlag(rt);
    const readFlag = async () => (await rt.read(flag, 4).then((b) => new Uint32Array(b)))[0];
    // vec4 (n % 4 = 0) and f32 tensors; each bad value at the start, the middle and the end.
    for (const n of [8, 1028, 7, 1031]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of [0, n >> 1, n - 1]) {
          const x: number[] = Array.from({ length: n }, (_, i) => (i % 2 ? 3e38 : -1e-45));
          x[at] = bad;
          const b = upload(rt, x);
          rt.replay(await planNonFiniteCheck(rt, [[b, n]], flag, GUARD_BITS.gradients));
          assert.equal(await readFlag(), GUARD_BITS.gradients, `${bad} at ${at} of ${n}`);
          rt.commands().clearBuffer(flag, 0, 4);
          rt.pool.release(b);
        }
      }
      // Huge finite and subnormal values are finite.
      const ok = upload(rt, Array.from({ length: n }, (_, i) => (i % 2 ? -3.4e38 : 1e-45)));
      rt.replay(await planNonFiniteCheck(rt, [[ok, n]], flag, GUARD_BITS.input));
      assert.equal(await readFlag(), 0, `finite ${n}`);
      rt.pool.release(ok);
    }
    // A flagged step: neither the weights nor the momentum move.
    for (const n of [8, 7]) {
      const w = upload(rt, Array.from({ length: n }, (_, i) => i / 10));
      const g = upload(rt, Array.from({ length: n }, () => 100));
      rt.write(flag, 0, new Uint32Array([GUARD_BITS.loss]));
      const sgd = await planSgd(rt, [n], { params: [w], grads: [g], guard: flag }, {
        lr: 0.5,
        momentum: 0.9,
      });
      rt.replay(sgd.steps);
      rt.submit();
      assert.deepEqual(
        Array.from(await download(rt, w, n)),
        Array.from({ length: n }, (_, i) => Math.fround(i / 10)),
      );
      assert.deepEqual(Array.from(await download(rt, sgd.state[0][0], n)), new Array(n).fill(0));
      // Unflagged, an update that overflows is not written either, and flags the step.
      rt.commands().clearBuffer(flag, 0, 4);
      const big = await planSgd(rt, [n], { params: [w], grads: [g], guard: flag }, { lr: 3e38 });
      rt.replay(big.steps);
      rt.submit();
      const after = await download(rt, w, n);
      assert.ok(after.every(Number.isFinite), `weights ${after}`);
      assert.equal(await readFlag(), GUARD_BITS.update);
      rt.commands().clearBuffer(flag, 0, 4);
      for (const p of [sgd, big]) {
        p.dispose();
        for (const b of p.scratch) rt.pool.release(b);
      }
      rt.pool.release(w);
      rt.pool.release(g);
    }
    rt.pool.release(flag);
  },
});
