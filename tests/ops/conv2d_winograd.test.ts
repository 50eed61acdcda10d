/**
 * Winograd F(2×2, 3×3) and F(4×4, 3×3) convolutions (forward; backward-data as the forward of
 * the transposed, rotated filter, incl. accumulate; the filter gradient through the adjoint
 * transforms) against the f64 direct reference.
 *
 * Error bound, per element. Every value the kernels compute is a sum of products built from the
 * inputs and the transform coefficients, so by induction over the operations |computed − exact|
 * ≤ γ(D)·(the same computation on |inputs| with |coefficients|), D the longest chain of roundings
 * (Higham, ch. 3): filter transform 8 (2 stages × (coefficient rounding, product, 3-term sum)),
 * input transform 8 (2 stages × (product, ≤ 4-term sum)), the product 1, the GEMM's fma chain C,
 * output transform 10 (2 stages × (product, ≤ 5-term sum)), bias and accumulate 2: D ≤ C + 29,
 * taken as C + 32. The filter gradient: input transform 8, dy transform 8 (A's ≤ 4-term rows),
 * product 1, the tile sums T/S + S for S splits (≤ T), back transform 14 (2 stages ×
 * (coefficient rounding, product, ≤ 6-term sum)): taken as T + 40. The magnitude run is the float64 tiled reference (src/reference/winograd.ts)
 * with |Bᵀ|, |G|, |Aᵀ|: it grows with the transforms' coefficients — the known price of larger
 * tiles — and so does the bound, which stays tight: dropping one channel's term moves a value by
 * far more.
 */
import assert from "node:assert/strict";
import { download, GPU_TEST, runtime, stepLabels, upload } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { assertWithinBound } from "../helpers/bound.ts";
import { runOnce, type Step } from "../../src/gpu/plan.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import {
  type Conv2dShape,
  planConv2dBackwardData,
  planConv2dBackwardWeight,
  planConv2dForward,
  plannedWinogradTile,
  winogradInputBytes,
} from "../../src/ops/conv2d/mod.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dOutSize,
} from "../../src/reference/conv.ts";
import {
  conv2dWinograd,
  conv2dWinogradBackwardWeight,
  WINOGRAD,
  type WinogradTile,
  type WinogradTransforms,
} from "../../src/reference/winograd.ts";

const conv = (n: number, c: number, h: number, w: number, k: number, padding = 1): Conv2dShape => ({
  n,
  c,
  h,
  w,
  k,
  kh: 3,
  kw: 3,
  stride: 1,
  padding,
});

/**
 * Random operands of the 16→16 12×12 batch-2 layer the step-sharing tests use: x and dy in
 * [−1, 1], w in [−0.3, 0.3], and an empty dw, all from the pool.
 */
function layerOperands(rt: Runtime, seed: number) {
  const s = conv(2, 16, 12, 12, 16);
  const rng = new Rng(seed);
  const nx = s.n * s.c * s.h * s.w, ny = s.n * s.k * s.h * s.w, nw = s.k * s.c * 9;
  const x = upload(rt, rng.uniform(nx, -1, 1)), dy = upload(rt, rng.uniform(ny, -1, 1));
  const w = upload(rt, rng.uniform(nw, -0.3, 0.3));
  return { s, rng, nx, ny, nw, x, dy, w, dw: rt.pool.acquire(nw * 4) };
}

const absT = (t: WinogradTransforms): WinogradTransforms => ({
  BT: t.BT.map((r) => r.map(Math.abs)),
  G: t.G.map((r) => r.map(Math.abs)),
  AT: t.AT.map((r) => r.map(Math.abs)),
});

/** |x| and |w| through the transforms with absolute coefficients: the error bound's scale. */
function magnitude(x: ArrayLike<number>, w: ArrayLike<number>, s: Conv2dShape, m: WinogradTile) {
  return conv2dWinograd(Array.from(x, Math.abs), Array.from(w, Math.abs), s, m, absT(WINOGRAD[m]));
}

/** OIHW weights of the forward conv `s` → those of its backward-data conv (O ↔ I, rotated). */
function transposeRotate(w: Float32Array, s: Conv2dShape): Float32Array {
  const out = new Float32Array(w.length);
  for (let k = 0; k < s.k; k++) {
    for (let c = 0; c < s.c; c++) {
      for (let i = 0; i < 9; i++) out[(c * s.k + k) * 9 + 8 - i] = w[(k * s.c + c) * 9 + i];
    }
  }
  return out;
}

function assertWithin(
  got: Float32Array,
  want: ArrayLike<number>,
  mag: ArrayLike<number>,
  depth: number,
  label: string,
) {
  // F(4,3)'s coefficients (up to 8 in Aᵀ, 5 in Bᵀ) make its typical error ~10× the direct
  // kernel's (~1e-7); 1e-5 still fails on any wrong term.
  assertWithinBound(got, want, mag, depth, label, 1e-5);
}

Deno.test("winograd reference: F(2,3) and F(4,3) tiles equal the direct correlation (f64)", () => {
  const r = new Rng(3);
  for (const m of [2, 4] as const) {
    for (const s of [conv(2, 3, 9, 7, 5, 1), conv(1, 2, 6, 11, 3, 0), conv(1, 1, 5, 5, 2, 2)]) {
      const x = r.uniform(s.n * s.c * s.h * s.w, -1, 1), w = r.uniform(s.k * s.c * 9, -1, 1);
      const want = conv2dForward(x, w, null, s).y;
      const got = conv2dWinograd(x, w, s, m);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      assert.ok(worst < 1e-12, `F(${m},3) p${s.padding} ${s.h}×${s.w}: max |err| ${worst}`);
      const { oh, ow } = conv2dOutSize(s);
      const dy = r.uniform(s.n * s.k * oh * ow, -1, 1);
      const dwWant = conv2dBackwardWeight(x, dy, s).dw;
      const dwGot = conv2dWinogradBackwardWeight(x, dy, s, m);
      worst = 0;
      for (let i = 0; i < dwWant.length; i++) {
        worst = Math.max(worst, Math.abs(dwGot[i] - dwWant[i]));
      }
      assert.ok(worst < 1e-12, `F(${m},3) dw p${s.padding} ${s.h}×${s.w}: max |err| ${worst}`);
    }
  }
});

// Partial tiles (9×7, 6×10), every padding, single and multiple uniform windows (C = 64 and 256:
// 16 and 4 blocks of U per window), channel counts the planner accepts (C % 4, K % 16).
const CASES: { label: string; s: Conv2dShape; bias: boolean }[] = [
  // Backward-data would need C % 16 (its output channels): forward only.
  { label: "4→16, 9×7, p1, bias", s: conv(2, 4, 9, 7, 16), bias: true },
  { label: "16→32, 6×10, p1", s: conv(3, 16, 6, 10, 32), bias: false },
  { label: "32→16, 8×8, p0", s: conv(2, 32, 8, 8, 16, 0), bias: true },
  { label: "16→16, 7×7, p2", s: conv(1, 16, 7, 7, 16, 2), bias: false },
  { label: "64→64, 8×8, p1 (9 windows at F(4,3))", s: conv(2, 64, 8, 8, 64), bias: false },
  // OW % 4 = 0: F(4,3) stores tile rows as vec4s; OH = 6 leaves a half tile at the bottom.
  { label: "16→32, 6×12, p1 (vec4 rows)", s: conv(2, 16, 6, 12, 32), bias: true },
  { label: "256→16, 5×5, p1 (4 blocks per window)", s: conv(1, 256, 5, 5, 16), bias: true },
  // 128 (F(4,3)) and 512 (F(2,3)) tiles: the filter gradient splits them 2 and 8 ways.
  {
    label: "16→16, 16×16, batch 8 (filter-gradient tile splits)",
    s: conv(8, 16, 16, 16, 16),
    bias: false,
  },
];

for (const m of [2, 4] as const) {
  for (const [i, { label, s, bias }] of CASES.entries()) {
    Deno.test({
      name: `conv2d winograd F(${m}x${m},3x3) ${label}: forward${
        s.c % 16 === 0 ? ", backward-data (= and +=), filter and bias gradients" : ""
      }`,
      ...GPU_TEST,
      async fn() {
        const rt = await runtime();
        const r = new Rng(40 + i);
        const { oh, ow } = conv2dOutSize(s);
        const nx = s.n * s.c * s.h * s.w, ny = s.n * s.k * oh * ow;
        const x = r.uniform(nx, -1, 1), w = r.uniform(s.k * s.c * 9, -1, 1);
        const b = bias ? r.uniform(s.k, -1, 1) : null;
        const dy = r.uniform(ny, -1, 1), old = r.uniform(nx, -1, 1);
        const up = (a: ArrayLike<number>) => {
          const buf = rt.pool.acquire(a.length * 4, "test");
          rt.device.queue.writeBuffer(buf, 0, Float32Array.from(a));
          return buf;
        };
        const bx = up(x), bw = up(w), bdy = up(dy), by = up(new Float32Array(ny).fill(NaN));
        const bb = b ? up(b) : null;
        // x (dy) packed NC4HW4 (the default) and read in place.
        for (const activations of ["c4", "nchw"] as const) {
          const opts = { winograd: m, activations };
          const tag = `F(${m}) ${label} ${activations}`;
          runOnce(rt, await planConv2dForward(rt, s, { x: bx, w: bw, bias: bb, y: by }, opts));
          const y = new Float32Array(await rt.read(by, ny * 4));
          const ref = conv2dForward(x, w, b, s).y;
          const mag = magnitude(x, w, s, m).map((v, j) =>
            v + (b ? Math.abs(b[j / (oh * ow) % s.k | 0]) : 0)
          );
          assertWithin(y, ref, mag, s.c + 32, `${tag} y`);

          // Backward-data: dx = conv(dy, w transposed and rotated), padding 2 − p.
          const t: Conv2dShape = { ...s, c: s.k, h: oh, w: ow, k: s.c, padding: 2 - s.padding };
          const dxMag = magnitude(dy, transposeRotate(w, s), t, m);
          const dxRef = conv2dBackwardData(dy, w, s);
          for (const accumulate of s.c % 16 === 0 ? [false, true] : []) {
            const bdx = up(accumulate ? old : new Float32Array(nx).fill(NaN));
            runOnce(
              rt,
              await planConv2dBackwardData(
                rt,
                s,
                { dy: bdy, w: bw, dx: bdx },
                { accumulate },
                opts,
              ),
            );
            const dx = new Float32Array(await rt.read(bdx, nx * 4));
            assertWithin(
              dx,
              accumulate ? dxRef.map((v, j) => v + old[j]) : dxRef,
              accumulate ? dxMag.map((v, j) => v + Math.abs(old[j])) : dxMag,
              s.k + 32,
              `${tag} dx${accumulate ? " +=" : ""}`,
            );
            rt.pool.release(bdx);
          }
          // Filter gradient (needs C % 16) and the bias gradient beside it.
          if (s.c % 16 === 0) {
            const nw = s.k * s.c * 9;
            const bdw = up(new Float32Array(nw).fill(NaN)), bdb = up(new Float32Array(s.k));
            runOnce(
              rt,
              await planConv2dBackwardWeight(rt, s, { x: bx, dy: bdy, dw: bdw, db: bdb }, opts),
            );
            const dw = new Float32Array(await rt.read(bdw, nw * 4));
            const want = conv2dBackwardWeight(x, dy, s);
            const tiles = s.n * Math.ceil(oh / m) * Math.ceil(ow / m);
            const dwMag = conv2dWinogradBackwardWeight(
              Array.from(x, Math.abs),
              Array.from(dy, Math.abs),
              s,
              m,
              absT(WINOGRAD[m]),
            );
            assertWithin(dw, want.dw, dwMag, tiles + 40, `${tag} dw`);
            const db = new Float32Array(await rt.read(bdb, s.k * 4));
            const dbMag = conv2dBackwardWeight(x, Array.from(dy, Math.abs), s).db;
            assertWithin(db, want.db, dbMag, s.n * oh * ow, `${tag} db`);
            rt.pool.release(bdw);
            rt.pool.release(bdb);
          }
        }
        for (const buf of [bx, bw, bdy, by, ...(bb ? [bb] : [])]) rt.pool.release(buf);
      },
    });
  }
}

Deno.test({
  name: "conv2d winograd: an explicit tile on a shape it cannot run names the reason",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const buf = rt.pool.acquire(1 << 16, "test");
    const io = { x: buf, w: buf, y: buf };
    const cases: [Conv2dShape, RegExp][] = [
      [{ ...conv(1, 16, 8, 8, 16), stride: 2 }, /3×3 stride-1/],
      [conv(1, 6, 8, 8, 16), /input channels 6 are not a multiple of 4/],
      [conv(1, 16, 8, 8, 24), /output channels 24 are not a multiple of 16/],
      [conv(1, 2048, 2, 2, 16), /exceed a 64 KiB uniform window/],
    ];
    for (const [s, msg] of cases) {
      await assert.rejects(() => planConv2dForward(rt, s, io, { winograd: 4 }), msg);
    }
    // Backward-data runs the transposed shape: K = 24 output channels become its input channels
    // (fine), C = 16 its output channels (fine); C = 8 is not a multiple of 16.
    await assert.rejects(
      () =>
        planConv2dBackwardData(rt, conv(1, 8, 8, 8, 16), { dy: buf, w: buf, dx: buf }, {
          accumulate: false,
        }, { winograd: 2 }),
      /output channels 8 are not a multiple of 16/,
    );
    rt.pool.release(buf);
  },
});

Deno.test({
  name: "conv2d backward-data reads the dy the filter gradient packed (no second pack), same bits",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime("cpu");
    const { s, nx, ny, x, dy, w, dw } = layerOperands(rt, 41);
    const packs = (steps: Step[]) =>
      stepLabels(steps).filter((l) => l.startsWith("conv2d_pack:pack_c4")).length;
    // Backward-data by Winograd (the flipped forward) and by the direct NC4HW4 kernel.
    for (const winograd of [4, 0] as const) {
      const weight = await planConv2dBackwardWeight(rt, s, { x, dy, dw }, { winograd: 4 });
      assert.ok(weight.dyC4, "the Winograd filter gradient leaves dy packed");
      const results: Float32Array[] = [];
      for (const shared of [false, true]) {
        // Garbage first, so a plan that skipped its pack without reading the shared one fails.
        const dx = upload(rt, new Float32Array(nx).fill(NaN));
        const data = await planConv2dBackwardData(
          rt,
          s,
          { dy, w, dx, dyC4: shared ? weight.dyC4 : undefined },
          { accumulate: false },
          { winograd },
        );
        assert.equal(packs(data.steps), shared ? 0 : 1, `winograd ${winograd}, shared ${shared}`);
        runOnce(rt, { steps: [...weight.steps, ...data.steps], scratch: [] });
        results.push(await download(rt, dx, nx));
        for (const b of [dx, ...data.scratch]) rt.pool.release(b);
      }
      assert.deepEqual(results[1], results[0]);
      const ref = conv2dBackwardData(
        await download(rt, dy, ny),
        await download(rt, w, s.k * s.c * 9),
        s,
      );
      assert.ok(Math.abs(results[1][5] - ref[5]) < 1e-4, "a real gradient, not a copy of garbage");
      for (const b of weight.scratch) rt.pool.release(b);
    }
    for (const b of [x, dy, w, dw]) rt.pool.release(b);
  },
});

Deno.test({
  name: "conv2d winograd: the filter gradient from the forward's kept input transform, same bits",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime("cpu");
    const { s, rng, nx, ny, nw, x, dy, w, dw } = layerOperands(rt, 43);
    const y = rt.pool.acquire(ny * 4);
    const v = rt.pool.acquire(winogradInputBytes(s, 4), "kept V");
    const opts = { winograd: 4 } as const;
    // Recomputed: the filter gradient packs and transforms x itself.
    const plain = await planConv2dBackwardWeight(rt, s, { x, dy, dw }, opts);
    runOnce(rt, plain);
    const expected = await download(rt, dw, nw);
    // Kept: the forward writes V into `v`; then x and the shared V scratch are overwritten (an
    // unrelated convolution's forward) before the filter gradient, which reads neither.
    const fwd = await planConv2dForward(rt, s, { x, w, y, winogradV: v }, opts);
    const other = conv(2, 16, 12, 12, 32);
    const cx = upload(rt, rng.uniform(nx, -5, 5)), cw = upload(rt, rng.uniform(32 * 144, -1, 1));
    const cy = rt.pool.acquire(2 * 32 * 144 * 4);
    const clobber = await planConv2dForward(rt, other, { x: cx, w: cw, y: cy }, opts);
    const kept = await planConv2dBackwardWeight(rt, s, { x: null, dy, dw, winogradV: v }, opts);
    assert.deepEqual(
      stepLabels(kept.steps),
      stepLabels(plain.steps).slice(2),
      "no x pack, no x transform",
    );
    runOnce(rt, fwd);
    rt.device.queue.writeBuffer(x, 0, new Float32Array(nx).fill(NaN));
    rt.device.queue.writeBuffer(dw, 0, new Float32Array(nw).fill(NaN));
    runOnce(rt, { steps: [...clobber.steps, ...kept.steps], scratch: [] });
    assert.deepEqual(await download(rt, dw, nw), expected);
    // Misuse is named: a kept V for a plan that is not Winograd, one too small, neither x nor V.
    await assert.rejects(
      () => planConv2dForward(rt, s, { x, w, y, winogradV: v }, { winograd: 0 }),
      /winogradV .* does not run Winograd/,
    );
    const small = rt.pool.acquire(1024, "small V");
    await assert.rejects(
      () => planConv2dBackwardWeight(rt, s, { x: null, dy, dw, winogradV: small }, opts),
      /kept input transform needs \d+ bytes, the buffer has 1024/,
    );
    await assert.rejects(
      () => planConv2dBackwardWeight(rt, s, { x: null, dy, dw }, opts),
      /neither x nor a kept V/,
    );
    await assert.rejects(
      () => planConv2dBackwardWeight(rt, s, { x: null, dy, dw }, { winograd: 0 }),
      /x is needed/,
    );
    for (const b of [x, dy, w, y, dw, v, small, cx, cw, cy, ...kept.scratch]) {
      rt.pool.release(b);
    }
  },
});

Deno.test({
  name:
    "conv2d winograd: each GEMM kernel plans where it fills its lanes, and matches the reference",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime("cpu");
    // 48→32 8×8 by F(4,3): 4 tiles an image, so T = 8, 64, 256 at batch 2, 16, 64 — with
    // 16-invocation workgroups, lanes over channels (T < 64), 4 tiles a lane (T < 256) and 16.
    // C = 48 puts 21 blocks of U in a window: 4 windows, the last partly filled.
    const expected: [number, string][] = [[2, "gemm_lanes_k"], [16, "gemm_px4"], [64, "gemm"]];
    for (const [n, entry] of expected) {
      const s = conv(n, 48, 8, 8, 32);
      const r = new Rng(n);
      const nx = s.n * s.c * 64, ny = s.n * s.k * 64;
      const x = r.uniform(nx, -1, 1), w = r.uniform(s.k * s.c * 9, -1, 1);
      const dy = r.uniform(ny, -1, 1);
      const bx = upload(rt, x), bw = upload(rt, w), bdy = upload(rt, dy);
      const by = upload(rt, new Float32Array(ny).fill(NaN));
      const bdx = upload(rt, new Float32Array(nx).fill(NaN));
      const opts = { winograd: 4, workgroup: 16 } as const;
      const fwd = await planConv2dForward(rt, s, { x: bx, w: bw, y: by }, opts);
      const bwd = await planConv2dBackwardData(rt, s, { dy: bdy, w: bw, dx: bdx }, {
        accumulate: false,
      }, opts);
      for (const [dir, plan] of [["forward", fwd], ["backward-data", bwd]] as const) {
        const gemms = stepLabels(plan.steps).filter((l) => l.startsWith("conv2d_winograd:gemm"));
        assert.ok(gemms.length > 0 && gemms.every((l) => l === `conv2d_winograd:${entry}`), dir);
        runOnce(rt, plan);
      }
      const tag = `batch ${n} (${entry})`;
      assertWithin(
        await download(rt, by, ny),
        conv2dForward(x, w, null, s).y,
        magnitude(x, w, s, 4),
        s.c + 32,
        `${tag} y`,
      );
      const t: Conv2dShape = { ...s, c: s.k, k: s.c };
      assertWithin(
        await download(rt, bdx, nx),
        conv2dBackwardData(dy, w, s),
        magnitude(dy, transposeRotate(w, s), t, 4),
        s.k + 32,
        `${tag} dx`,
      );
      for (const b of [bx, bw, bdy, by, bdx]) rt.pool.release(b);
    }
  },
});

Deno.test({
  name: "conv2d winograd: F(2,3) where it needs fewer transformed products than F(4,3)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime("cpu");
    assert.equal(rt.policy.convWinograd, 4);
    // Per image and channel pair: 2×2 output, F(4,3) 36 (one tile, mostly padding) vs F(2,3) 16;
    // 3×3 and 4×4, 36 vs 64; 1×1, 36 vs 16. Both directions agree (a kept V needs one tile).
    const cases: [number, WinogradTile][] = [[1, 2], [2, 2], [3, 4], [4, 4], [8, 4]];
    for (const [hw, m] of cases) {
      const s = conv(16, 64, hw, hw, 64);
      assert.equal(plannedWinogradTile(rt, "forward", s), m, `${hw}×${hw}`);
      assert.equal(plannedWinogradTile(rt, "backward_weight", s), m, `${hw}×${hw} filter gradient`);
    }
    // An explicit tile is kept.
    assert.equal(plannedWinogradTile(rt, "forward", conv(16, 64, 2, 2, 64), { winograd: 4 }), 4);
  },
});
