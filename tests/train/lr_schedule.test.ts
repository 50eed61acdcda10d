import assert from "node:assert/strict";
import {
  cosineFactor,
  makeSchedule,
  milestoneSteps,
  warmupFactor,
} from "../../src/train/lr_schedule.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);

Deno.test("lr step: paper milestones at 32k/48k of 64k, ×0.1 each", () => {
  const f = makeSchedule({ kind: "step", lr: 0.1, totalSteps: 64000, stepsPerEpoch: 391 });
  assert.deepEqual(milestoneSteps(391, 64000), [32000, 48000]);
  close(f(0), 0.1);
  close(f(31999), 0.1);
  close(f(32000), 0.01);
  close(f(47999), 0.01);
  close(f(48000), 0.001);
  close(f(63999), 0.001);
});

Deno.test("lr step: explicit epoch milestones and gamma", () => {
  const f = makeSchedule({
    kind: "step",
    lr: 1,
    totalSteps: 1000,
    stepsPerEpoch: 10,
    milestones: [20, 50.5],
    gamma: 0.5,
  });
  assert.equal(f(199), 1);
  assert.equal(f(200), 0.5);
  assert.equal(f(504), 0.5);
  assert.equal(f(505), 0.25); // fractional epoch milestone: round(50.5 * 10)
});

Deno.test("lr warmup: starts at lr*0.1 (or 0), reaches lr at warmupSteps", () => {
  const f = makeSchedule({
    kind: "step",
    lr: 0.1,
    totalSteps: 64000,
    stepsPerEpoch: 391,
    warmupSteps: 400,
  });
  close(f(0), 0.01);
  close(f(200), 0.055);
  close(f(400), 0.1);
  assert.ok(f(1) > f(0) && f(399) < f(400));
  const z = makeSchedule({
    kind: "constant",
    lr: 2,
    totalSteps: 100,
    stepsPerEpoch: 10,
    warmupSteps: 10,
    warmupFrom: 0,
  });
  assert.equal(z(0), 0);
  close(z(5), 1);
  assert.equal(z(10), 2);
  assert.equal(z(99), 2);
  assert.equal(warmupFactor(7, 0), 1);
});

Deno.test("lr cosine: lr at the start (after warmup), lr/2 at the midpoint, 0 at the end", () => {
  const f = makeSchedule({ kind: "cosine", lr: 0.4, totalSteps: 1000, stepsPerEpoch: 10 });
  close(f(0), 0.4);
  close(f(500), 0.2);
  assert.equal(f(1000), 0);
  assert.equal(f(5000), 0);
  assert.ok(f(999) > 0 && f(999) < 1e-5);
  for (let s = 1; s <= 1000; s++) assert.ok(f(s) <= f(s - 1));
  const w = makeSchedule({
    kind: "cosine",
    lr: 0.4,
    totalSteps: 1100,
    stepsPerEpoch: 10,
    warmupSteps: 100,
  });
  close(w(0), 0.04);
  close(w(100), 0.4);
  close(w(600), 0.2);
  assert.equal(w(1100), 0);
  assert.equal(cosineFactor(10, 10), 0);
});

Deno.test("lr: invalid options and steps throw", () => {
  const base = { kind: "step" as const, lr: 0.1, totalSteps: 100, stepsPerEpoch: 10 };
  assert.throws(() => makeSchedule({ ...base, lr: NaN }), /lr must be/);
  assert.throws(() => makeSchedule({ ...base, totalSteps: 0 }), /totalSteps/);
  assert.throws(() => makeSchedule({ ...base, warmupSteps: 100 }), /warmupSteps/);
  assert.throws(() => makeSchedule({ ...base, milestones: [5, 3] }), /ascending/);
  assert.throws(() => makeSchedule({ ...base, gamma: 0 }), /gamma/);
  assert.throws(() => makeSchedule(base)(-1), /step must be/);
  assert.throws(() => makeSchedule(base)(1.5), /step must be/);
});
