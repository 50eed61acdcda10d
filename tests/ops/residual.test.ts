/**
 * ReLU, fused residual add + ReLU and the option-A shortcut against the f64 CPU reference
 * (src/reference/activation.ts, shortcut.ts). Every output is a copy, a mask or one f32 add of
 * f32 inputs (dx += g, a + b), which the f32 replay below reproduces bit for bit: exact equality.
 */
import assert from "node:assert/strict";
import { download, GPU_TEST, runtime, upload } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { type Planned, runOnce } from "../../src/gpu/plan.ts";
import { planReluBackward, planReluForward, planReluInPlace } from "../../src/ops/activation.ts";
import { planAddReluBackward, planAddReluForward } from "../../src/ops/residual.ts";
import { planShortcutABackward, planShortcutAForward } from "../../src/ops/shortcut.ts";
import {
  addReluBackward,
  addReluForward,
  reluBackward,
  reluForward,
} from "../../src/reference/activation.ts";
import {
  shortcutABackward,
  shortcutAForward,
  type ShortcutAShape,
} from "../../src/reference/shortcut.ts";

function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < actual.length; i++) {
    // Object.is: a −0 where PyTorch gives +0 (or the reverse) would show up in a later division.
    if (!Object.is(actual[i], Math.fround(expected[i]))) {
      assert.fail(`${label}: [${i}] ${actual[i]} !== ${expected[i]}`);
    }
  }
}

const f32add = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Float64Array.from(a, (v, i) => Math.fround(v + b[i]));

/** Inputs with exact zeros too, so the y > 0 mask is tested at its edge. */
function data(rng: Rng, n: number): Float32Array {
  return rng.normal(n).map((v) => (Math.abs(v) < 0.1 ? 0 : v));
}

function run(rt: Runtime, plans: Planned[]): void {
  runOnce(rt, { steps: plans.flatMap((p) => p.steps), scratch: [] });
}

// Not multiples of any workgroup size; 1 element; past one 256-lane workgroup by one.
// Odd sizes take the f32 kernels; multiples of 4 the vec4f ones (1028: a partial last workgroup).
const SIZES = [1, 7, 257, 3 * 17 * 9 * 11, 4, 1028, 4 * 3 * 17 * 9];

Deno.test({
  name: "relu forward, in-place forward, backward (+ accumulate) exactly match the reference",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    for (const n of SIZES) {
      const rng = new Rng(n);
      const x = data(rng, n), dy = rng.normal(n), dx0 = rng.normal(n);
      const bx = upload(rt, x), by = rt.pool.acquire(n * 4), bin = upload(rt, x);
      const bdy = upload(rt, dy), bdx = rt.pool.acquire(n * 4), bacc = upload(rt, dx0);
      run(rt, [
        await planReluForward(rt, n, { x: bx, y: by }),
        await planReluInPlace(rt, n, { x: bin }),
        await planReluBackward(rt, n, { dy: bdy, y: by, dx: bdx }),
        await planReluBackward(rt, n, { dy: bdy, y: by, dx: bacc }, { accumulate: true }),
      ]);
      const y = reluForward(x);
      assertExact(await download(rt, by, n), y, `relu y n=${n}`);
      assertExact(await download(rt, bin, n), y, `relu in place n=${n}`);
      const dx = reluBackward(dy, y);
      assertExact(await download(rt, bdx, n), dx, `relu dx n=${n}`);
      assertExact(await download(rt, bacc, n), f32add(dx0, dx), `relu dx acc n=${n}`);
      for (const b of [bx, by, bin, bdy, bdx, bacc]) rt.pool.release(b);
    }
  },
});

Deno.test({
  name: "fused add + relu forward and two-output backward with per-output accumulate",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    for (const n of SIZES) {
      const rng = new Rng(100 + n);
      const a = rng.normal(n), bIn = data(rng, n).map((v, i) => (v === 0 ? -a[i] : v));
      const dy = rng.normal(n), da0 = rng.normal(n), db0 = rng.normal(n);
      const ba = upload(rt, a), bb = upload(rt, bIn), by = rt.pool.acquire(n * 4);
      const bdy = upload(rt, dy);
      const outs = [0, 1, 2, 3].map(() => upload(rt, da0));
      const dbs = [0, 1, 2].map(() => upload(rt, db0));
      run(rt, [
        await planAddReluForward(rt, n, { a: ba, b: bb, y: by }),
        await planAddReluBackward(rt, n, { dy: bdy, y: by, da: outs[0], db: dbs[0] }),
        await planAddReluBackward(rt, n, { dy: bdy, y: by, da: outs[1], db: dbs[1] }, {
          accumulateB: true,
        }),
        await planAddReluBackward(rt, n, { dy: bdy, y: by, da: outs[2], db: dbs[2] }, {
          accumulateA: true,
          accumulateB: true,
        }),
        await planAddReluBackward(rt, n, { dy: bdy, y: by, da: outs[3] }, { accumulateA: true }),
      ]);
      // a + b in f32 is what the kernel computes before the max: replay it.
      const y = addReluForward(f32add(a, bIn), new Float64Array(n));
      assertExact(await download(rt, by, n), y, `add+relu y n=${n}`);
      const g = addReluBackward(dy, y);
      const acc = (base: Float32Array) => f32add(base, g);
      assertExact(await download(rt, outs[0], n), g, `da n=${n}`);
      assertExact(await download(rt, dbs[0], n), g, `db n=${n}`);
      assertExact(await download(rt, outs[1], n), g, `da (db accumulates) n=${n}`);
      assertExact(await download(rt, dbs[1], n), acc(db0), `db accumulate n=${n}`);
      assertExact(await download(rt, outs[2], n), acc(da0), `da accumulate n=${n}`);
      assertExact(await download(rt, dbs[2], n), acc(db0), `db accumulate both n=${n}`);
      assertExact(await download(rt, outs[3], n), acc(da0), `da only n=${n}`);
      for (const b of [ba, bb, by, bdy, ...outs, ...dbs]) rt.pool.release(b);
    }
    // The scheduler must not point both branches at one buffer: WebGPU forbids binding it twice.
    const [d, y, same] = [0, 1, 2].map(() => rt.pool.acquire(16, "t"));
    await assert.rejects(planAddReluBackward(rt, 4, { dy: d, y, da: same, db: same }), /twice/);
    [d, y, same].forEach((b) => rt.pool.release(b));
  },
});

Deno.test({
  name: "option-A shortcut forward/backward (+ accumulate) exactly match the reference",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const shapes: ShortcutAShape[] = [
      { n: 2, c: 16, h: 32, w: 32, k: 32, stride: 2 }, // ResNet-20 stage transition
      { n: 1, c: 3, h: 7, w: 9, k: 8, stride: 2 }, // odd sizes, odd K − C (2 before, 3 after)
      { n: 3, c: 1, h: 5, w: 5, k: 1, stride: 1 }, // identity
      { n: 1, c: 17, h: 11, w: 6, k: 64, stride: 3 },
    ];
    for (const [j, s] of shapes.entries()) {
      const rng = new Rng(200 + j);
      const nIn = s.n * s.c * s.h * s.w;
      const x = rng.normal(nIn);
      const f = shortcutAForward(x, s);
      const nOut = f.y.length;
      const dy = rng.normal(nOut), dx0 = rng.normal(nIn);
      const bx = upload(rt, x), by = upload(rt, rng.normal(nOut)), bdy = upload(rt, dy);
      const bdx = upload(rt, rng.normal(nIn)), bacc = upload(rt, dx0);
      run(rt, [
        await planShortcutAForward(rt, s, { x: bx, y: by }),
        await planShortcutABackward(rt, s, { dy: bdy, dx: bdx }),
        await planShortcutABackward(rt, s, { dy: bdy, dx: bacc }, { accumulate: true }),
      ]);
      const tag = JSON.stringify(s);
      // y and dx were filled with garbage first: the padded channels and skipped pixels must
      // be written as zeros, not left alone.
      assertExact(await download(rt, by, nOut), f.y, `shortcut y ${tag}`);
      const dx = shortcutABackward(dy, s);
      assertExact(await download(rt, bdx, nIn), dx, `shortcut dx ${tag}`);
      assertExact(await download(rt, bacc, nIn), f32add(dx0, dx), `shortcut dx acc ${tag}`);
      for (const b of [bx, by, bdy, bdx, bacc]) rt.pool.release(b);
    }
  },
});
