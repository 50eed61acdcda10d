/**
 * The CPU reference against PyTorch (tests/fixtures/golden.json, float64). Both sides compute in
 * f64, so differences are summation-order round-off: rtol 1e-9 with a small atol for values that
 * cancel to ~0 (BN's dx, gradients through ReLU) is tight enough to catch any semantic slip.
 */
import { assertClose } from "../helpers/close.ts";
import {
  formula,
  type FormulaSpec,
  type GoldenCase,
  goldenCase,
  goldenInput,
  goldenOutput,
  loadGolden,
} from "../helpers/golden.ts";
import {
  adamWInitState,
  adamWStep,
  adaptiveAvgPool2dBackward,
  adaptiveAvgPool2dForward,
  type AdaptivePoolShape,
  addReluBackward,
  addReluForward,
  avgPool2dBackward,
  avgPool2dForward,
  batchNormBackward,
  batchNormEvalForward,
  batchNormInitRunning,
  type BatchNormRunning,
  batchNormTrainForward,
  clipGradNorm,
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dShape,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  linearBackward,
  linearForward,
  type LinearShape,
  maxPool2dBackward,
  maxPool2dForward,
  type Pool2dShape,
  reluBackward,
  reluForward,
  sgdInitState,
  sgdStep,
  softmaxCrossEntropy,
} from "../../src/reference/mod.ts";

const TOL = { rtol: 1e-9, atol: 1e-12 };

function check(c: GoldenCase, name: string, actual: ArrayLike<number>, label: string): void {
  assertClose(actual, goldenOutput(c, name), { ...TOL, label: `${label} ${name}` });
}

Deno.test("golden fixture metadata", () => {
  const g = loadGolden();
  assertClose([g.meta.dtype === "float64" ? 1 : 0], [1], { label: "dtype is float64" });
});

for (
  const name of ["conv3x3_s1_p1", "conv3x3_s2_p1", "conv1x1_s1", "conv1x1_s2", "conv7x7_s2_p3"]
) {
  Deno.test(`golden ${name}`, () => {
    const c = goldenCase(name);
    const s = c.shape as unknown as Conv2dShape;
    const x = goldenInput(c, "x");
    const w = goldenInput(c, "w");
    const g = goldenInput(c, "g");
    check(c, "y", conv2dForward(x, w, goldenInput(c, "b"), s).y, name);
    check(c, "dx", conv2dBackwardData(g, w, s), name);
    const { dw, db } = conv2dBackwardWeight(x, g, s);
    check(c, "dw", dw, name);
    check(c, "db", db, name);
  });
}

Deno.test("golden batchnorm train (two steps) and eval", () => {
  const c = goldenCase("batchnorm_train");
  const s = c.shape as { n: number; c: number; h: number; w: number };
  const [x1, x2, gamma, beta, g] = ["x1", "x2", "gamma", "beta", "g"].map((k) => goldenInput(c, k));
  const running = batchNormInitRunning(s.c);
  const f1 = batchNormTrainForward(x1, gamma, beta, running, s);
  check(c, "y1", f1.y, "bn");
  check(c, "mean1", f1.mean, "bn");
  check(c, "invstd1", f1.invstd, "bn");
  check(c, "running_mean1", running.mean, "bn");
  check(c, "running_var1", running.var, "bn");
  const b = batchNormBackward(g, x1, gamma, f1.mean, f1.invstd, s);
  check(c, "dx", b.dx, "bn");
  check(c, "dgamma", b.dgamma, "bn");
  check(c, "dbeta", b.dbeta, "bn");
  check(c, "y2", batchNormTrainForward(x2, gamma, beta, running, s).y, "bn");
  check(c, "running_mean2", running.mean, "bn");
  check(c, "running_var2", running.var, "bn");
  check(c, "y_eval", batchNormEvalForward(x1, gamma, beta, running, s), "bn");
});

for (const name of ["maxpool3x3_s2_p1", "maxpool2x2_s2"]) {
  Deno.test(`golden ${name}`, () => {
    const c = goldenCase(name);
    const s = c.shape as unknown as Pool2dShape;
    const f = maxPool2dForward(goldenInput(c, "x"), s);
    check(c, "y", f.y, name);
    check(c, "dx", maxPool2dBackward(goldenInput(c, "g"), f.argmax, s), name);
  });
}

for (const name of ["avgpool3x3_s2_p1", "avgpool2x2_s2"]) {
  Deno.test(`golden ${name}`, () => {
    const c = goldenCase(name);
    const s = c.shape as unknown as Pool2dShape;
    check(c, "y", avgPool2dForward(goldenInput(c, "x"), s).y, name);
    check(c, "dx", avgPool2dBackward(goldenInput(c, "g"), s), name);
  });
}

Deno.test("golden global avg pool", () => {
  const c = goldenCase("global_avgpool");
  const s = c.shape as unknown as AdaptivePoolShape;
  check(c, "y", globalAvgPoolForward(goldenInput(c, "x"), s), "gap");
  check(c, "dx", globalAvgPoolBackward(goldenInput(c, "g"), s), "gap");
});

Deno.test("golden adaptive avg pool 7x5 → 3x2", () => {
  const c = goldenCase("adaptive_avgpool_7x5_to_3x2");
  const s = c.shape as unknown as AdaptivePoolShape;
  check(c, "y", adaptiveAvgPool2dForward(goldenInput(c, "x"), s), "adaptive");
  check(c, "dx", adaptiveAvgPool2dBackward(goldenInput(c, "g"), s), "adaptive");
});

Deno.test("golden linear", () => {
  const c = goldenCase("linear");
  const s = c.shape as unknown as LinearShape;
  const x = goldenInput(c, "x");
  const w = goldenInput(c, "w");
  check(c, "y", linearForward(x, w, goldenInput(c, "b"), s), "linear");
  const b = linearBackward(goldenInput(c, "g"), x, w, s);
  check(c, "dx", b.dx, "linear");
  check(c, "dw", b.dw, "linear");
  check(c, "db", b.db, "linear");
});

Deno.test("golden softmax cross-entropy", () => {
  const c = goldenCase("softmax_ce");
  const r = softmaxCrossEntropy(
    goldenInput(c, "logits"),
    c.labels!,
    c.shape as {
      n: number;
      classes: number;
    },
  );
  assertClose([r.loss], [c.outputs.loss as number], { ...TOL, label: "ce loss" });
  check(c, "probs", r.probs, "ce");
  check(c, "dlogits", r.dlogits, "ce");
  assertClose([r.correct], [c.outputs.correct as number], { rtol: 0, atol: 0, label: "correct" });
});

/** Runs three optimizer steps with the fixture's gradients and compares every intermediate. */
function checkOptimizer(name: string, step: (p: Float64Array, g: Float64Array) => void): void {
  const c = goldenCase(name);
  const p = goldenInput(c, "p");
  const grads = (c.inputs.grads as FormulaSpec[]).map(formula);
  const params = c.outputs.params as number[][];
  grads.forEach((g, t) => {
    step(p, g);
    assertClose(p, params[t], { ...TOL, label: `${name} params after step ${t + 1}` });
  });
}

Deno.test("golden SGD momentum + nesterov + weight decay, 3 steps", () => {
  const o = goldenCase("sgd_nesterov").options as Record<string, number | boolean>;
  const st = sgdInitState();
  const opts = {
    lr: o.lr as number,
    momentum: o.momentum as number,
    dampening: o.dampening as number,
    nesterov: o.nesterov as boolean,
    weightDecay: o.weight_decay as number,
  };
  checkOptimizer("sgd_nesterov", (p, g) => sgdStep(p, g, st, opts));
});

Deno.test("golden AdamW, 3 steps", () => {
  const c = goldenCase("adamw");
  const o = c.options as { lr: number; betas: number[]; eps: number; weight_decay: number };
  const st = adamWInitState(goldenInput(c, "p").length);
  const opts = {
    lr: o.lr,
    beta1: o.betas[0],
    beta2: o.betas[1],
    eps: o.eps,
    weightDecay: o.weight_decay,
  };
  checkOptimizer("adamw", (p, g) => adamWStep(p, g, st, opts));
});

Deno.test("golden clip_grad_norm", () => {
  const c = goldenCase("clip_grad_norm");
  const grads = (c.inputs.grads as FormulaSpec[]).map(formula);
  const r = clipGradNorm(grads, (c.options as { max_norm: number }).max_norm);
  assertClose([r.totalNorm], [c.outputs.total_norm as number], { ...TOL, label: "total norm" });
  const expected = c.outputs.grads as number[][];
  grads.forEach((g, i) => assertClose(g, expected[i], { ...TOL, label: `clipped grad ${i}` }));
});

// ---- Whole residual blocks, composed from reference ops (training-mode BN). ----

interface LayerGrads {
  weight?: Float64Array;
  gamma?: Float64Array;
  beta?: Float64Array;
}

/** conv (no bias) → BN(train); returns the output and a backward closure. */
function convBn(
  c: GoldenCase,
  conv: string,
  bn: string,
  x: Float64Array,
  s: Conv2dShape,
  grads: Record<string, LayerGrads>,
  running: Record<string, BatchNormRunning>,
) {
  const params = c.inputs.params as Record<string, Record<string, FormulaSpec>>;
  const w = formula(params[conv].weight);
  const gamma = formula(params[bn].gamma);
  const beta = formula(params[bn].beta);
  const f = conv2dForward(x, w, null, s);
  const bs = { n: s.n, c: s.k, h: f.oh, w: f.ow };
  running[bn] = batchNormInitRunning(s.k);
  const b = batchNormTrainForward(f.y, gamma, beta, running[bn], bs);
  const backward = (dy: Float64Array): Float64Array => {
    const db = batchNormBackward(dy, f.y, gamma, b.mean, b.invstd, bs);
    grads[bn] = { gamma: db.dgamma, beta: db.dbeta };
    grads[conv] = { weight: conv2dBackwardWeight(x, db.dx, s).dw };
    return conv2dBackwardData(db.dx, w, s);
  };
  return { y: b.y, oh: f.oh, ow: f.ow, backward };
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]);
}

function checkBlock(
  c: GoldenCase,
  out: Float64Array,
  dx: Float64Array,
  grads: Record<string, LayerGrads>,
  running: Record<string, BatchNormRunning>,
  label: string,
): void {
  const o = c.outputs;
  check(c, "out", out, label);
  const g = goldenInput(c, "g");
  assertClose([out.reduce((s, v, i) => s + v * g[i], 0)], [o.loss as number], {
    ...TOL,
    label: `${label} loss`,
  });
  check(c, "dx", dx, label);
  const expected = o.grads as Record<string, Record<string, number[]>>;
  for (const [layer, e] of Object.entries(expected)) {
    for (const [k, v] of Object.entries(e)) {
      const actual = grads[layer]?.[k as keyof LayerGrads];
      if (!actual) throw new Error(`${label}: no gradient for ${layer}.${k}`);
      assertClose(actual, v, { ...TOL, label: `${label} ${layer}.${k}` });
    }
  }
  const eRun = o.running as Record<string, { mean: number[]; var: number[] }>;
  for (const [layer, e] of Object.entries(eRun)) {
    assertClose(running[layer].mean, e.mean, { ...TOL, label: `${label} ${layer}.running_mean` });
    assertClose(running[layer].var, e.var, { ...TOL, label: `${label} ${layer}.running_var` });
  }
}

Deno.test("golden basic block: conv3x3-bn-relu-conv3x3-bn + identity, relu", () => {
  const c = goldenCase("basic_block");
  const x = goldenInput(c, "x");
  const [n, ch, h, w] = (c.inputs.x as FormulaSpec).shape;
  const s = { n, c: ch, h, w, k: ch, kh: 3, kw: 3, stride: 1, padding: 1 };
  const grads: Record<string, LayerGrads> = {};
  const running: Record<string, BatchNormRunning> = {};
  const l1 = convBn(c, "conv1", "bn1", x, s, grads, running);
  const r1 = reluForward(l1.y);
  const l2 = convBn(c, "conv2", "bn2", r1, s, grads, running);
  const out = addReluForward(l2.y, x);

  const d = addReluBackward(goldenInput(c, "g"), out);
  const dr1 = l2.backward(d);
  const dx = add(l1.backward(reluBackward(dr1, r1)), d);
  checkBlock(c, out, dx, grads, running, "basic");
});

Deno.test("golden bottleneck block with projection shortcut (stride 2)", () => {
  const c = goldenCase("bottleneck_block");
  const x = goldenInput(c, "x");
  const [n, cin, h, w] = (c.inputs.x as FormulaSpec).shape;
  const params = c.inputs.params as Record<string, Record<string, FormulaSpec>>;
  const planes = params.conv1.weight.shape[0];
  const cout = params.conv3.weight.shape[0];
  const grads: Record<string, LayerGrads> = {};
  const running: Record<string, BatchNormRunning> = {};
  const conv = (c: number, h: number, w: number, k: number, ks: number, stride: number) => ({
    n,
    c,
    h,
    w,
    k,
    kh: ks,
    kw: ks,
    stride,
    padding: (ks - 1) / 2,
  });
  const l1 = convBn(c, "conv1", "bn1", x, conv(cin, h, w, planes, 1, 1), grads, running);
  const r1 = reluForward(l1.y);
  const s2 = conv(planes, l1.oh, l1.ow, planes, 3, 2);
  const l2 = convBn(c, "conv2", "bn2", r1, s2, grads, running);
  const r2 = reluForward(l2.y);
  const l3 = convBn(c, "conv3", "bn3", r2, conv(planes, l2.oh, l2.ow, cout, 1, 1), grads, running);
  const sc = convBn(c, "down_conv", "down_bn", x, conv(cin, h, w, cout, 1, 2), grads, running);
  const out = addReluForward(l3.y, sc.y);
  assertClose([n, cout, l3.oh, l3.ow], c.outputs.out_shape as number[], { label: "out shape" });

  const d = addReluBackward(goldenInput(c, "g"), out);
  const dr2 = l3.backward(d);
  const dr1 = l2.backward(reluBackward(dr2, r2));
  const dx = add(l1.backward(reluBackward(dr1, r1)), sc.backward(d));
  checkBlock(c, out, dx, grads, running, "bottleneck");
});
