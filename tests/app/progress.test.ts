import assert from "node:assert/strict";
import { ema, formatDuration, formatProgress, ProgressReporter } from "../../src/app/progress.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);

Deno.test("progress: ETA formatting and EMA", () => {
  assert.equal(formatDuration(0), "0:00:00");
  assert.equal(formatDuration(59.4), "0:00:59");
  assert.equal(formatDuration(61), "0:01:01");
  assert.equal(formatDuration(3600 + 5 * 60 + 7), "1:05:07");
  assert.equal(formatDuration(100 * 3600), "100:00:00");
  assert.equal(formatDuration(-3), "0:00:00");
  assert.equal(formatDuration(NaN), "--:--:--");
  assert.equal(formatDuration(Infinity), "--:--:--");
  assert.equal(ema(undefined, 10, 0.1), 10);
  close(ema(10, 20, 0.1), 11);
  close(ema(10, 20, 1), 20);
});

Deno.test("progress: line formatting", () => {
  const line = formatProgress({
    epoch: 3,
    epochs: 160,
    step: 1200,
    totalSteps: 62560,
    loss: 1.23456,
    accuracy: 0.5623,
    imagesPerSec: 12345.6,
    etaSec: 754,
  });
  assert.equal(
    line,
    "epoch   3/160  step  1200/62560  loss 1.2346  acc  56.2%  12,346 img/s  ETA 0:12:34",
  );
  assert.match(
    formatProgress({ epoch: 1, epochs: 1, step: 1, totalSteps: 1, loss: NaN, accuracy: 0 }),
    / {2}- img\/s {2}ETA --:--:--$/,
  );
});

Deno.test("progress: non-TTY prints plain lines every N steps and the last step", () => {
  const out: string[] = [];
  let t = 0;
  const r = new ProgressReporter({
    epochs: 2,
    totalSteps: 10,
    tty: false,
    every: 4,
    sink: (s) => out.push(s),
    now: () => t,
  });
  for (let step = 1; step <= 10; step++) {
    t += 500; // 0.5 s per step of 64 images
    r.update({ epoch: step <= 5 ? 1 : 2, step, loss: 1 / step, accuracy: step / 10, images: 64 });
  }
  r.log("epoch 2: val acc 91.0%");
  r.finish();
  assert.equal(out.length, 4);
  assert.ok(out.every((s) => s.endsWith("\n") && !s.includes("\r")));
  assert.equal(
    out[0],
    "epoch 1/2  step  4/10  loss 0.2500  acc  40.0%  128 img/s  ETA 0:00:03\n",
  );
  assert.ok(out[1].includes("step  8/10") && out[1].endsWith("ETA 0:00:01\n"));
  assert.ok(out[2].includes("step 10/10") && out[2].endsWith("ETA 0:00:00\n"));
  assert.equal(out[3], "epoch 2: val acc 91.0%\n");
});

Deno.test("progress: TTY rewrites one line, throttles, and keeps log lines", () => {
  const out: string[] = [];
  let t = 0;
  const r = new ProgressReporter({
    epochs: 1,
    totalSteps: 5,
    tty: true,
    minRedrawMs: 100,
    sink: (s) => out.push(s),
    now: () => t,
  });
  for (let step = 1; step <= 5; step++) {
    t += 60;
    r.update({ epoch: 1, step, loss: 0.5, accuracy: 0.5, images: 32 });
    if (step === 3) r.log("checkpoint saved");
  }
  r.finish();
  // 60ms: draw; 120: throttled; 180: draw, then the log line; 240: redraw (the log erased the
  // live line); 300: throttled but it is the last step, so drawn.
  const draws = out.filter((s) => s.startsWith("\r") && !s.includes("checkpoint"));
  assert.ok(draws.every((s) => !s.includes("\n") && s.endsWith("\x1b[K")));
  assert.deepEqual(draws.map((s) => /step (\d)/.exec(s)![1]), ["1", "3", "4", "5"]);
  assert.ok(out.includes("\r\x1b[Kcheckpoint saved\n"));
  assert.equal(out[out.length - 1], "\n");
});

Deno.test("progress: off a terminal a line at least every 30 s, also between metric reads", () => {
  const out: string[] = [];
  let t = 0;
  const r = new ProgressReporter({
    epochs: 1,
    totalSteps: 1000,
    tty: false,
    every: 100,
    sink: (s) => out.push(s),
    now: () => t,
  });
  // 7 s per step: before any metrics are read, the heartbeat alone prints (steps 5, 10, …).
  for (let step = 1; step <= 12; step++) {
    t += 7000;
    r.tick(step);
  }
  assert.equal(out.length, 2);
  assert.match(out[0], /step {4}5\/1000 {2}loss NaN {2}acc {5}-%/);
  assert.match(out[1], /step {3}10\/1000/);
  // A metrics read 31 s after the last line prints though 13 is no multiple of `every`…
  t += 17000;
  r.update({ epoch: 1, step: 13, loss: 0.5, accuracy: 0.8, images: 64 });
  assert.equal(out.length, 3);
  assert.match(out[2], /step {3}13\/1000 {2}loss 0\.5000 {2}acc {2}80\.0%/);
  // …and resets the clock: ticks within 30 s of it stay quiet, the next one after prints.
  t += 29000;
  r.tick(14);
  assert.equal(out.length, 3);
  t += 2000;
  r.tick(15);
  assert.equal(out.length, 4);
  assert.match(out[3], /step {3}15\/1000 {2}loss 0\.5000/);
  assert.ok(out.every((s) => s.endsWith("\n") && !s.includes("\r")));
});

Deno.test("progress: a terminal's live line does not get heartbeat lines", () => {
  const out: string[] = [];
  let t = 0;
  const r = new ProgressReporter({
    epochs: 1,
    totalSteps: 10,
    tty: true,
    sink: (s) => out.push(s),
    now: () => t,
  });
  t += 60_000;
  r.tick(1);
  assert.deepEqual(out, []);
});
