import { assertClose } from "../helpers/close.ts";
import {
  adamWInitState,
  adamWStep,
  clipGradNorm,
  l2Norm,
  sgdDecoupledStep,
  sgdInitState,
  sgdStep,
} from "../../src/reference/mod.ts";

const EXACT = { rtol: 1e-14, atol: 1e-15 };

Deno.test("SGD with momentum: first step buffer is the gradient, then mu*buf + (1-damp)*g", () => {
  const p = Float64Array.of(1, -2);
  const st = sgdInitState();
  const opts = { lr: 0.1, momentum: 0.9, dampening: 0.5 };
  sgdStep(p, [1, 2], st, opts);
  // Dampening is not applied on the first step (PyTorch clones the gradient).
  assertClose(st.momentumBuffer!, [1, 2], { ...EXACT, label: "buf 1" });
  assertClose(p, [0.9, -2.2], { ...EXACT, label: "p 1" });
  sgdStep(p, [3, -1], st, opts);
  assertClose(st.momentumBuffer!, [0.9 + 1.5, 1.8 - 0.5], { ...EXACT, label: "buf 2" });
  assertClose(p, [0.9 - 0.24, -2.2 - 0.13], { ...EXACT, label: "p 2" });
});

Deno.test("SGD nesterov with coupled weight decay", () => {
  const p = Float64Array.of(2);
  const st = sgdInitState();
  const opts = { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 };
  sgdStep(p, [1], st, opts);
  // d = 1 + 0.02 = 1.02; buf = 1.02; step = d + 0.9*buf = 1.938.
  assertClose(p, [2 - 0.1938], { ...EXACT, label: "p 1" });
  sgdStep(p, [-0.5], st, opts);
  const d2 = -0.5 + 0.01 * (2 - 0.1938);
  const buf2 = 0.9 * 1.02 + d2;
  assertClose(st.momentumBuffer!, [buf2], { ...EXACT, label: "buf 2" });
  assertClose(p, [2 - 0.1938 - 0.1 * (d2 + 0.9 * buf2)], { ...EXACT, label: "p 2" });
});

Deno.test("SGD without momentum keeps no buffer", () => {
  const p = Float64Array.of(1);
  const st = sgdInitState();
  sgdStep(p, [2], st, { lr: 0.5 });
  assertClose(p, [0], EXACT);
  if (st.momentumBuffer !== null) throw new Error("buffer should stay null");
});

Deno.test("decoupled SGD: decay applied to the weight, not to the momentum buffer", () => {
  const p = Float64Array.of(2);
  const st = sgdInitState();
  sgdDecoupledStep(p, [1], st, { lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
  // p = 2·(1 − 0.05) = 1.9; buf = 1; p −= 0.1.
  assertClose(st.momentumBuffer!, [1], { ...EXACT, label: "buf" });
  assertClose(p, [1.8], { ...EXACT, label: "p" });
});

Deno.test("AdamW: three steps against a hand-rolled recurrence", () => {
  const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  const grads = [[0.5, -1], [0.25, 2], [-1, 0.1]];
  const p = Float64Array.of(1, 2);
  const st = adamWInitState(2);
  const q = [1, 2];
  const m = [0, 0];
  const v = [0, 0];
  for (let t = 1; t <= 3; t++) {
    adamWStep(p, grads[t - 1], st, { lr, beta1: b1, beta2: b2, eps, weightDecay: wd });
    for (let i = 0; i < 2; i++) {
      const g = grads[t - 1][i];
      q[i] -= lr * wd * q[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mhat = m[i] / (1 - b1 ** t);
      const vhat = v[i] / (1 - b2 ** t);
      // PyTorch puts eps outside sqrt(v)/sqrt(bc2), which equals sqrt(vhat) + eps.
      q[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
    }
    assertClose(p, q, { rtol: 1e-12, label: `p step ${t}` });
  }
  assertClose([st.step], [3], { label: "step count" });
});

Deno.test("clip_grad_norm: scales only when the global norm exceeds max_norm", () => {
  const a = Float64Array.of(3, 0);
  const b = Float64Array.of(0, 4);
  assertClose([l2Norm(a), l2Norm(b)], [3, 4], EXACT);
  const r = clipGradNorm([a, b], 1);
  const scale = 1 / (5 + 1e-6);
  assertClose([r.totalNorm, r.scale], [5, scale], { ...EXACT, label: "norm/scale" });
  assertClose(a, [3 * scale, 0], { ...EXACT, label: "a clipped" });
  assertClose(b, [0, 4 * scale], { ...EXACT, label: "b clipped" });
  const c = Float64Array.of(0.3, 0.4);
  const r2 = clipGradNorm([c], 1);
  assertClose([r2.totalNorm, r2.scale], [0.5, 1], { ...EXACT, label: "unclipped" });
  assertClose(c, [0.3, 0.4], { ...EXACT, label: "c untouched" });
});
