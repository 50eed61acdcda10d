/**
 * The fused residual join y = relu(a + b) and its two-output backward at ResNet-20 batch-32
 * stage sizes, in GB/s of compulsory traffic. Each size runs twice: n (a multiple of 4: the vec4f
 * kernels) and n − 1 (the f32 fallback), so one process gives the vec4 vs f32 A/B.
 */
import type { BenchCase } from "../harness.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { planAddReluBackward, planAddReluForward } from "../../src/ops/residual.ts";

function alloc(rt: Runtime, n: number, count: number): GPUBuffer[] {
  return Array.from({ length: count }, () => {
    const b = rt.pool.acquire(n * 4, "bench");
    rt.commands().clearBuffer(b);
    return b;
  });
}

function pair(n: number, label: string): BenchCase[] {
  const shape = `${n} ${n % 4 === 0 ? "vec4f" : "f32"} ${label}`;
  return [
    {
      name: "add_relu.forward",
      shape,
      bytes: 12 * n,
      async setup(rt) {
        const bufs = alloc(rt, n, 3);
        const [a, b, y] = bufs;
        const planned = await planAddReluForward(rt, n, { a, b, y });
        return { planned, release: () => bufs.forEach((x) => rt.pool.release(x)) };
      },
    },
    {
      // The identity shortcut's form: db accumulates into the block input's gradient.
      name: "add_relu.backward",
      shape,
      bytes: 20 * n,
      async setup(rt) {
        const bufs = alloc(rt, n, 4);
        const [dy, y, da, db] = bufs;
        const planned = await planAddReluBackward(rt, n, { dy, y, da, db }, {
          accumulateB: true,
        });
        return { planned, release: () => bufs.forEach((x) => rt.pool.release(x)) };
      },
    },
  ];
}

const STAGE1 = 32 * 16 * 28 * 28, STAGE3 = 32 * 64 * 7 * 7;
export const cases: BenchCase[] = [
  ...pair(STAGE1, "stage 1"),
  ...pair(STAGE1 - 1, "stage 1"),
  ...pair(STAGE3, "stage 3"),
  ...pair(STAGE3 - 1, "stage 3"),
];
