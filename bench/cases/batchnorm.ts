/**
 * Batch norm (train forward, backward, fused ReLU) and the fused residual add + ReLU at the
 * ResNet-20 stage shapes (batch 128) and a ResNet-50 stage-1 shape, in GB/s of compulsory
 * traffic: every tensor read or written once per pass that touches it.
 */
import type { BenchCase } from "../harness.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { planBatchNormBackward, planBatchNormTrainForward } from "../../src/ops/batchnorm.ts";
import { planAddReluBackward, planAddReluForward } from "../../src/ops/residual.ts";

function alloc(rt: Runtime, ...sizes: number[]): GPUBuffer[] {
  return sizes.map((n) => {
    const b = rt.pool.acquire(n * 4, "bench");
    rt.commands().clearBuffer(b); // zeros, not garbage: NaNs/denormals slow software adapters
    return b;
  });
}

const SHAPES = [
  { n: 32, c: 16, h: 28, w: 28 },
  { n: 128, c: 16, h: 32, w: 32 },
  { n: 128, c: 32, h: 16, w: 16 },
  { n: 128, c: 64, h: 8, w: 8 },
  { n: 16, c: 256, h: 56, w: 56 },
];

function bnCases(s: { n: number; c: number; h: number; w: number }): BenchCase[] {
  const t = s.n * s.c * s.h * s.w;
  const shape = `N${s.n} C${s.c} ${s.h}×${s.w}`;
  const out: BenchCase[] = [];
  for (const relu of [false, true]) {
    const tag = relu ? "+relu" : "";
    out.push({
      name: `batchnorm${tag}.train_fwd`,
      shape,
      bytes: 4 * t * 3, // stats read x; normalize reads x, writes y
      async setup(rt) {
        const bufs = alloc(rt, t, s.c, s.c, t, s.c, s.c);
        const [x, gamma, beta, y, runningMean, runningVar] = bufs;
        const planned = await planBatchNormTrainForward(rt, s, {
          x,
          gamma,
          beta,
          y,
          runningMean,
          runningVar,
        }, { relu });
        return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
      },
    });
    out.push({
      name: `batchnorm${tag}.backward`,
      shape,
      // reduce reads dy, x; dx pass reads dy, x, writes dx (the ReLU mask is recomputed from x)
      bytes: 4 * t * 5,
      async setup(rt) {
        const bufs = alloc(rt, t, t, s.c, s.c, s.c, t, s.c, s.c, s.c);
        const [dy, x, gamma, mean, invstd, dx, dgamma, dbeta, beta] = bufs;
        const planned = await planBatchNormBackward(rt, s, {
          dy,
          x,
          gamma,
          mean,
          invstd,
          dx,
          dgamma,
          dbeta,
          beta: relu ? beta : undefined,
        }, { relu });
        return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
      },
    });
  }
  out.push({
    name: "add_relu.forward",
    shape,
    bytes: 4 * t * 3,
    async setup(rt) {
      const bufs = alloc(rt, t, t, t);
      const [a, b, y] = bufs;
      const planned = await planAddReluForward(rt, t, { a, b, y });
      return { planned, release: () => bufs.forEach((x) => rt.pool.release(x)) };
    },
  });
  out.push({
    name: "add_relu.backward",
    shape,
    bytes: 4 * t * 5, // reads dy, y; writes da, db; db accumulates (+1 read)
    async setup(rt) {
      const bufs = alloc(rt, t, t, t, t);
      const [dy, y, da, db] = bufs;
      const planned = await planAddReluBackward(rt, t, { dy, y, da, db }, { accumulateB: true });
      return { planned, release: () => bufs.forEach((x) => rt.pool.release(x)) };
    },
  });
  return out;
}

export const cases: BenchCase[] = SHAPES.flatMap(bnCases);
