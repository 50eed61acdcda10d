/**
 * Linear GEMM kernels against the f64 reference (src/reference/linear.ts).
 *
 * Tolerance: each output is a K-term dot product summed in f32. With unit round-off u = 2⁻²⁴ the
 * rounding errors of a sequential sum behave like a random walk, so we allow
 * (4·√K + 2)·u·Σ|aᵢbᵢ| per element (the +2 covers rounding the f64 golden inputs to f32). An index
 * or transpose slip moves outputs by O(Σ|aᵢbᵢ|), ~√K/4·2²⁴ times the allowance.
 */
import assert from "node:assert/strict";
import { download, GPU_TEST, runtime, upload } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { goldenCase, goldenInput, goldenOutput } from "../helpers/golden.ts";
import { planGemm, planLinearBackward, planLinearForward } from "../../src/ops/linear.ts";
import { runOnce } from "../../src/gpu/plan.ts";
import { linearBackward, linearForward, type LinearShape } from "../../src/reference/linear.ts";

const U = 2 ** -24;

/** Fails naming the worst element when |got − want| exceeds (4√K + 2)·u·scale per element. */
function assertDot(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  scale: ArrayLike<number>,
  k: number,
  label: string,
): void {
  assert.equal(got.length, want.length, `${label}: length`);
  const f = (4 * Math.sqrt(k) + 2) * U;
  let worst = -1, ratio = 0;
  for (let i = 0; i < got.length; i++) {
    const r = Math.abs(got[i] - want[i]) / (f * scale[i] + 1e-30);
    if (!(r <= ratio)) [worst, ratio] = [i, r];
  }
  assert.ok(
    ratio <= 1,
    `${label}: element ${worst} = ${got[worst]}, want ${want[worst]} (${ratio.toFixed(2)}× tol)`,
  );
}

/** The references applied to |inputs|: Σ|aᵢbᵢ| for every output. */
function absScales(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  dy: Float32Array,
  s: LinearShape,
) {
  const abs = (v: Float32Array) => v.map(Math.abs);
  const y = linearForward(abs(x), abs(w), abs(b), s);
  const g = linearBackward(abs(dy), abs(x), abs(w), s);
  return { y, ...g };
}

async function checkLinear(
  s: LinearShape,
  seed: number,
  accumulate: boolean,
  kernels?: "gpu",
): Promise<void> {
  const rt = await runtime(kernels);
  const rng = new Rng(seed);
  const { n, inFeatures: fi, outFeatures: fo } = s;
  const x = rng.normal(n * fi);
  const w = rng.normal(fo * fi, 0, 1 / Math.sqrt(fi));
  const b = rng.normal(fo);
  const dy = rng.normal(n * fo);
  // Previous contents for the accumulate path: dx += …, dW += …, db += ….
  const dx0 = accumulate ? rng.normal(n * fi) : new Float32Array(n * fi);
  const dw0 = accumulate ? rng.normal(fo * fi) : new Float32Array(fo * fi);
  const db0 = accumulate ? rng.normal(fo) : new Float32Array(fo);
  const bufs = {
    x: upload(rt, x),
    weight: upload(rt, w),
    bias: upload(rt, b),
    y: upload(rt, new Float32Array(n * fo).fill(NaN)), // must be overwritten, not accumulated
    dy: upload(rt, dy),
    // Non-accumulating outputs start as NaN so a missed element cannot pass.
    dx: upload(rt, accumulate ? dx0 : new Float32Array(n * fi).fill(NaN)),
    dw: upload(rt, accumulate ? dw0 : new Float32Array(fo * fi).fill(NaN)),
    db: upload(rt, accumulate ? db0 : new Float32Array(fo).fill(NaN)),
  };
  runOnce(rt, await planLinearForward(rt, s, bufs));
  runOnce(
    rt,
    await planLinearBackward(rt, s, bufs, {
      accumulateDx: accumulate,
      accumulateGrads: accumulate,
    }),
  );
  const wantY = linearForward(x, w, b, s);
  const want = linearBackward(dy, x, w, s);
  const sc = absScales(x, w, b, dy, s);
  const tag = `N${n} ${fi}→${fo}${accumulate ? " accumulate" : ""}`;
  assertDot(await download(rt, bufs.y, n * fo), wantY, sc.y, fi, `y ${tag}`);
  const plus = (a: Float64Array, b0: Float32Array) => a.map((v, i) => v + b0[i]);
  const plusAbs = (a: Float64Array, b0: Float32Array) => a.map((v, i) => v + Math.abs(b0[i]));
  assertDot(
    await download(rt, bufs.dx, n * fi),
    plus(want.dx, dx0),
    plusAbs(sc.dx, dx0),
    fo,
    `dx ${tag}`,
  );
  assertDot(
    await download(rt, bufs.dw, fo * fi),
    plus(want.dw, dw0),
    plusAbs(sc.dw, dw0),
    n,
    `dW ${tag}`,
  );
  assertDot(
    await download(rt, bufs.db, fo),
    plus(want.db, db0),
    plusAbs(sc.db, db0),
    n,
    `db ${tag}`,
  );
  for (const buf of Object.values(bufs)) rt.pool.release(buf);
}

Deno.test({
  name: "linear 64→10, batch 128 (classifier head; O not a multiple of the tile)",
  ...GPU_TEST,
  fn: () => checkLinear({ n: 128, inFeatures: 64, outFeatures: 10 }, 1, false),
});

Deno.test({
  name: "linear batch 1, odd sizes 37→13",
  ...GPU_TEST,
  fn: () => checkLinear({ n: 1, inFeatures: 37, outFeatures: 13 }, 2, false),
});

Deno.test({
  name: "linear 100→67, batch 19, accumulating dx, dW, db",
  ...GPU_TEST,
  fn: () => checkLinear({ n: 19, inFeatures: 100, outFeatures: 67 }, 3, true),
});

Deno.test({
  name: "linear 2048→1000, batch 16 (ImageNet head shape)",
  ...GPU_TEST,
  fn: () => checkLinear({ n: 16, inFeatures: 2048, outFeatures: 1000 }, 4, false),
});

Deno.test({
  name: "linear 101→67, batch 200 (packed GEMM: K not a multiple of 4), accumulating",
  ...GPU_TEST,
  fn: () => checkLinear({ n: 200, inFeatures: 101, outFeatures: 67 }, 6, true),
});

Deno.test({
  name: "linear under the GPU kernel policy (one dispatch, 1 row per invocation): 3 shapes",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime("gpu");
    const pl = await planLinearForward(rt, { n: 200, inFeatures: 101, outFeatures: 67 }, {
      x: rt.pool.acquire(200 * 101 * 4),
      weight: rt.pool.acquire(67 * 101 * 4),
      y: rt.pool.acquire(200 * 67 * 4),
    });
    assert.equal(pl.steps.length, 1, "a GPU plans the long product as one dispatch");
    await checkLinear({ n: 200, inFeatures: 101, outFeatures: 67 }, 6, true, "gpu");
    await checkLinear({ n: 16, inFeatures: 2048, outFeatures: 1000 }, 4, false, "gpu");
    await checkLinear({ n: 1, inFeatures: 37, outFeatures: 13 }, 2, false, "gpu");
  },
});

for (const [m, n, k, packed] of [[70, 45, 33, false], [300, 45, 1030, true]] as const) {
  Deno.test({
    name: `GEMM with both operands transposed, ${m}×${k}·${k}×${n}${
      packed ? " (packed, 2 k chunks)" : ""
    }`,
    ...GPU_TEST,
    async fn() {
      const rt = await runtime();
      const rng = new Rng(5);
      const at = rng.normal(k * m); // stored [K, M]
      const bt = rng.normal(n * k); // stored [N, K]
      const a = upload(rt, at), b = upload(rt, bt), c = upload(rt, new Float32Array(m * n));
      const pl = await planGemm(rt, { m, n, k, transA: true, transB: true }, { a, b, c }, {
        packed,
      });
      assert.equal(pl.steps.length, packed ? 2 + 3 * 2 : 1);
      runOnce(rt, pl);
      const want = new Float64Array(m * n), scale = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          for (let q = 0; q < k; q++) {
            want[i * n + j] += at[q * m + i] * bt[j * k + q];
            scale[i * n + j] += Math.abs(at[q * m + i] * bt[j * k + q]);
          }
        }
      }
      assertDot(await download(rt, c, m * n), want, scale, k, "C = AᵀBᵀ");
      for (const buf of [a, b, c]) rt.pool.release(buf);
    },
  });
}

Deno.test({
  name: "linear against PyTorch golden values",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const c = goldenCase("linear");
    const s = c.shape as unknown as LinearShape;
    const [x, w, b, g] = ["x", "w", "b", "g"].map((k) => Float32Array.from(goldenInput(c, k)));
    const bufs = {
      x: upload(rt, x),
      weight: upload(rt, w),
      bias: upload(rt, b),
      dy: upload(rt, g),
      y: upload(rt, new Float32Array(s.n * s.outFeatures)),
      dx: upload(rt, new Float32Array(s.n * s.inFeatures)),
      dw: upload(rt, new Float32Array(s.outFeatures * s.inFeatures)),
      db: upload(rt, new Float32Array(s.outFeatures)),
    };
    runOnce(rt, await planLinearForward(rt, s, bufs));
    runOnce(rt, await planLinearBackward(rt, s, bufs));
    const sc = absScales(x, w, b, g, s);
    const sizes = { y: s.n * s.outFeatures, dx: s.n * s.inFeatures, dw: w.length, db: b.length };
    const ks = { y: s.inFeatures, dx: s.outFeatures, dw: s.n, db: s.n };
    for (const name of ["y", "dx", "dw", "db"] as const) {
      const got = await download(rt, bufs[name], sizes[name]);
      assertDot(got, goldenOutput(c, name), sc[name], ks[name], `golden ${name}`);
    }
    for (const buf of Object.values(bufs)) rt.pool.release(buf);
  },
});
