/**
 * Predictor: every batch size up to maxBatch through its bucket, raw pixels normalized on the GPU,
 * probabilities and top-k, one submit per call, no planning after create, and every bad input
 * refused with an error that names it.
 *
 * Reference: the same model's eval plan at batch maxBatch fed the CPU-normalized batch. Buckets run
 * other batch sizes, whose kernels may split reductions differently; two f32 evaluations of this
 * 8-layer net differ by a few ulps per layer, far below 1e-5 of the logits' scale, while a
 * wrong row, bucket or normalization errs by O(1) of it.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Predictor } from "../../src/infer/predictor.ts";
import { buildStepPlan } from "../../src/scheduler/step_plan.ts";
import { normalizePixels, softmaxRows } from "../../src/reference/infer.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { DisposedError } from "../../src/util/disposed.ts";
import { loadRunningStats } from "../helpers/running_stats.ts";

const SHAPE = [3, 12, 10] as const, CLASSES = 5, MAX = 5;
const PER = SHAPE[0] * SHAPE[1] * SHAPE[2];
const MEAN = [0.4, 0.5, 0.6], STD = [0.2, 0.25, 0.3];

function setup(rt: Runtime): Model {
  const graph = buildModel("resnet8", { inputShape: [...SHAPE], classes: CLASSES });
  const model = Model.create(rt, graph, { seed: 3, preprocessing: { mean: MEAN, std: STD } });
  // Non-trivial running statistics, so eval mode is exercised.
  loadRunningStats(model, graph, 1);
  return model;
}

/** Eval logits of `x` (normalized, MAX images) from a plan at batch MAX. */
async function reference(model: Model, x: Float32Array): Promise<Float32Array> {
  const plan = await buildStepPlan(model, { batchSize: MAX, mode: "eval" });
  model.rt.write(plan.input, 0, x as Float32Array<ArrayBuffer>);
  model.rt.replay(plan.forward);
  const out = new Float32Array(await model.rt.read(plan.logits, MAX * CLASSES * 4));
  plan.dispose();
  return out;
}

function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, label: string) {
  assert.equal(got.length, want.length, `${label}: length`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Math.abs(got[i] - want[i]) <= 1e-5 * scale,
      `${label} [${i}]: ${got[i]} vs ${want[i]} (scale ${scale})`,
    );
  }
}

Deno.test({
  name: "predictor: logits of 1…maxBatch normalized images match a full-batch eval plan",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = setup(rt);
    const x = new Rng(1).normal(MAX * PER);
    const want = await reference(model, x);
    const predictor = await Predictor.create(model, { maxBatch: MAX });
    assert.deepEqual(predictor.bucketSizes, [1, 2, 4, 5]);
    const compiled = rt.counters.pipelinesCompiled;
    // Largest first, then smaller: stale rows from a larger call must not leak into a smaller one.
    for (const n of [5, 1, 3, 2, 4, 1]) {
      const submits = rt.counters.submits;
      const got = await predictor.logits(x.subarray(0, n * PER), n);
      assert.equal(rt.counters.submits - submits, 1, `n=${n}: one submit`);
      assertNear(got, want.subarray(0, n * CLASSES), `n=${n}`);
    }
    assert.equal(rt.counters.pipelinesCompiled, compiled, "no planning after create");
    predictor.dispose();
    model.dispose();
  },
});

Deno.test({
  name: "predictor: uint8 and [0, 1] float pixels, HWC and CHW, normalized with the model's stats",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = setup(rt);
    const rng = new Rng(2);
    const [c, h, w] = SHAPE;
    const s = { n: MAX, c, h, w };
    const hwc = Uint8Array.from({ length: MAX * PER }, () => rng.int(256));
    const want = await reference(
      model,
      Float32Array.from(normalizePixels(hwc, s, "hwc", 1 / 255, MEAN, STD)),
    );
    // The same images in CHW order, and both as [0, 1] floats.
    const chw = new Uint8Array(hwc.length);
    for (let i = 0; i < MAX; i++) {
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < h * w; p++) {
          chw[(i * c + ch) * h * w + p] = hwc[(i * h * w + p) * c + ch];
        }
      }
    }
    const asFloat = (b: Uint8Array) => Float32Array.from(b, (v) => v / 255);
    using predictor = await Predictor.create(model, { maxBatch: MAX, input: "pixels" });
    for (const n of [1, 3, 5]) {
      const k = n * PER, rows = n * CLASSES;
      assertNear(await predictor.logits(hwc.subarray(0, k), n), want.subarray(0, rows), `u8 hwc`);
      const submits = rt.counters.submits;
      assertNear(
        await predictor.logits(chw.subarray(0, k), n, { layout: "chw" }),
        want.subarray(0, rows),
        `u8 chw n=${n}`,
      );
      assert.equal(rt.counters.submits - submits, 1, "pixels: one submit");
      assertNear(
        await predictor.logits(asFloat(hwc.subarray(0, k)), n),
        want.subarray(0, rows),
        `f32 hwc n=${n}`,
      );
      assertNear(
        await predictor.logits(new Uint8ClampedArray(chw.subarray(0, k)), n, { layout: "chw" }),
        want.subarray(0, rows),
        `u8 clamped chw n=${n}`,
      );
    }
    // A later change of the model's normalization is applied by the next call.
    model.setPreprocessing({ mean: [0, 0, 0], std: [1, 1, 1] });
    const plain = await reference(model, asFloat(chw));
    assertNear(await predictor.logits(hwc, MAX), plain, "after setPreprocessing");
    model.dispose();
  },
});

Deno.test({
  name: "predictor: probabilities are the softmax of the logits, topK their order with labels",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = setup(rt);
    model.setPreprocessing({ classNames: ["a", "b", "c", "d", "e"] });
    using predictor = await Predictor.create(model, { maxBatch: 4 });
    const x = new Rng(4).normal(3 * PER);
    const logits = await predictor.logits(x, 3);
    const probs = await predictor.probabilities(x, 3);
    const want = softmaxRows(logits, CLASSES);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(probs[i] - want[i]) < 1e-6);
    const top = await predictor.topK(x, 3, 3);
    assert.equal(top.length, 3);
    for (let i = 0; i < 3; i++) {
      const row = Array.from(probs.subarray(i * CLASSES, (i + 1) * CLASSES));
      const order = row.map((p, k) => [p, k]).sort((a, b) => b[0] - a[0]).slice(0, 3);
      assert.deepEqual(top[i].map((t) => t.index), order.map(([, k]) => k));
      assert.deepEqual(top[i].map((t) => t.label), order.map(([, k]) => "abcde"[k]));
      assert.deepEqual(top[i].map((t) => t.probability), order.map(([p]) => p));
    }
    model.dispose();
  },
});

Deno.test({
  name: "predictor: bad input is refused with an error naming it, and nothing runs",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = setup(rt);
    using predictor = await Predictor.create(model, { maxBatch: 2 });
    const x = new Float32Array(2 * PER);
    const submits = rt.counters.submits;
    await assert.rejects(predictor.logits(x, 3), /3 images exceed this predictor's maxBatch of 2/);
    await assert.rejects(predictor.logits(x, 0), /n must be a positive integer, got 0/);
    await assert.rejects(predictor.logits(x, 1.5), /n must be a positive integer/);
    await assert.rejects(
      predictor.logits(x.subarray(1), 2),
      /719 values for 2 images of 3×12×10, expected 720 \(not a whole number/,
    );
    await assert.rejects(
      predictor.logits(x, 1),
      /720 values for 1 images .* \(it holds 2 images\)/,
    );
    await assert.rejects(
      predictor.logits(new Float64Array(PER) as unknown as Float32Array, 1),
      (e) => e instanceof TypeError && /must be a Float32Array.*got Float64Array/.test(e.message),
    );
    await assert.rejects(
      predictor.logits([0, 1] as unknown as Float32Array, 1),
      (e) => e instanceof TypeError && /got Array/.test(e.message),
    );
    await assert.rejects(
      predictor.logits(new Uint8Array(PER), 1),
      (e) =>
        e instanceof TypeError && /holds raw pixels; pass \{ input: "pixels" \}/.test(e.message),
    );
    const nan = new Float32Array(PER);
    nan[200] = NaN;
    await assert.rejects(
      predictor.logits(nan, 1),
      /image 0, value 200 is NaN; images must be finite/,
    );
    const inf = new Float32Array(2 * PER);
    inf[PER + 7] = -Infinity;
    await assert.rejects(predictor.probabilities(inf, 2), /image 1, value 7 is -Infinity/);
    const over = new Float32Array(PER).fill(0.5);
    over[3] = 255;
    await assert.rejects(
      predictor.logits(over, 1, { input: "pixels" }),
      /image 0, value 3 is 255; float pixels must be in \[0, 1\]/,
    );
    nan.fill(0.5)[9] = NaN;
    await assert.rejects(predictor.logits(nan, 1, { input: "pixels" }), /value 9 is NaN/);
    await assert.rejects(predictor.topK(x, 1, 6), /k must be an integer in 1…5/);
    await assert.rejects(predictor.topK(x, 1, 0), /k must be an integer in 1…5/);
    await assert.rejects(
      predictor.logits(x, 1, { layout: "nhwc" as "hwc" }),
      /layout must be "hwc" or "chw", got "nhwc"/,
    );
    assert.equal(rt.counters.submits, submits, "nothing was submitted");
    await assert.rejects(Predictor.create(model, { maxBatch: 0 }), /maxBatch must be a positive/);
    await assert.rejects(
      Predictor.create(model, { maxBatch: 4, buckets: [1, 2] }),
      /last bucket must be maxBatch \(4\)/,
    );
    await assert.rejects(
      Predictor.create(model, { maxBatch: 4, buckets: [2, 1, 4] }),
      /buckets must be ascending/,
    );
    model.dispose();
  },
});

Deno.test({
  name: "predictor: used after its own, its model's or its runtime's dispose, it says so",
  ...GPU_TEST,
  async fn() {
    const shared = await runtime();
    const model = setup(shared);
    const x = new Float32Array(PER);
    const p1 = await Predictor.create(model);
    p1.dispose();
    p1.dispose(); // idempotent
    await assert.rejects(
      p1.logits(x, 1),
      (e) =>
        e instanceof DisposedError &&
        /Predictor.logits: this predictor was disposed/.test(e.message),
    );
    const p2 = await Predictor.create(model);
    model.dispose();
    assert.ok(p2.disposed);
    await assert.rejects(
      p2.topK(x, 1, 1),
      (e) =>
        e instanceof DisposedError && /Predictor.topK: model model was disposed/.test(e.message),
    );
    p2.dispose();
    await assert.rejects(
      Predictor.create(model),
      (e) => e instanceof DisposedError && /Predictor.create/.test(e.message),
    );

    const rt = await Runtime.create();
    const m = setup(rt);
    const p3 = await Predictor.create(m, { maxBatch: 2 });
    rt.dispose();
    await assert.rejects(
      p3.probabilities(x, 1),
      (e) => e instanceof DisposedError && /its runtime was disposed/.test(e.message),
    );
    p3.dispose();
  },
});
