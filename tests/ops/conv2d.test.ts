/**
 * Convolution kernels (forward, backward-data incl. accumulate, backward-weight incl. split-K and
 * db) against the f64 CPU reference and the PyTorch golden fixtures.
 *
 * Error bound, per element: the GPU sums L = (terms per output) f32 products with fma in some
 * order, so |gpu − exact| ≤ γ(L)·Σ|terms| with γ(L) = L·u / (1 − L·u), u = 2⁻²⁴ (Higham, recursive
 * summation; split-K partial sums plus the reduce have depth ≤ L too). Σ|terms| comes from the
 * same reference run on |inputs|. Inputs are f32, so the f64 reference is exact up to its own
 * ~1e-16 round-off. The bound is rigorous yet tight enough: dropping or duplicating one of the L
 * terms moves a value by about Σ|terms|/L, far above γ(L)·Σ|terms| for the L here (≤ 1024).
 * For the golden fixtures the f64 inputs are rounded to f32 first (2 more roundings per product).
 */
import assert from "node:assert/strict";
import { download, GPU_TEST, runtime, stepLabels, upload } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { assertWithinBound } from "../helpers/bound.ts";
import { goldenCase, goldenInput, goldenOutput } from "../helpers/golden.ts";
import { runOnce } from "../../src/gpu/plan.ts";
import {
  type Conv2dShape,
  planConv2dBackwardData,
  planConv2dBackwardWeight,
  planConv2dForward,
} from "../../src/ops/conv2d/mod.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dOutSize,
} from "../../src/reference/conv.ts";

const abs = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>, Math.abs);

/** Asserts |got − want| ≤ γ(terms)·mag elementwise; reports the worst element. */
function assertBound(
  got: Float32Array,
  want: ArrayLike<number>,
  mag: ArrayLike<number>,
  terms: number,
  label: string,
): void {
  // Typical error is far below the worst case: a relative L2 error near 1e-7 is f32 round-off.
  assertWithinBound(got, want, mag, terms, label, 2e-6);
}

interface Inputs {
  x: Float32Array;
  w: Float32Array;
  b: Float32Array | null;
  dy: Float32Array;
}

function randomInputs(s: Conv2dShape, bias: boolean, seed: number): Inputs {
  const r = new Rng(seed);
  const { oh, ow } = conv2dOutSize(s);
  return {
    x: r.uniform(s.n * s.c * s.h * s.w, -1, 1),
    w: r.uniform(s.k * s.c * s.kh * s.kw, -1, 1),
    b: bias ? r.uniform(s.k, -1, 1) : null,
    dy: r.uniform(s.n * s.k * oh * ow, -1, 1),
  };
}

interface CheckOptions {
  accumulate?: boolean;
  workgroup?: number;
  weights?: "uniform" | "storage";
  activations?: "c4" | "nchw";
  /** Where backward-weight reads dy (default: storage when `splits` is given). */
  dy?: "uniform" | "storage";
  /** Backward-weight invocations over taps or over rows of the reduction. */
  lanes?: "taps" | "rows";
  splits?: number;
  /** Forward and backward-data split-K over channels (storage weights). */
  forwardSplits?: number;
  /** Extra roundings per term (golden inputs rounded from f64). */
  extra?: number;
  /**
   * The workgroup-tiled kernels (conv2d_tiled.wgsl) in all three directions; backward-data only
   * where it is transposable (stride 1), else direct. `forwardSplits` / `splits` split them.
   */
  tiled?: boolean;
  /** Forward and backward-data with lanes over channel tiles (or never). */
  channelLanes?: boolean;
  /** Force a kernel policy (either one's variants run on any adapter). */
  kernels?: "cpu" | "gpu";
  /** Expected values instead of the f64 reference (golden). */
  golden?: { y: number[]; dx: number[]; dw: number[]; db: number[] };
}

async function checkAll(s: Conv2dShape, inp: Inputs, label: string, o: CheckOptions = {}) {
  const rt = await runtime(o.kernels);
  const { oh, ow } = conv2dOutSize(s);
  const ny = s.n * s.k * oh * ow, nx = s.n * s.c * s.h * s.w, nw = s.k * s.c * s.kh * s.kw;
  const extra = o.extra ?? 0;
  const x = upload(rt, inp.x), w = upload(rt, inp.w), dy = upload(rt, inp.dy);
  const bias = inp.b ? upload(rt, inp.b) : null;
  const y = rt.pool.acquire(ny * 4), dw = rt.pool.acquire(nw * 4), db = rt.pool.acquire(s.k * 4);
  const old = new Rng(99).uniform(nx, -1, 1);
  const dx = upload(rt, o.accumulate ? old : new Float32Array(nx).fill(NaN));
  // The direct kernels (tests/ops/conv2d_winograd.test.ts covers the Winograd path).
  const wg = {
    workgroup: o.workgroup,
    weights: o.weights,
    activations: o.activations,
    winograd: 0 as const,
    tiled: o.tiled,
    channelLanes: o.channelLanes,
  };
  const transposable = s.stride === 1 && s.kh === s.kw && s.padding < s.kh;

  runOnce(
    rt,
    await planConv2dForward(rt, s, { x, w, bias, y }, { ...wg, channelSplits: o.forwardSplits }),
  );
  runOnce(
    rt,
    await planConv2dBackwardData(rt, s, { dy, w, dx }, { accumulate: !!o.accumulate }, {
      ...wg,
      tiled: o.tiled && transposable,
      channelSplits: o.forwardSplits,
    }),
  );
  runOnce(
    rt,
    await planConv2dBackwardWeight(rt, s, { x, dy, dw, db }, {
      ...wg,
      pixelSplits: o.splits,
      dy: o.dy ?? (o.splits && !o.tiled && !o.lanes ? "storage" : undefined),
      lanes: o.lanes,
    }),
  );

  const taps = s.kh * s.kw;
  const ref = conv2dForward(inp.x, inp.w, inp.b, s).y;
  const refMag = conv2dForward(abs(inp.x), abs(inp.w), inp.b ? abs(inp.b) : null, s).y;
  assertBound(
    await download(rt, y, ny),
    o.golden?.y ?? ref,
    refMag,
    s.c * taps + 1 + extra,
    `${label} y`,
  );

  let dxRef = conv2dBackwardData(inp.dy, inp.w, s);
  let dxMag = conv2dBackwardData(abs(inp.dy), abs(inp.w), s);
  if (o.accumulate) {
    dxRef = dxRef.map((v, i) => v + old[i]);
    dxMag = dxMag.map((v, i) => v + Math.abs(old[i]));
  }
  assertBound(
    await download(rt, dx, nx),
    o.golden?.dx ?? dxRef,
    dxMag,
    s.k * taps + 1 + extra,
    `${label} dx${o.accumulate ? " (accumulate)" : ""}`,
  );

  const wr = conv2dBackwardWeight(inp.x, inp.dy, s);
  const wm = conv2dBackwardWeight(abs(inp.x), abs(inp.dy), s);
  const l = s.n * oh * ow;
  assertBound(await download(rt, dw, nw), o.golden?.dw ?? wr.dw, wm.dw, l + extra, `${label} dw`);
  assertBound(await download(rt, db, s.k), o.golden?.db ?? wr.db, wm.db, l + extra, `${label} db`);
  for (const b of [x, w, dy, y, dw, db, dx, ...(bias ? [bias] : [])]) rt.pool.release(b);
}

const conv = (
  n: number,
  c: number,
  h: number,
  w: number,
  k: number,
  ks: number,
  stride: number,
  padding: number,
): Conv2dShape => ({ n, c, h, w, k, kh: ks, kw: ks, stride, padding });

// Sizes are off every tile multiple (8·WG pixels, 16 channels) unless a case says otherwise.
const CASES: { label: string; s: Conv2dShape; bias: boolean }[] = [
  { label: "3×3 s1 p1, 9×7, K 19", s: conv(2, 5, 9, 7, 19, 3, 1, 1), bias: true },
  { label: "3×3 s2 p1, 15×15", s: conv(3, 17, 15, 15, 6, 3, 2, 1), bias: false },
  { label: "3×3 s1 p1, batch 1, 7×7, 16→32", s: conv(1, 16, 7, 7, 32, 3, 1, 1), bias: false },
  { label: "1×1 s1 (GEMM path)", s: conv(2, 20, 7, 7, 33, 1, 1, 0), bias: true },
  { label: "1×1 s2 projection, 9×9", s: conv(2, 9, 9, 9, 18, 1, 2, 0), bias: false },
  { label: "7×7 s2 p3 stem, batch 1", s: conv(1, 3, 15, 15, 16, 7, 2, 3), bias: true },
  { label: "3×3 s2 p0, even input", s: conv(2, 4, 10, 10, 5, 3, 2, 0), bias: true },
  // Channels in fours both ways: backward-data with lanes over channels, in stride phases.
  { label: "3×3 s2 p1, 9×9, 8→12", s: conv(2, 8, 9, 9, 12, 3, 2, 1), bias: false },
];

// Default planning (on lavapipe these few pixels run with lanes over channel tiles where the
// channels come in fours), then the uniform-window kernels asked for by name.
for (const [i, { label, s, bias }] of CASES.entries()) {
  for (const accumulate of [false, true]) {
    for (const weights of [undefined, "uniform"] as const) {
      const tag = `${label}${weights ? ", uniform weights" : ""}`;
      Deno.test({
        name: `conv2d ${tag}${accumulate ? ", dx accumulate" : ""}`,
        ...GPU_TEST,
        async fn() {
          await checkAll(s, randomInputs(s, bias, 10 + i), tag, { accumulate, weights });
        },
      });
    }
  }
}

// The GPU policy: storage operands, 64-wide workgroups, filter gradients split over up to 2¹⁷
// invocations' worth of row splits (here: one (n, oy) row per split for every case).
for (const [i, { label, s, bias }] of CASES.entries()) {
  Deno.test({
    name: `conv2d ${label}, GPU kernel policy, dx accumulate`,
    ...GPU_TEST,
    async fn() {
      await checkAll(s, randomInputs(s, bias, 30 + i), label, { accumulate: true, kernels: "gpu" });
    },
  });
}

Deno.test({
  name: "conv2d forward and backward-data split-K over channels (2, 3, 7 ways; dx accumulating)",
  ...GPU_TEST,
  async fn() {
    for (const [i, { label, s, bias }] of CASES.entries()) {
      for (const forwardSplits of [2, 3, 7]) {
        await checkAll(s, randomInputs(s, bias, 50 + i), `${label}, ${forwardSplits} splits`, {
          weights: "storage",
          forwardSplits,
          accumulate: forwardSplits === 3,
        });
      }
    }
  },
});

Deno.test({
  name: "conv2d weights read from storage (the path for reductions past a uniform window)",
  ...GPU_TEST,
  async fn() {
    for (const [i, { label, s, bias }] of CASES.entries()) {
      await checkAll(s, randomInputs(s, bias, 10 + i), `${label}, storage weights`, {
        weights: "storage",
        dy: "storage",
        accumulate: i % 2 === 1,
      });
    }
    // Which path the lavapipe policy plans (workgroups of 16): past 256 output pixels, a pack
    // dispatch then one per 16-channel window.
    const rt = await runtime("cpu");
    const b = rt.pool.acquire(1 << 20);
    const labels = async (s: Conv2dShape) => {
      const plan = await planConv2dForward(rt, s, { x: b, w: b, y: b, bias: b });
      const backward = await planConv2dBackwardData(rt, s, { dy: b, w: b, dx: b }, {
        accumulate: false,
      });
      return [stepLabels(plan.steps), stepLabels(backward.steps)];
    };
    const [fwd] = await labels(conv(1, 64, 17, 17, 40, 3, 1, 1));
    assert.deepEqual(fwd, [
      "conv2d_pack:pack_weights",
      "conv2d_pack:pack_c4",
      ...Array(3).fill("conv2d_forward:forward_uw_x4"),
    ]);
    // Up to 256 (ResNet-50's layer3/4): lanes over channel tiles, one dispatch (per phase).
    assert.deepEqual(await labels(conv(2, 64, 8, 8, 40, 3, 2, 1)), [
      ["conv2d_pack:pack_weights", "conv2d_pack:pack_c4_v", "conv2d_forward:forward_lanes_k_x4"],
      [
        "conv2d_pack:pack_weights",
        "conv2d_pack:pack_c4_v",
        ...Array(4).fill("conv2d_backward_data:backward_data_lanes_k_x4"),
      ],
    ]);
    // Channels not in fours: x read in place.
    assert.deepEqual((await labels(conv(1, 6, 4, 4, 20, 3, 1, 1)))[0], [
      "conv2d_pack:pack_weights",
      ...Array(2).fill("conv2d_forward:forward_uw"),
    ]);
    // KH·KW·C = 1080 > 1024 rows: no window holds a channel tile, and the lanes kernel's
    // storage layout takes any row count, at any pixel count (here 338).
    const long = conv(2, 120, 13, 13, 20, 3, 1, 1);
    assert.equal((await labels(long))[0].at(-1), "conv2d_forward:forward_lanes_k_x4");
    // Channels not in fours (118): the default falls back to storage weights.
    const s = conv(2, 118, 13, 13, 20, 3, 1, 1);
    assert.deepEqual((await labels(s))[0], ["conv2d_forward:forward"]);
    rt.pool.release(b);
    await checkAll(s, randomInputs(s, true, 4), "3×3 C118, reduction past one window");
    await checkAll(long, randomInputs(long, true, 5), "3×3 C120, lanes over channels");
  },
});

Deno.test({
  name: "conv2d lanes over channel tiles by name: past 256 pixels, both policies; refused misuse",
  ...GPU_TEST,
  async fn() {
    // 2×12×12 = 288 output pixels (the software policy's default would be the windows), K off 16.
    const s = conv(2, 8, 12, 12, 20, 3, 1, 1);
    const s2 = conv(2, 12, 11, 11, 8, 3, 2, 1); // stride 2: backward-data's 4 phases
    for (const kernels of ["cpu", "gpu"] as const) {
      await checkAll(s, randomInputs(s, true, 90), `lanes, ${kernels}`, {
        channelLanes: true,
        kernels,
        accumulate: true,
      });
      await checkAll(s2, randomInputs(s2, false, 91), `lanes s2, ${kernels}`, {
        channelLanes: true,
        kernels,
      });
    }
    const rt = await runtime("cpu");
    const b = rt.pool.acquire(1 << 16);
    const fwd = async (t: Conv2dShape, channelLanes: boolean) =>
      stepLabels((await planConv2dForward(rt, t, { x: b, w: b, y: b }, { channelLanes })).steps);
    assert.ok((await fwd(s, true)).includes("conv2d_forward:forward_lanes_k_x4"));
    // A small layer asked for the windows gets them.
    const small = conv(1, 8, 4, 4, 16, 3, 1, 1);
    assert.ok(!(await fwd(small, false)).includes("conv2d_forward:forward_lanes_k_x4"));
    await assert.rejects(() => fwd(conv(1, 6, 4, 4, 16, 3, 1, 1), true), /channels are not/);
    await assert.rejects(
      () =>
        planConv2dBackwardData(rt, conv(1, 8, 4, 4, 6, 3, 1, 1), { dy: b, w: b, dx: b }, {
          accumulate: false,
        }, { channelLanes: true }),
      /6 reduction channels are not a multiple of 4/,
    );
    rt.pool.release(b);
  },
});

Deno.test({
  name: "conv2d uniform weights with activations read in place (NCHW, not repacked C4)",
  ...GPU_TEST,
  async fn() {
    for (const [i, { label, s, bias }] of CASES.entries()) {
      await checkAll(s, randomInputs(s, bias, 30 + i), `${label}, nchw activations`, {
        activations: "nchw",
        accumulate: i % 2 === 0,
      });
    }
  },
});

Deno.test({
  name: "conv2d other workgroup sizes (8, 64) and forced split-K counts",
  ...GPU_TEST,
  async fn() {
    const s = conv(3, 6, 11, 13, 21, 3, 1, 1);
    const inp = randomInputs(s, true, 5);
    await checkAll(s, inp, "wg 8, 1 split", { workgroup: 8, splits: 1 });
    await checkAll(s, inp, "wg 64, 7 splits", { workgroup: 64, splits: 7, accumulate: true });
    await checkAll(s, inp, "wg 16, 33 splits (one per row)", { splits: 33 });
  },
});

Deno.test({
  name: "conv2d backward-weight with invocations over rows (the stem's default on lavapipe)",
  ...GPU_TEST,
  async fn() {
    const label = (st: { kind: string; kernel?: { label: string } }) =>
      st.kind === "dispatch" ? st.kernel!.label : st.kind;
    // A 1-channel stem (R = 9): the software policy's default; the GPU policy keeps taps.
    const stem = conv(4, 1, 12, 12, 16, 3, 1, 1);
    const cpuRt = await runtime("cpu"), gpuRt = await runtime("gpu");
    const b = cpuRt.pool.acquire(4 * 16 * 144 * 4), bg = gpuRt.pool.acquire(4 * 16 * 144 * 4);
    const cpu = await planConv2dBackwardWeight(cpuRt, stem, { x: b, dy: b, dw: b });
    assert.deepEqual(cpu.steps.map(label), [
      "conv2d_backward_weight:backward_weight_px",
      "conv2d_reduce:sum_splits",
    ]);
    const gpu = await planConv2dBackwardWeight(gpuRt, stem, { x: bg, dy: bg, dw: bg });
    assert.ok(!gpu.steps.map(label).includes("conv2d_backward_weight:backward_weight_px"));
    // R = 9 with 80 output channels: every split would sweep 5 channel tiles; taps.
    const wide = await planConv2dBackwardWeight(cpuRt, { ...stem, k: 80 }, { x: b, dy: b, dw: b });
    assert.ok(!wide.steps.map(label).includes("conv2d_backward_weight:backward_weight_px"));
    for (const x of wide.scratch) cpuRt.pool.release(x);
    for (const x of [...cpu.scratch, b]) cpuRt.pool.release(x);
    for (const x of [...gpu.scratch, bg]) gpuRt.pool.release(x);
    await checkAll(stem, randomInputs(stem, true, 70), "1-channel stem, default", {
      kernels: "cpu",
    });
    // Every case (R from 9 to 153: tap tiles of 4…16 taps, several tiles; K off 16; strides,
    // padding), one split (dW written directly), a few, one per row, and both workgroup sizes.
    for (const [i, { label: l, s, bias }] of CASES.entries()) {
      const inp = randomInputs(s, bias, 80 + i);
      for (const o of [{}, { splits: 1 }, { splits: 3, workgroup: 16 }, { splits: 1 << 20 }]) {
        await checkAll(s, inp, `${l}, rows ${JSON.stringify(o)}`, { lanes: "rows", ...o });
      }
    }
  },
});

Deno.test({
  name: "conv2d backward-weight planner splits a long reduction into a scratch buffer",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const s = conv(8, 16, 16, 16, 16, 3, 1, 1);
    const b = rt.pool.acquire(8 * 16 * 256 * 4);
    const pl = await planConv2dBackwardWeight(rt, s, { x: b, dy: b, dw: b }, { dy: "storage" });
    assert.equal(pl.scratch.length, 1);
    assert.equal(pl.steps.length, 2);
    const inp = randomInputs(s, false, 3);
    await checkAll(s, inp, "split-K default", { dy: "storage" });
    for (const x of pl.scratch) rt.pool.release(x);
    rt.pool.release(b);
  },
});

Deno.test({
  name: "conv2d backward-weight from uniform dy windows: several windows, a partial last one",
  ...GPU_TEST,
  async fn() {
    // The software adapters' default (a GPU's policy reads dy from storage).
    const rt = await runtime("cpu");
    // 3 images × 40 output rows of 40 pixels: windows of 25 rows, the 5th holds 20.
    const s = conv(3, 5, 40, 40, 18, 3, 1, 1);
    const b = rt.pool.acquire(4096);
    const pl = await planConv2dBackwardWeight(rt, s, { x: b, dy: b, dw: b }, { lanes: "taps" });
    const labels = pl.steps.map((st) => st.kind === "dispatch" ? st.kernel.label : st.kind);
    assert.deepEqual(labels, [
      "conv2d_pack:pack_dy_v",
      ...Array(5 * 2).fill("conv2d_backward_weight:backward_weight_uw"),
      "conv2d_reduce:sum_splits",
    ]);
    for (const x of pl.scratch) rt.pool.release(x);
    await checkAll(s, randomInputs(s, true, 6), "uniform dy, 5 windows", {
      workgroup: 8,
      kernels: "cpu",
    });
    // Channels in fours: x repacked NC4HW4 first, the 16-row kernel, both workgroup sizes.
    const s4 = conv(3, 12, 40, 40, 18, 3, 1, 1);
    const pl4 = await planConv2dBackwardWeight(rt, s4, { x: b, dy: b, dw: b }, { lanes: "taps" });
    assert.deepEqual(
      pl4.steps.slice(0, 3).map((st) => st.kind === "dispatch" ? st.kernel.label : st.kind),
      [
        "conv2d_pack:pack_dy_v",
        "conv2d_pack:pack_c4_v",
        "conv2d_backward_weight:backward_weight_uw_x4",
      ],
    );
    for (const x of pl4.scratch) rt.pool.release(x);
    rt.pool.release(b);
    for (const workgroup of [8, 16]) {
      await checkAll(s4, randomInputs(s4, false, 8), `x4 dW, wg ${workgroup}`, {
        workgroup,
        kernels: "cpu",
      });
    }
    await checkAll(
      conv(2, 3, 9, 7, 5, 3, 2, 1),
      randomInputs(conv(2, 3, 9, 7, 5, 3, 2, 1), true, 7),
      "uniform dy, one window, stride 2",
      { kernels: "cpu" },
    );
  },
});

for (
  const name of ["conv3x3_s1_p1", "conv3x3_s2_p1", "conv1x1_s1", "conv1x1_s2", "conv7x7_s2_p3"]
) {
  Deno.test({
    name: `conv2d golden ${name} (PyTorch float64)`,
    ...GPU_TEST,
    async fn() {
      const c = goldenCase(name);
      const s = c.shape as unknown as Conv2dShape;
      const f32 = (a: Float64Array) => Float32Array.from(a);
      const inp = {
        x: f32(goldenInput(c, "x")),
        w: f32(goldenInput(c, "w")),
        b: f32(goldenInput(c, "b")),
        dy: f32(goldenInput(c, "g")),
      };
      await checkAll(s, inp, name, {
        extra: 2,
        golden: {
          y: goldenOutput(c, "y"),
          dx: goldenOutput(c, "dx"),
          dw: goldenOutput(c, "dw"),
          db: goldenOutput(c, "db"),
        },
      });
    },
  });
}

Deno.test({
  name: "conv2d plans by kernel policy: a GPU gets one dispatch per direction and wide dW splits",
  ...GPU_TEST,
  async fn() {
    // ResNet-20's first stage at batch 128: 16→16 3×3 on 28×28.
    const s = conv(128, 16, 28, 28, 16, 3, 1, 1);
    const floats = { x: 128 * 16 * 28 * 28, w: 16 * 16 * 9 };
    for (const kernels of ["cpu", "gpu"] as const) {
      const rt = await runtime(kernels);
      const x = rt.pool.acquire(floats.x * 4), y = rt.pool.acquire(floats.x * 4);
      const w = rt.pool.acquire(floats.w * 4), dw = rt.pool.acquire(floats.w * 4);
      const fwd = await planConv2dForward(rt, s, { x, w, y });
      const bwd = await planConv2dBackwardData(rt, s, { dy: y, w, dx: x }, { accumulate: false });
      const dW = await planConv2dBackwardWeight(rt, s, { x, dy: y, dw });
      const dispatches = (p: { steps: { kind: string }[] }) =>
        p.steps.filter((t) => t.kind === "dispatch").length;
      if (kernels === "gpu") {
        assert.equal(dispatches(fwd), 1, "forward: storage weights, no packing, enough pixels");
        assert.equal(dispatches(bwd), 1, "backward-data: storage weights, no packing");
        // The split kernel, then the reduce; 2¹⁷ invocations would want a split per (n, oy)
        // row, the reduce's length caps them at 256: 14 rows each.
        assert.equal(dispatches(dW), 2);
        const k = dW.steps[0] as { groups: number; kernel: { label: string } };
        assert.equal(k.groups, 128 * 28 / 14, `${k.kernel.label}: ${k.groups} workgroups`);
      } else {
        // lavapipe: all three directions by Winograd F(4,3) (U fits one window).
        const labels = (p: typeof fwd) =>
          p.steps.map((t) => t.kind === "dispatch" ? t.kernel.label : t.kind);
        // x repacked NC4HW4 first; 28-wide rows stored as vec4s.
        const wino = [
          "conv2d_pack:pack_c4_v",
          ...["filter_f4", "input_f4_c4", "gemm", "output_f4_v4"].map((e) =>
            `conv2d_winograd:${e}`
          ),
        ];
        assert.deepEqual(labels(fwd), wino);
        assert.deepEqual(labels(bwd), wino);
        // The filter gradient: x and dy packed and transformed in turn, then the GEMM and Gᵀ·G.
        assert.deepEqual(labels(dW), [
          "conv2d_pack:pack_c4_v",
          "conv2d_winograd:input_f4_c4",
          "conv2d_pack:pack_c4_v",
          ...["grad_f4_c4", "gemm_dw", "filter_grad_f4"].map((e) => `conv2d_winograd:${e}`),
        ]);
      }
      for (const p of [fwd, bwd, dW]) for (const b of p.scratch) rt.pool.release(b);
      for (const b of [x, y, w, dw]) rt.pool.release(b);
    }
  },
});

Deno.test({
  name:
    "conv2d forward and backward-data on a GPU split a layer with few pixels (ResNet-50 layer4)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime("gpu");
    // 3×3 512→512 on 2×2 at batch 16: 64 output pixels, a 4,608-long reduction.
    const s = conv(16, 512, 2, 2, 512, 3, 1, 1);
    const x = rt.pool.acquire(16 * 512 * 4 * 4), y = rt.pool.acquire(16 * 512 * 4 * 4);
    const w = rt.pool.acquire(512 * 512 * 9 * 4);
    const fwd = await planConv2dForward(rt, s, { x, w, y });
    const labels = fwd.steps.map((t) => t.kind === "dispatch" ? t.kernel.label : t.kind);
    assert.deepEqual(labels, ["conv2d_forward:forward_split", "conv2d_reduce:sum_splits_bias"]);
    const bwd = await planConv2dBackwardData(rt, s, { dy: y, w, dx: x }, { accumulate: true });
    assert.deepEqual(
      bwd.steps.map((t) => t.kind === "dispatch" ? t.kernel.label : t.kind),
      ["conv2d_backward_data:backward_data_split", "conv2d_reduce:sum_splits_into"],
    );
    for (const b of bwd.scratch) rt.pool.release(b);
    // 1 pixel tile × 32 channel tiles × 64 invocations = 2,048; 2¹⁵ wants 16 splits of 32 channels.
    const k = fwd.steps[0] as { groups: number };
    assert.equal(k.groups, 16 * 32);
    for (const b of [...fwd.scratch, x, y, w]) rt.pool.release(b);
    await checkAll(
      conv(4, 64, 3, 3, 20, 3, 1, 1),
      randomInputs(conv(4, 64, 3, 3, 20, 3, 1, 1), true, 61),
      "GPU policy, auto-split forward",
      { kernels: "gpu" },
    );
  },
});

// The workgroup-tiled implicit GEMM (64 × 64 tiles, 16-deep steps): every case, plus one whose
// K and K·C·9 cross a tile and whose reduction crosses several steps in every direction.
const TILED_CASES = [
  ...CASES,
  { label: "3×3 s1 p1, K 70 (two channel tiles)", s: conv(2, 8, 6, 6, 70, 3, 1, 1), bias: true },
];

Deno.test({
  name: "conv2d tiled (workgroup memory): forward, stride-1 backward-data, filter gradient",
  ...GPU_TEST,
  async fn() {
    for (const [i, { label, s, bias }] of TILED_CASES.entries()) {
      await checkAll(s, randomInputs(s, bias, 70 + i), `${label}, tiled`, {
        tiled: true,
        accumulate: i % 2 === 0,
      });
    }
  },
});

Deno.test({
  name: "conv2d tiled with split reductions (forward/backward-data 3 ways, filter gradient 5)",
  ...GPU_TEST,
  async fn() {
    for (const [i, { label, s, bias }] of TILED_CASES.entries()) {
      await checkAll(s, randomInputs(s, bias, 90 + i), `${label}, tiled, splits`, {
        tiled: true,
        forwardSplits: 3,
        splits: 5,
        accumulate: i % 2 === 1,
      });
    }
    // Which kernels run: one tiled dispatch, or the split dispatch plus its reduce.
    const rt = await runtime();
    const b = rt.pool.acquire(1 << 16);
    const s = conv(2, 8, 6, 6, 70, 3, 1, 1);
    const labels = async (o: { tiled: true; channelSplits?: number }) =>
      (await planConv2dForward(rt, s, { x: b, w: b, y: b, bias: b }, o)).steps.map((st) =>
        st.kind === "dispatch" ? st.kernel.label : st.kind
      );
    assert.deepEqual(await labels({ tiled: true }), ["conv2d_tiled:forward"]);
    assert.deepEqual(await labels({ tiled: true, channelSplits: 2 }), [
      "conv2d_tiled:forward",
      "conv2d_reduce:sum_splits_bias",
    ]);
    await assert.rejects(
      planConv2dBackwardData(rt, conv(1, 4, 8, 8, 4, 3, 2, 1), { dy: b, w: b, dx: b }, {
        accumulate: false,
      }, { tiled: true }),
      /tiled backward-data needs stride 1/,
    );
    rt.pool.release(b);
  },
});
