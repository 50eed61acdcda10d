/**
 * Linear layers (PyTorch layout: x [N, I], W [O, I], y = x·Wᵀ + b) as one strided GEMM kernel
 * (shaders/linear.wgsl): the backward products read their transposed operands through strides
 * instead of materializing transposes.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Planned, type Step } from "../gpu/plan.ts";

export interface LinearShape {
  n: number;
  inFeatures: number;
  outFeatures: number;
}

/** C[m, n] = Σ_k A[m, k]·B[k, n]; A is stored [K, M] when `transA`, B is stored [N, K] when `transB`. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
}

export interface GemmBuffers {
  a: GPUBuffer;
  b: GPUBuffer;
  c: GPUBuffer;
  /** Added to every row of C (length n). */
  bias?: GPUBuffer;
}

/** A product in the kernel's terms: element strides of A, B and C (see linear.wgsl). */
interface Strided {
  m: number;
  n: number;
  k: number;
  aSm: number;
  aSk: number;
  bSn: number;
  bSk: number;
  cSm: number;
  cSn: number;
}

/**
 * Products with at least this many rows (after a role swap) take the packed path: A as vec4s of
 * k, B in 64 KiB uniform windows, 16×16 per invocation (shaders/linear.wgsl `gemm_packed`).
 */
const PACKED_MIN_M = 128;
/** Floats in one uniform window (64 KiB) and the k-rows of 16 columns it holds. */
const WINDOW = 16384;
const CHUNK = WINDOW / 16;

async function planPacked(
  rt: Runtime,
  g: Strided,
  a: GPUBuffer,
  b: GPUBuffer,
  buf: GemmBuffers,
  swap: boolean,
  accumulate: boolean,
): Promise<Planned> {
  const k4 = Math.ceil(g.k / 4);
  const ntiles = Math.ceil(g.n / 16);
  const chunks = Math.ceil(g.k / CHUNK);
  // Packed operands live in the runtime's shared scratch (plans replay one after another).
  const a4 = rt.scratch.get("gemm.packed_a", k4 * g.m * 16, GPUBufferUsage.STORAGE);
  const bw = rt.scratch.get(
    "gemm.packed_b",
    ntiles * chunks * WINDOW * 4,
    GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM,
  );
  const steps: Step[] = [];
  const packA = await rt.kernel("linear", "pack_a");
  const aCount = k4 * g.m;
  const pa = rt.uniform(packParams([g.m, g.k, aCount, 0, g.aSm, g.aSk, 0, 0]));
  steps.push(dispatchStep(rt, packA, [pa, a, a4], Math.ceil(aCount / 64)));
  const packB = await rt.kernel("linear", "pack_b");
  const bCount = ntiles * chunks * CHUNK;
  const pb = rt.uniform(packParams([g.n, g.k, bCount, chunks, g.bSn, g.bSk, 0, 0]));
  steps.push(dispatchStep(rt, packB, [pb, b, bw], Math.ceil(bCount / 64)));
  // 8 invocations when 16 would leave fewer than 8 workgroups (both cores busy and balanced).
  const wg = Math.ceil(g.m / 256) >= 8 ? 16 : 8;
  const groups = Math.ceil(g.m / (16 * wg));
  const kernel = await rt.kernel("linear", "gemm_packed", { WG: wg });
  // The kernel always binds a bias; without one a 16-byte placeholder, never read (no buffer is
  // bound twice in a dispatch).
  const bias = buf.bias ?? rt.scratch.get("gemm.no_bias", 16, GPUBufferUsage.STORAGE);
  for (let t = 0; t < ntiles; t++) {
    for (let q = 0; q < chunks; q++) {
      const k40 = q * CHUNK / 4;
      const params = rt.uniform(packParams([
        ...[g.m, g.n, g.cSm, g.cSn],
        ...[t * 16, k40, Math.min(k4 - k40, CHUNK / 4), q === chunks - 1 ? 1 : 0],
        ...[accumulate || q > 0 ? 1 : 0, swap ? 1 : 0, buf.bias ? 1 : 0, groups],
      ]));
      const win = { buffer: bw, offset: (t * chunks + q) * WINDOW * 4, size: WINDOW * 4 };
      steps.push(dispatchStep(rt, kernel, [params, a4, buf.c, bias, win], groups));
    }
  }
  return { steps, scratch: [] };
}

/** C (+)= op(A)·op(B) (+ bias): one dispatch (small products) or packs + one per column tile. */
export async function planGemm(
  rt: Runtime,
  s: GemmShape,
  buf: GemmBuffers,
  opts: { accumulate?: boolean; packed?: boolean } = {},
): Promise<Planned> {
  const { m, n, k } = s;
  if (m <= 0 || n <= 0 || k <= 0) throw new RangeError(`gemm: empty shape ${m}×${k}·${k}×${n}`);
  let g: Strided = {
    m,
    n,
    k,
    aSm: s.transA ? 1 : k,
    aSk: s.transA ? m : 1,
    bSn: s.transB ? k : 1,
    bSk: s.transB ? 1 : n,
    cSm: n,
    cSn: 1,
  };
  // Invocations run along M (TM rows each, WG per workgroup) while a workgroup's TN columns are
  // shared. A skinny M (a batch of 16 against 1000 outputs) would idle most invocations, so then
  // compute Cᵀ = Bᵀ·Aᵀ instead: the same kernel with the roles (and strides) exchanged.
  const swap = m < 256 && n > m;
  if (swap) {
    g = {
      m: n,
      n: m,
      k,
      aSm: g.bSn,
      aSk: g.bSk,
      bSn: g.aSm,
      bSk: g.aSk,
      cSm: 1,
      cSn: n,
    };
  }
  const a = swap ? buf.b : buf.a;
  const b = swap ? buf.a : buf.b;
  // The packed kernel's uniform windows pay off on lavapipe only; on a GPU its one dispatch per
  // window × column tile is mostly launch overhead (policy.ts).
  const packed = opts.packed ?? rt.policy.gemmPacked;
  if (g.m >= PACKED_MIN_M && packed) {
    return planPacked(rt, g, a, b, buf, swap, !!opts.accumulate);
  }
  const tn = 16;
  const wg = 64;
  const ntiles = Math.ceil(g.n / tn);
  // Fewer rows per invocation so that more invocations have work: on lavapipe for small
  // products, on a GPU until 4 rows each would still meet the policy's invocation target.
  const tm = rt.policy.splitInvocations > 0
    ? (g.m / 4 * ntiles >= rt.policy.splitInvocations ? 4 : 1)
    : (g.m >= 4 * 64 ? 4 : 1);
  const groups = Math.ceil(g.m / (wg * tm)) * ntiles;
  const kernel = await rt.kernel("linear", buf.bias ? "gemm_bias" : "gemm", {
    WG: wg,
    TM: tm,
    TN: tn,
  });
  const params = rt.uniform(packParams([
    g.m,
    g.n,
    g.k,
    g.aSm,
    g.aSk,
    g.bSn,
    g.bSk,
    g.cSm,
    g.cSn,
    ntiles,
    groups,
    opts.accumulate ? 1 : 0,
    swap ? 1 : 0,
  ]));
  const bindings = [params, a, buf.c, b, ...(buf.bias ? [buf.bias] : [])];
  return { steps: [dispatchStep(rt, kernel, bindings, groups)], scratch: [] };
}

/** y[N, O] = x[N, I]·Wᵀ + b. */
export function planLinearForward(
  rt: Runtime,
  s: LinearShape,
  buf: { x: GPUBuffer; weight: GPUBuffer; bias?: GPUBuffer; y: GPUBuffer },
): Promise<Planned> {
  return planGemm(
    rt,
    { m: s.n, n: s.outFeatures, k: s.inFeatures, transB: true },
    { a: buf.x, b: buf.weight, c: buf.y, bias: buf.bias },
  );
}

export interface LinearBackwardOptions {
  /** dx += dy·W (the input also feeds another branch) instead of dx = dy·W. */
  accumulateDx?: boolean;
  /** dW += …, db += … (gradient accumulation over micro-batches). */
  accumulateGrads?: boolean;
}

/** dx = dy·W, dW = dyᵀ·x, db = Σ_rows dy; each output is optional (omit dx for a first layer). */
export async function planLinearBackward(
  rt: Runtime,
  s: LinearShape,
  buf: {
    dy: GPUBuffer;
    x: GPUBuffer;
    weight: GPUBuffer;
    dx?: GPUBuffer;
    dw?: GPUBuffer;
    db?: GPUBuffer;
  },
  opts: LinearBackwardOptions = {},
): Promise<Planned> {
  const { n, inFeatures: fi, outFeatures: fo } = s;
  const steps: Step[] = [];
  if (buf.dx) {
    const p = await planGemm(rt, { m: n, n: fi, k: fo }, { a: buf.dy, b: buf.weight, c: buf.dx }, {
      accumulate: opts.accumulateDx,
    });
    steps.push(...p.steps);
  }
  if (buf.dw) {
    const p = await planGemm(
      rt,
      { m: fo, n: fi, k: n, transA: true },
      { a: buf.dy, b: buf.x, c: buf.dw },
      { accumulate: opts.accumulateGrads },
    );
    steps.push(...p.steps);
  }
  if (buf.db) {
    const kernel = await rt.kernel("linear", "col_sum");
    const acc = opts.accumulateGrads ? 1 : 0;
    const params = rt.uniform(packParams([n, fo, 0, 0, 0, 0, 0, 0, 0, 0, 0, acc, 0]));
    steps.push(dispatchStep(rt, kernel, [params, buf.dy, buf.db], Math.ceil(fo / 64)));
  }
  return { steps, scratch: [] };
}
