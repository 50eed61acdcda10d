/**
 * Pooling kernels against the f64 CPU reference (src/reference/pool.ts) and PyTorch goldens.
 *
 * Max pool forward is a copy and its argmax an index, so both must match exactly; its backward
 * sums the same f32 values in the same ascending-output order as an f32 replay of the reference,
 * so it must match that replay bit for bit. Average pools round: a sum of t terms in f32 is within
 * (t − 1)·ε·Σ|terms| (ε = 2⁻²⁴) and WGSL division within 2.5 ulp, so bounds are (t + 3)·ε·Σ|terms|.
 */
import assert from "node:assert/strict";
import { download, GPU_TEST, runtime, upload } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { goldenCase, goldenInput, goldenOutput } from "../helpers/golden.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { type Planned, runOnce } from "../../src/gpu/plan.ts";
import {
  planAdaptiveAvgPool2dBackward,
  planAdaptiveAvgPool2dForward,
  planAvgPool2dBackward,
  planAvgPool2dForward,
  planGlobalAvgPoolBackward,
  planGlobalAvgPoolForward,
  planMaxPool2dBackward,
  planMaxPool2dForward,
} from "../../src/ops/pool.ts";
import {
  adaptiveAvgPool2dBackward,
  adaptiveAvgPool2dForward,
  type AdaptivePoolShape,
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dForward,
  pool2dOutSize,
  type Pool2dShape,
} from "../../src/reference/pool.ts";

const EPS32 = 2 ** -24;

function assertWithin(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  bound: (i: number) => number,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= bound(i))) {
      assert.fail(`${label}: [${i}] ${actual[i]} vs ${expected[i]} (bound ${bound(i)})`);
    }
  }
}

function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${label}: [${i}] ${actual[i]} !== ${expected[i]}`);
    }
  }
}

async function run(rt: Runtime, plans: Planned[]): Promise<void> {
  runOnce(rt, { steps: plans.flatMap((p) => p.steps), scratch: [] });
  await rt.sync();
}

const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

async function checkMax(rt: Runtime, s: Pool2dShape, x: Float32Array, seed: number) {
  const { oh, ow } = pool2dOutSize(s);
  const nIn = s.n * s.c * s.h * s.w, nOut = s.n * s.c * oh * ow;
  const rng = new Rng(seed);
  const dy = rng.normal(nOut);
  const dx0 = rng.normal(nIn);
  const bx = upload(rt, x), by = rt.pool.acquire(nOut * 4), bdy = upload(rt, dy);
  const bdx = rt.pool.acquire(nIn * 4), bacc = upload(rt, dx0);
  const f = await planMaxPool2dForward(rt, s, { x: bx, y: by });
  const bw = await planMaxPool2dBackward(rt, s, { dy: bdy, argmax: f.argmax, dx: bdx });
  const ba = await planMaxPool2dBackward(rt, s, { dy: bdy, argmax: f.argmax, dx: bacc }, {
    accumulate: true,
  });
  await run(rt, [f, bw, ba]);
  const y = await download(rt, by, nOut);
  const arg = new Uint32Array(await rt.read(f.argmax, nOut * 4));
  const dx = await download(rt, bdx, nIn), acc = await download(rt, bacc, nIn);
  for (const b of [...f.scratch, bx, by, bdy, bdx, bacc]) rt.pool.release(b);

  const tag = JSON.stringify(s);
  const ref = maxPool2dForward(x, s);
  assertExact(y, ref.y, `max y ${tag}`);
  assertExact(arg, ref.argmax, `argmax ${tag}`);
  // f32 replay of the reference's scatter order (ascending output index) = the gather's order.
  const want = new Float32Array(nIn);
  for (let o = 0; o < nOut; o++) want[ref.argmax[o]] = Math.fround(want[ref.argmax[o]] + dy[o]);
  assertExact(dx, want, `max dx ${tag}`);
  assertExact(acc, want.map((v, i) => Math.fround(dx0[i] + v)), `max dx accumulate ${tag}`);
}

Deno.test({
  name: "max pool forward/argmax/backward exactly match the reference (3×3 s2 p1, 2×2 s2, ties)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const shapes: Pool2dShape[] = [
      { n: 2, c: 3, h: 9, w: 11, kernel: 3, stride: 2, padding: 1 },
      { n: 1, c: 17, h: 7, w: 7, kernel: 3, stride: 2, padding: 1 },
      { n: 2, c: 64, h: 6, w: 6, kernel: 2, stride: 2, padding: 0 },
      { n: 1, c: 1, h: 7, w: 5, kernel: 2, stride: 2, padding: 0 },
      { n: 1, c: 3, h: 8, w: 9, kernel: 3, stride: 1, padding: 1 },
    ];
    for (const [i, s] of shapes.entries()) {
      const n = s.n * s.c * s.h * s.w;
      // A permutation has no ties, so the argmax is unambiguous.
      const perm = new Rng(20 + i).permutation(n);
      await checkMax(rt, s, Float32Array.from(perm, (v) => v / n - 0.5), 30 + i);
      // Few distinct values: many ties, so "first maximum in row-major order" is exercised, and
      // all-negative windows prove the padding is −∞, not 0.
      const q = new Rng(40 + i).uniform(n);
      await checkMax(rt, s, q.map((v) => Math.floor(v * 3) - 3), 50 + i);
    }
  },
});

async function checkAvg(rt: Runtime, s: Pool2dShape, seed: number) {
  const { oh, ow } = pool2dOutSize(s);
  const nIn = s.n * s.c * s.h * s.w, nOut = s.n * s.c * oh * ow;
  const rng = new Rng(seed);
  const x = rng.normal(nIn), dy = rng.normal(nOut), dx0 = rng.normal(nIn);
  const bx = upload(rt, x), by = rt.pool.acquire(nOut * 4), bdy = upload(rt, dy);
  const bdx = rt.pool.acquire(nIn * 4), bacc = upload(rt, dx0);
  await run(rt, [
    await planAvgPool2dForward(rt, s, { x: bx, y: by }),
    await planAvgPool2dBackward(rt, s, { dy: bdy, dx: bdx }),
    await planAvgPool2dBackward(rt, s, { dy: bdy, dx: bacc }, { accumulate: true }),
  ]);
  const y = await download(rt, by, nOut);
  const dx = await download(rt, bdx, nIn), acc = await download(rt, bacc, nIn);
  for (const b of [bx, by, bdy, bdx, bacc]) rt.pool.release(b);
  const tag = JSON.stringify(s);
  const taps = s.kernel * s.kernel;
  const overlap = Math.ceil(s.kernel / s.stride) ** 2;
  const yAbs = avgPool2dForward(abs(x), s).y;
  assertWithin(y, avgPool2dForward(x, s).y, (i) => (taps + 3) * EPS32 * yAbs[i], `avg y ${tag}`);
  const dxRef = avgPool2dBackward(dy, s), dxAbs = avgPool2dBackward(abs(dy), s);
  const bound = (i: number) => (overlap + 3) * EPS32 * dxAbs[i];
  assertWithin(dx, dxRef, bound, `avg dx ${tag}`);
  const accRef = dxRef.map((v, i) => v + dx0[i]);
  assertWithin(acc, accRef, (i) => bound(i) + EPS32 * Math.abs(accRef[i]), `avg dx acc ${tag}`);
}

Deno.test({
  name: "average pool (count_include_pad) forward/backward vs reference",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const shapes: Pool2dShape[] = [
      { n: 2, c: 3, h: 9, w: 11, kernel: 3, stride: 2, padding: 1 },
      { n: 1, c: 17, h: 7, w: 7, kernel: 3, stride: 2, padding: 1 },
      { n: 2, c: 64, h: 6, w: 6, kernel: 2, stride: 2, padding: 0 },
      { n: 1, c: 1, h: 7, w: 5, kernel: 2, stride: 2, padding: 0 },
      { n: 1, c: 3, h: 10, w: 9, kernel: 5, stride: 3, padding: 2 },
    ];
    for (const [i, s] of shapes.entries()) await checkAvg(rt, s, 60 + i);
  },
});

Deno.test({
  name: "global and adaptive average pool forward/backward vs reference",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const shapes: AdaptivePoolShape[] = [
      { n: 2, c: 3, h: 5, w: 5, oh: 1, ow: 1 },
      { n: 1, c: 17, h: 7, w: 5, oh: 3, ow: 2 },
      { n: 3, c: 64, h: 8, w: 8, oh: 1, ow: 1 },
      { n: 1, c: 1, h: 13, w: 11, oh: 7, ow: 7 },
      { n: 2, c: 3, h: 7, w: 7, oh: 7, ow: 7 },
      { n: 1, c: 5, h: 17, w: 19, oh: 1, ow: 1 }, // > 256 pixels: the workgroup reduction
      { n: 1, c: 2, h: 3, w: 4, oh: 5, ow: 6 }, // upsampling: bins overlap
    ];
    for (const [i, s] of shapes.entries()) {
      const nIn = s.n * s.c * s.h * s.w, nOut = s.n * s.c * s.oh * s.ow;
      const rng = new Rng(70 + i);
      const x = rng.normal(nIn), dy = rng.normal(nOut);
      const bx = upload(rt, x), by = rt.pool.acquire(nOut * 4), bdy = upload(rt, dy);
      const bdx = rt.pool.acquire(nIn * 4);
      const global = s.oh === 1 && s.ow === 1;
      const plans = [
        await planAdaptiveAvgPool2dForward(rt, s, { x: bx, y: by }),
        await planAdaptiveAvgPool2dBackward(rt, s, { dy: bdy, dx: bdx }),
      ];
      const tag = JSON.stringify(s);
      // Window sizes bound the number of summed terms (PyTorch bins are ≤ ⌈H/OH⌉ + 1 wide).
      const taps = (Math.ceil(s.h / s.oh) + 1) * (Math.ceil(s.w / s.ow) + 1);
      const over = (Math.ceil(s.oh / s.h) + 1) * (Math.ceil(s.ow / s.w) + 1);
      const check = async (y: GPUBuffer, dx: GPUBuffer, what: string) => {
        const yAbs = adaptiveAvgPool2dForward(abs(x), s);
        assertWithin(
          await download(rt, y, nOut),
          adaptiveAvgPool2dForward(x, s),
          (j) => (taps + 3) * EPS32 * yAbs[j],
          `${what} y ${tag}`,
        );
        const dAbs = adaptiveAvgPool2dBackward(abs(dy), s);
        assertWithin(
          await download(rt, dx, nIn),
          adaptiveAvgPool2dBackward(dy, s),
          (j) => (over + 3) * EPS32 * dAbs[j],
          `${what} dx ${tag}`,
        );
      };
      await run(rt, plans);
      await check(by, bdx, "adaptive");
      if (global) {
        await run(rt, [
          await planGlobalAvgPoolForward(rt, s, { x: bx, y: by }),
          await planGlobalAvgPoolBackward(rt, s, { dy: bdy, dx: bdx }),
        ]);
        // Same values as the reference's global pool, and the same bounds as one big window.
        assertWithin(
          await download(rt, by, nOut),
          globalAvgPoolForward(x, s),
          (j) => (s.h * s.w + 3) * EPS32 * globalAvgPoolForward(abs(x), s)[j],
          `gap y ${tag}`,
        );
        const want = globalAvgPoolBackward(dy, s);
        assertWithin(
          await download(rt, bdx, nIn),
          want,
          (j) => 3 * EPS32 * Math.abs(want[j]),
          `gap dx ${tag}`,
        );
      }
      for (const b of [bx, by, bdy, bdx]) rt.pool.release(b);
    }
  },
});

Deno.test({
  name: "global average pool backward accumulates",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const s = { n: 2, c: 5, h: 3, w: 7 };
    const rng = new Rng(80);
    const dy = rng.normal(s.n * s.c), dx0 = rng.normal(s.n * s.c * s.h * s.w);
    const bdy = upload(rt, dy), bdx = upload(rt, dx0);
    await run(rt, [
      await planGlobalAvgPoolBackward(rt, s, { dy: bdy, dx: bdx }, { accumulate: true }),
    ]);
    const want = globalAvgPoolBackward(dy, s).map((v, i) => v + dx0[i]);
    // One division (2.5 ulp) and one add.
    assertWithin(
      await download(rt, bdx, dx0.length),
      want,
      (j) => 4 * EPS32 * (Math.abs(want[j]) + Math.abs(dx0[j])),
      "gap acc",
    );
    rt.pool.release(bdy);
    rt.pool.release(bdx);
  },
});

Deno.test({
  name: "pooling vs PyTorch golden",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const cases: [string, "max" | "avg" | "adaptive"][] = [
      ["maxpool3x3_s2_p1", "max"],
      ["maxpool2x2_s2", "max"],
      ["avgpool3x3_s2_p1", "avg"],
      ["avgpool2x2_s2", "avg"],
      ["global_avgpool", "adaptive"],
      ["adaptive_avgpool_7x5_to_3x2", "adaptive"],
    ];
    for (const [name, kind] of cases) {
      const gc = goldenCase(name);
      const x = goldenInput(gc, "x"), g = goldenInput(gc, "g");
      const yWant = goldenOutput(gc, "y"), dxWant = goldenOutput(gc, "dx");
      const bx = upload(rt, x), bg = upload(rt, g);
      const by = rt.pool.acquire(yWant.length * 4), bdx = rt.pool.acquire(x.length * 4);
      let plans: Planned[];
      if (kind === "max") {
        const s = gc.shape as unknown as Pool2dShape;
        const f = await planMaxPool2dForward(rt, s, { x: bx, y: by });
        plans = [f, await planMaxPool2dBackward(rt, s, { dy: bg, argmax: f.argmax, dx: bdx })];
      } else if (kind === "avg") {
        const s = gc.shape as unknown as Pool2dShape;
        plans = [
          await planAvgPool2dForward(rt, s, { x: bx, y: by }),
          await planAvgPool2dBackward(rt, s, { dy: bg, dx: bdx }),
        ];
      } else {
        const s = gc.shape as unknown as AdaptivePoolShape;
        plans = [
          await planAdaptiveAvgPool2dForward(rt, s, { x: bx, y: by }),
          await planAdaptiveAvgPool2dBackward(rt, s, { dy: bg, dx: bdx }),
        ];
      }
      await run(rt, plans);
      // PyTorch ran in f64 on inputs we hold as f32 (ε relative each); inputs are O(1), so 16ε
      // of the largest magnitude covers that plus ≤ 9-term f32 sums.
      for (const [label, buf, want] of [["y", by, yWant], ["dx", bdx, dxWant]] as const) {
        const scale = Math.max(...want.map(Math.abs));
        assertWithin(
          await download(rt, buf, want.length),
          want,
          () => 16 * EPS32 * scale,
          `${name} ${label}`,
        );
      }
      for (const p of plans) p.scratch.forEach((b) => rt.pool.release(b));
      for (const b of [bx, bg, by, bdx]) rt.pool.release(b);
    }
  },
});
