/**
 * Linear layers (PyTorch layout: x [N, I], W [O, I], y = x·Wᵀ + b) as one strided GEMM kernel
 * (shaders/linear.wgsl): the backward products read their transposed operands through strides
 * instead of materializing transposes.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Planned, type Step } from "./plan.ts";

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

/** C (+)= op(A)·op(B) (+ bias): one dispatch. */
export async function planGemm(
  rt: Runtime,
  s: GemmShape,
  buf: GemmBuffers,
  opts: { accumulate?: boolean } = {},
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
  // Small products: fewer rows per invocation so that more invocations have work.
  const tm = g.m >= 4 * 64 ? 4 : 1;
  const tn = 16;
  const wg = 64;
  const ntiles = Math.ceil(g.n / tn);
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
