/**
 * Kernel benchmark harness. A case plans its steps once; the harness replays them `reps` times
 * per submit and waits once, so Deno's ≥10 ms completion latency is amortized, not measured.
 */
import type { Runtime } from "../src/gpu/runtime.ts";
import type { Planned } from "../src/gpu/plan.ts";

export interface BenchCase {
  /** Kernel family and direction, e.g. `conv2d.forward`. */
  name: string;
  /** Human-readable shape, e.g. `N32 C64→64 32×32 k3 s1`. */
  shape: string;
  /** Floating-point operations of one replay (2 per multiply-add), for GFLOP/s. */
  flops?: number;
  /** Bytes moved by one replay, for memory-bound kernels (GB/s). */
  bytes?: number;
  /** Plans the case on `rt`; the returned `release` frees what it allocated. */
  setup(rt: Runtime): Promise<{ planned: Planned; release(): void }>;
}

export interface BenchResult {
  name: string;
  shape: string;
  ms: number;
  gflops?: number;
  gbps?: number;
}

export async function timeCase(rt: Runtime, c: BenchCase, minMs = 300): Promise<BenchResult> {
  const { planned, release } = await c.setup(rt);
  const w0 = performance.now();
  rt.replay(planned.steps); // warm-up: first dispatch pays lazy driver work
  await rt.sync();
  // The warm-up (an overestimate: it includes the completion wait) sizes the first window, so
  // a fast GPU needs two or three waits per case instead of one per doubling.
  const warm = Math.max(performance.now() - w0, 0.01);
  let reps = Math.min(1 << 12, Math.max(1, Math.floor(minMs / warm))), ms = 0;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) rt.replay(planned.steps);
    await rt.sync();
    ms = performance.now() - t0;
    if (ms >= minMs || reps >= 1 << 12) break;
    reps = Math.min(1 << 12, Math.max(reps * 2, Math.ceil(reps * minMs / Math.max(ms, 1))));
  }
  release();
  for (const b of planned.scratch) rt.pool.release(b);
  const per = ms / reps;
  const r: BenchResult = { name: c.name, shape: c.shape, ms: +per.toFixed(4) };
  if (c.flops) r.gflops = +(c.flops / per / 1e6).toFixed(2);
  if (c.bytes) r.gbps = +(c.bytes / per / 1e6).toFixed(2);
  return r;
}
