/**
 * Convolution benchmarks: forward, backward-data and backward-weight at ResNet-20 (CIFAR, batch
 * 128), ResNet-50 (batch 16 at 64×64) layer shapes and the 3×3 64→64 32×32 batch-32 target.
 * FLOPs count 2 per multiply-add of the dense convolution (as PyTorch/oneDNN report them).
 */
import type { BenchCase } from "../harness.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import {
  type Conv2dShape,
  planConv2dBackwardData,
  planConv2dBackwardWeight,
  planConv2dForward,
} from "../../src/ops/conv2d/mod.ts";
import { conv2dOutSize } from "../../src/reference/conv.ts";

const shape = (
  n: number,
  c: number,
  hw: number,
  k: number,
  ks: number,
  stride: number,
  padding: number,
): Conv2dShape => ({ n, c, h: hw, w: hw, k, kh: ks, kw: ks, stride, padding });

const SHAPES: Conv2dShape[] = [
  // Target: 3×3 64→64 32×32 batch 32.
  shape(32, 64, 32, 64, 3, 1, 1),
  // ResNet-20 (batch 128): 1-channel 28×28 stem (Fashion-MNIST), the three stages, downsampling.
  shape(128, 1, 28, 16, 3, 1, 1),
  shape(128, 16, 32, 16, 3, 1, 1),
  shape(128, 16, 32, 32, 3, 2, 1),
  shape(128, 32, 16, 32, 3, 1, 1),
  shape(128, 32, 16, 64, 3, 2, 1),
  shape(128, 64, 8, 64, 3, 1, 1),
  // ResNet-50 (batch 16 at 64×64): 7×7/2 stem, bottleneck 1×1s, 3×3s, projection.
  shape(16, 3, 64, 64, 7, 2, 3),
  shape(16, 64, 16, 256, 1, 1, 0),
  shape(16, 256, 16, 64, 1, 1, 0),
  shape(16, 64, 16, 64, 3, 1, 1),
  shape(16, 256, 16, 512, 1, 2, 0),
  shape(16, 128, 8, 128, 3, 1, 1),
  shape(16, 256, 4, 256, 3, 1, 1),
];

function describe(s: Conv2dShape): string {
  return `N${s.n} C${s.c}→${s.k} ${s.h}×${s.w} k${s.kh} s${s.stride}`;
}

type Dir = "forward" | "backward_data" | "backward_weight";

function benchCase(s: Conv2dShape, dir: Dir): BenchCase {
  const { oh, ow } = conv2dOutSize(s);
  return {
    name: `conv2d.${dir}`,
    shape: describe(s),
    flops: 2 * s.n * oh * ow * s.k * s.c * s.kh * s.kw,
    async setup(rt: Runtime) {
      const x = rt.pool.acquire(s.n * s.c * s.h * s.w * 4, "bench.x");
      const w = rt.pool.acquire(s.k * s.c * s.kh * s.kw * 4, "bench.w");
      const y = rt.pool.acquire(s.n * s.k * oh * ow * 4, "bench.y");
      const bufs = [x, w, y];
      const planned = dir === "forward"
        ? await planConv2dForward(rt, s, { x, w, y })
        : dir === "backward_data"
        ? await planConv2dBackwardData(rt, s, { dy: y, w, dx: x }, { accumulate: false })
        : await planConv2dBackwardWeight(rt, s, { x, dy: y, dw: w });
      return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
    },
  };
}

/** 1024³ matmul through the 1×1 GEMM path: Y (1024 × 1024 px) = W (1024 × 1024) · X (1024 × 1024). */
const matmul: BenchCase = {
  ...benchCase(shape(1, 1024, 32, 1024, 1, 1, 0), "forward"),
  name: "conv2d.matmul (1×1 path)",
  shape: "1024³",
};

export const cases: BenchCase[] = [
  ...SHAPES.flatMap((s) =>
    (["forward", "backward_data", "backward_weight"] as Dir[]).map((d) => benchCase(s, d))
  ),
  matmul,
];
