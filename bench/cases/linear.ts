/** Linear layers (forward, backward) and a square GEMM: GFLOP/s of the register-blocked kernel. */
import type { BenchCase } from "../harness.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { planGemm, planLinearBackward, planLinearForward } from "../../src/ops/linear.ts";

function alloc(rt: Runtime, ...sizes: number[]): GPUBuffer[] {
  return sizes.map((n) => {
    const b = rt.pool.acquire(n * 4, "bench");
    // Zeros rather than garbage: denormal/NaN inputs can slow software rasterizers.
    rt.commands().clearBuffer(b);
    return b;
  });
}

function linearCases(n: number, fi: number, fo: number): BenchCase[] {
  const s = { n, inFeatures: fi, outFeatures: fo };
  const shape = `N${n} ${fi}→${fo}`;
  return [
    {
      name: "linear.forward",
      shape,
      flops: 2 * n * fi * fo,
      async setup(rt) {
        const bufs = alloc(rt, n * fi, fo * fi, fo, n * fo);
        const [x, weight, bias, y] = bufs;
        const planned = await planLinearForward(rt, s, { x, weight, bias, y });
        return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
      },
    },
    {
      name: "linear.backward",
      shape,
      flops: 4 * n * fi * fo + n * fo,
      async setup(rt) {
        const bufs = alloc(rt, n * fo, n * fi, fo * fi, n * fi, fo * fi, fo);
        const [dy, x, weight, dx, dw, db] = bufs;
        const planned = await planLinearBackward(rt, s, { dy, x, weight, dx, dw, db });
        return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
      },
    },
  ];
}

export const cases: BenchCase[] = [
  ...linearCases(128, 64, 10),
  ...linearCases(16, 2048, 1000),
  {
    name: "linear.matmul",
    shape: "1024³ (A·Bᵀ)",
    flops: 2 * 1024 ** 3,
    async setup(rt) {
      const bufs = alloc(rt, 1024 * 1024, 1024 * 1024, 1024 * 1024);
      const [a, b, c] = bufs;
      const planned = await planGemm(rt, { m: 1024, n: 1024, k: 1024, transB: true }, { a, b, c });
      return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
    },
  },
];
