/**
 * Winograd F(2×2, 3×3) and F(4×4, 3×3) against the direct kernels in all three directions,
 * at the 3×3 64→64 32×32 batch-32 target and ResNet-20's stride-1 layer shapes: the planned
 * ops (option `winograd` = 0, 2, 4) alternating in one process, medians of `--rounds`, each
 * timed over `--reps` replays per submit. GFLOP/s counts the dense convolution's 2·N·K·C·9·OH·OW
 * for all three (so Winograd's is "effective", as cuDNN's Winograd numbers are); `error` is the
 * forward's max |y − ref| over max |ref| against the float64 direct reference. With `--passes`,
 * each Winograd step (filter, input, GEMM windows, output transform) is also timed alone.
 *
 *   deno run --allow-read --allow-env experiments/probes/winograd.ts [--rounds 5] [--reps 2] [--target]
 *     [--passes] [--json]
 */
import { median } from "../../bench/stats.ts";
import { defineFlags, parseArgsOrExit } from "../../src/app/args.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../../src/host/deno_env.ts";
import {
  type Conv2dShape,
  planConv2dBackwardData,
  planConv2dBackwardWeight,
  planConv2dForward,
} from "../../src/ops/conv2d/mod.ts";
import type { Planned, Step } from "../../src/gpu/plan.ts";
import { conv2dForward } from "../../src/reference/conv.ts";

const flags = defineFlags({
  rounds: { type: "int", default: 5, min: 1, help: "alternating rounds (median reported)" },
  reps: { type: "int", default: 2, min: 1, help: "op replays per timed submit" },
  target: { type: "boolean", default: false, help: "only the 3×3 64→64 32×32 N32 target" },
  passes: { type: "boolean", default: false, help: "also time each Winograd step alone" },
  json: { type: "boolean", default: false, help: "one JSON object instead of a table" },
});
const args = parseArgsOrExit(
  flags,
  Deno.args,
  "deno run --allow-read --allow-env experiments/probes/winograd.ts",
);

const conv = (n: number, c: number, hw: number, k: number): Conv2dShape => ({
  n,
  c,
  h: hw,
  w: hw,
  k,
  kh: 3,
  kw: 3,
  stride: 1,
  padding: 1,
});
const SHAPES: Conv2dShape[] = [
  conv(32, 64, 32, 64), // the issue's target
  conv(128, 16, 28, 16), // ResNet-20 on Fashion-MNIST, batch 128: the three stages
  conv(128, 32, 14, 32),
  conv(128, 64, 7, 64),
];
const TILES = [0, 2, 4] as const;
const NAMES = { 0: "direct", 2: "winograd F(2,3)", 4: "winograd F(4,3)" };

const rt = await Runtime.create(runtimeOptionsFromEnv());
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function rng(seed: number) {
  let z = seed >>> 0;
  return () => {
    z = (z * 1664525 + 1013904223) >>> 0;
    return z / 2 ** 32 - 0.5;
  };
}

async function time(steps: readonly Step[]): Promise<number> {
  await rt.sync();
  const t0 = performance.now();
  for (let i = 0; i < args.reps; i++) rt.replay(steps);
  await rt.sync();
  return (performance.now() - t0) / args.reps;
}

const report: Record<string, unknown>[] = [];
if (!args.json) console.log(`adapter: ${rt.report.description} (backend ${rt.report.backend})`);
for (const s of args.target ? SHAPES.slice(0, 1) : SHAPES) {
  const r = rng(7);
  const xs = Float32Array.from({ length: s.n * s.c * s.h * s.w }, r);
  const ws = Float32Array.from({ length: s.k * s.c * 9 }, () => r() * 0.2);
  const buffer = (data: Float32Array<ArrayBuffer> | number) => {
    const floats = typeof data === "number" ? data : data.length;
    const b = rt.device.createBuffer({ size: floats * 4, usage: STORAGE });
    if (typeof data !== "number") rt.device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const x = buffer(xs), w = buffer(ws), dy = buffer(xs.map((v) => v * 0.5));
  const ys = TILES.map(() => buffer(s.n * s.k * s.h * s.w));
  const dx = buffer(s.n * s.c * s.h * s.w), dw = buffer(s.k * s.c * 9);
  const plans: { tile: 0 | 2 | 4; dir: string; planned: Planned; ms: number[] }[] = [];
  for (const [i, m] of TILES.entries()) {
    const opts = { winograd: m };
    plans.push({
      tile: m,
      dir: "forward",
      planned: await planConv2dForward(rt, s, { x, w, y: ys[i] }, opts),
      ms: [],
    });
    plans.push({
      tile: m,
      dir: "backward_data",
      planned: await planConv2dBackwardData(rt, s, { dy, w, dx }, { accumulate: false }, opts),
      ms: [],
    });
    plans.push({
      tile: m,
      dir: "backward_weight",
      planned: await planConv2dBackwardWeight(rt, s, { x, dy, dw }, opts),
      ms: [],
    });
  }
  const ref = conv2dForward(xs, ws, null, s).y;
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  const errors: number[] = [];
  for (const [i] of TILES.entries()) {
    rt.replay(plans[3 * i].planned.steps);
    const got = new Float32Array(await rt.read(ys[i]));
    let e = 0;
    for (let j = 0; j < ref.length; j++) e = Math.max(e, Math.abs(got[j] - ref[j]));
    errors.push(e / scale);
  }
  const passMs = new Map<string, number[]>();
  for (let round = 0; round < args.rounds; round++) {
    for (const p of plans) {
      p.ms.push(await time(p.planned.steps));
      if (args.passes && p.tile) {
        for (const [j, st] of p.planned.steps.entries()) {
          const label = st.kind === "dispatch" ? st.kernel.label.split(":")[1] : st.kind;
          const key = `${p.dir} F(${p.tile},3) ${j} ${label}`;
          if (!passMs.has(key)) passMs.set(key, []);
          passMs.get(key)!.push(await time([st]));
        }
      }
    }
  }
  const flops = 2 * s.n * s.k * s.c * 9 * s.h * s.w;
  const shape = `N${s.n} C${s.c}→${s.k} ${s.h}×${s.w}`;
  for (const dir of ["forward", "backward_data", "backward_weight"]) {
    const base = median(plans.find((p) => p.dir === dir && p.tile === 0)!.ms);
    for (const p of plans.filter((q) => q.dir === dir)) {
      const ms = median(p.ms);
      const row = {
        shape,
        direction: dir,
        algorithm: NAMES[p.tile],
        ms: +ms.toFixed(1),
        gflops: +(flops / ms / 1e6).toFixed(1),
        speedup: +(base / ms).toFixed(2),
        ...(dir === "forward" ? { error: +errors[TILES.indexOf(p.tile)].toExponential(2) } : {}),
      };
      report.push(row);
      if (!args.json) {
        console.log(
          `${shape.padEnd(20)}${dir.padEnd(16)}${row.algorithm.padEnd(17)}` +
            `${row.ms.toFixed(1).padStart(7)} ms ${row.gflops.toFixed(1).padStart(6)} GFLOP/s ` +
            `${row.speedup.toFixed(2)}×${"error" in row ? `  error ${row.error}` : ""}`,
        );
      }
    }
  }
  for (const [key, ms] of passMs) {
    report.push({ shape, pass: key, ms: +median(ms).toFixed(1) });
    if (!args.json) {
      console.log(`${shape.padEnd(20)}  ${key.padEnd(40)}${median(ms).toFixed(1)} ms`);
    }
  }
  for (const p of plans) for (const b of p.planned.scratch) rt.pool.release(b);
  for (const b of [x, w, dy, dx, dw, ...ys]) b.destroy();
}
if (args.json) {
  console.log(JSON.stringify({
    adapter: rt.report.description,
    backend: rt.report.backend,
    results: report,
  }));
}
rt.dispose();
