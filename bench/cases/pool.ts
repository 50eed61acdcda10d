/**
 * Pooling at network shapes: ResNet's 3×3 s2 p1 max-pool stem (ImageNet, 64×112×112), VGG's
 * 2×2 s2, and the global average pool before the classifier (ResNet-20 and ResNet-50), in GB/s
 * of compulsory traffic (inputs read once, outputs written once; argmax is 4 bytes per output).
 */
import type { BenchCase } from "../harness.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import {
  planGlobalAvgPoolBackward,
  planGlobalAvgPoolForward,
  planMaxPool2dBackward,
  planMaxPool2dForward,
  type Pool2dShape,
} from "../../src/ops/pool.ts";
import { pool2dOutSize } from "../../src/reference/pool.ts";

function alloc(rt: Runtime, ...sizes: number[]): GPUBuffer[] {
  return sizes.map((n) => {
    const b = rt.pool.acquire(n * 4, "bench");
    rt.commands().clearBuffer(b);
    return b;
  });
}

function maxCases(s: Pool2dShape, label: string): BenchCase[] {
  const { oh, ow } = pool2dOutSize(s);
  const nIn = s.n * s.c * s.h * s.w, nOut = s.n * s.c * oh * ow;
  const shape = `N${s.n} C${s.c} ${s.h}×${s.w} ${label}`;
  return [
    {
      name: "maxpool.forward",
      shape,
      bytes: 4 * (nIn + 2 * nOut),
      async setup(rt) {
        const bufs = alloc(rt, nIn, nOut, nOut);
        const [x, y, argmax] = bufs;
        const planned = await planMaxPool2dForward(rt, s, { x, y, argmax });
        return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
      },
    },
    {
      name: "maxpool.backward",
      shape,
      bytes: 4 * (nIn + 2 * nOut),
      async setup(rt) {
        const bufs = alloc(rt, nOut, nOut, nIn);
        const [dy, argmax, dx] = bufs;
        const planned = await planMaxPool2dBackward(rt, s, { dy, argmax, dx });
        return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
      },
    },
  ];
}

function gapCases(s: { n: number; c: number; h: number; w: number }): BenchCase[] {
  const nIn = s.n * s.c * s.h * s.w, nOut = s.n * s.c;
  const shape = `N${s.n} C${s.c} ${s.h}×${s.w}`;
  return [
    {
      name: "global_avgpool.forward",
      shape,
      bytes: 4 * (nIn + nOut),
      async setup(rt) {
        const bufs = alloc(rt, nIn, nOut);
        const [x, y] = bufs;
        const planned = await planGlobalAvgPoolForward(rt, s, { x, y });
        return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
      },
    },
    {
      name: "global_avgpool.backward",
      shape,
      bytes: 4 * (nIn + nOut),
      async setup(rt) {
        const bufs = alloc(rt, nOut, nIn);
        const [dy, dx] = bufs;
        const planned = await planGlobalAvgPoolBackward(rt, s, { dy, dx });
        return { planned, release: () => bufs.forEach((b) => rt.pool.release(b)) };
      },
    },
  ];
}

export const cases: BenchCase[] = [
  ...maxCases({ n: 16, c: 64, h: 112, w: 112, kernel: 3, stride: 2, padding: 1 }, "3×3 s2 p1"),
  ...maxCases({ n: 4, c: 64, h: 224, w: 224, kernel: 2, stride: 2, padding: 0 }, "2×2 s2"),
  ...gapCases({ n: 128, c: 64, h: 8, w: 8 }),
  ...gapCases({ n: 32, c: 2048, h: 7, w: 7 }),
];
