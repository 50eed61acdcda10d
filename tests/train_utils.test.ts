import assert from "node:assert/strict";
import {
  cosineFactor,
  makeSchedule,
  milestoneSteps,
  warmupFactor,
} from "../src/train/lr_schedule.ts";
import { ArgsError, defineFlags, formatHelp, HelpRequested, parseArgs } from "../src/train/args.ts";
import { ema, formatDuration, formatProgress, ProgressReporter } from "../src/train/progress.ts";
import {
  encodeRecord,
  MetricsLog,
  metricsPath,
  parseMetrics,
  readMetrics,
} from "../src/train/metrics_log.ts";
import {
  escapeXml,
  layerNormChart,
  lineChart,
  logTicks,
  niceTicks,
  PALETTE,
  studyStyle,
} from "../src/train/plots.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);

// ---------------------------------------------------------------- lr schedules

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

// ---------------------------------------------------------------- args

const spec = defineFlags({
  model: {
    type: "enum",
    values: ["resnet20", "plain20", "resnet56"],
    default: "resnet20",
    help: "Model",
  },
  lr: { type: "number", default: 0.1, help: "Peak learning rate" },
  epochs: { type: "int", default: 160, min: 1, help: "Epochs" },
  name: { type: "string", help: "Run name", required: true },
  tag: { type: "string", help: "Optional tag" },
  augment: { type: "boolean", default: true, help: "Random crop + flip" },
  dryRun: { type: "boolean", help: "Build only" },
  shuffle: { type: "boolean", optional: true, help: "Shuffle (unset: per data set)" },
});

const errorOf = (argv: string[]): string => {
  try {
    parseArgs(spec, argv);
  } catch (e) {
    assert.ok(e instanceof ArgsError, `expected ArgsError, got ${e}`);
    return e.message;
  }
  assert.fail(`no error for ${argv.join(" ")}`);
};

Deno.test("args: defaults, both value forms, booleans, typed result", () => {
  const a = parseArgs(spec, ["--name", "r1"]);
  assert.deepEqual(a, {
    model: "resnet20",
    lr: 0.1,
    epochs: 160,
    name: "r1",
    tag: undefined,
    augment: true,
    dryRun: false,
    shuffle: undefined,
  });
  const b = parseArgs(spec, [
    "--name=r2",
    "--model",
    "plain20",
    "--lr=1e-3",
    "--epochs",
    "3",
    "--no-augment",
    "--dry-run",
    "--tag",
    "-x",
  ]);
  assert.equal(b.model, "plain20");
  assert.equal(b.lr, 0.001);
  assert.equal(b.epochs, 3);
  assert.equal(b.augment, false);
  assert.equal(b.dryRun, true);
  assert.equal(b.tag, "-x"); // single-dash values are values, not flags
  assert.equal(parseArgs(spec, ["--name", "x", "--augment=false"]).augment, false);
  // An optional boolean tells "absent" apart from both values.
  assert.equal(parseArgs(spec, ["--name", "x", "--shuffle"]).shuffle, true);
  assert.equal(parseArgs(spec, ["--name", "x", "--no-shuffle"]).shuffle, false);
  assert.equal(parseArgs(spec, ["--name", "x", "--shuffle=0"]).shuffle, false);
  // Type-level checks: these assignments must compile.
  const m: "resnet20" | "plain20" | "resnet56" = b.model;
  const n: string = b.name;
  const t: string | undefined = b.tag;
  const e: number = b.epochs;
  const s: boolean | undefined = b.shuffle;
  assert.ok(m && n && e && t && s === undefined);
});

Deno.test("args: every error kind names the flag", () => {
  assert.match(errorOf(["--name", "x", "--lrr", "1"]), /unknown flag --lrr; did you mean --lr\?/);
  assert.match(errorOf(["--name", "x", "--bogus"]), /^unknown flag --bogus \(see --help\)$/);
  assert.match(errorOf(["--name"]), /--name: missing value/);
  assert.match(errorOf(["--name", "x", "--lr", "--epochs", "2"]), /--lr: missing value/);
  assert.match(errorOf(["--name", "x", "--lr", "fast"]), /--lr: expected a number, got "fast"/);
  assert.match(errorOf(["--name", "x", "--lr", ""]), /--lr: expected a number/);
  assert.match(errorOf(["--name", "x", "--epochs", "2.5"]), /--epochs: expected an integer/);
  assert.match(errorOf(["--name", "x", "--epochs", "0"]), /--epochs: must be >= 1/);
  assert.match(
    errorOf(["--name", "x", "--model", "vgg"]),
    /--model: invalid value "vgg"; allowed values: resnet20, plain20, resnet56/,
  );
  assert.match(errorOf([]), /--name is required/);
  assert.match(errorOf(["--name", "x", "--augment=maybe"]), /--augment: expected true or false/);
  assert.match(errorOf(["--name", "x", "--no-augment=1"]), /--no-augment takes no value/);
  assert.match(errorOf(["--name", "x", "--no-lr"]), /unknown flag --no-lr/);
  assert.match(errorOf(["--name", "x", "extra"]), /unexpected argument "extra"/);
});

Deno.test("args: --help lists every flag with its default", () => {
  let help = "";
  try {
    parseArgs(spec, ["--lr", "oops", "--help"].slice(2), "usage: train [flags]");
  } catch (e) {
    assert.ok(e instanceof HelpRequested);
    help = e.text;
  }
  assert.equal(help, formatHelp(spec, "usage: train [flags]"));
  assert.match(help, /^usage: train \[flags\]/);
  assert.match(help, /--model <resnet20\|plain20\|resnet56>\s+Model \(default: "resnet20"\)/);
  assert.match(help, /--lr <number>\s+Peak learning rate \(default: 0\.1\)/);
  assert.match(help, /--epochs <int>\s+Epochs \(default: 160\)/);
  assert.match(help, /--name <string>\s+Run name \(required\)/);
  assert.match(help, /--tag <string>\s+Optional tag \(default: none\)/);
  assert.match(help, /--\[no-\]augment\s+Random crop \+ flip \(default: true\)/);
  assert.match(help, /--\[no-\]dry-run\s+Build only \(default: false\)/);
  assert.match(help, /--\[no-\]shuffle\s+Shuffle \(unset: per data set\)\n/);
  assert.match(help, /--help/);
});

// ---------------------------------------------------------------- progress

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

// ---------------------------------------------------------------- metrics log

Deno.test("metrics: round trip, append on resume, NaN/Infinity flagged", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/runs/r1/metrics.jsonl`;
    const log = MetricsLog.open(path, { append: false });
    log.write({ step: 1, loss: 2.3, acc: 0.1 });
    log.write({ step: 2, loss: NaN, acc: Infinity, norms: [1, -Infinity], lr: 0.1 });
    log.close();
    assert.throws(() => log.write({ step: 3 }), /closed/);
    // Written as it goes: each record is a complete line on disk.
    const text = Deno.readTextFileSync(path);
    assert.equal(text.split("\n").length, 3);
    assert.ok(!text.includes("NaN") && !text.includes("Infinity"));

    const again = MetricsLog.open(path);
    again.write({ step: 3, loss: 1.5, grads: new Float32Array([0.5, NaN]) });
    again.close();
    assert.deepEqual(readMetrics(path), [
      { step: 1, loss: 2.3, acc: 0.1 },
      {
        step: 2,
        loss: null,
        acc: null,
        norms: [1, null],
        lr: 0.1,
        nonfinite: ["loss", "acc", "norms.1"],
      },
      { step: 3, loss: 1.5, grads: [0.5, null], nonfinite: ["grads.1"] },
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("metrics: a crash-truncated last line is dropped before appending", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/m.jsonl`;
    Deno.writeTextFileSync(path, '{"step":1}\n{"step":2,"lo');
    const log = MetricsLog.open(path);
    log.write({ step: 2 });
    log.close();
    assert.deepEqual(readMetrics(path), [{ step: 1 }, { step: 2 }]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("metrics: corrupt lines throw naming the line number", () => {
  assert.throws(
    () => parseMetrics('{"a":1}\n\n{"a":2,}\n', "m.jsonl"),
    /^Error: m\.jsonl:3: invalid JSON/,
  );
  assert.throws(
    () => parseMetrics('{"a":1}\n[1,2]\n', "m.jsonl"),
    /m\.jsonl:2: expected a JSON object/,
  );
  assert.throws(() => parseMetrics("null", "x"), /x:1: expected a JSON object/);
  assert.deepEqual(parseMetrics('{"a":1}\n\n'), [{ a: 1 }]);
  assert.throws(() => encodeRecord({ nonfinite: 1 }), /reserved/);
  assert.equal(metricsPath("resnet20-s1"), "runs/resnet20-s1/metrics.jsonl");
  assert.throws(() => metricsPath("../etc"), /invalid run name/);
  assert.throws(() => metricsPath("a/b"), /invalid run name/);
});

// ---------------------------------------------------------------- plots

/** Tiny well-formedness check: tags balance, attributes are quoted, text has no bare & or <. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf("<", i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text), `bare & in text: ${text}`);
    assert.ok(!text.includes(">"), `bare > in text: ${text}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    assert.ok(m, `malformed tag at ${lt}: ${svg.slice(lt, lt + 60)}`);
    for (const [, v] of m[3].matchAll(/="([^"]*)"/g)) {
      assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(v), `bare & in attribute: ${v}`);
    }
    if (m[1]) assert.equal(stack.pop(), m[2], `unbalanced </${m[2]}>`);
    else if (!m[4]) stack.push(m[2]);
    i = tag.lastIndex;
  }
  assert.deepEqual(stack, [], "unclosed tags");
  assert.ok(svg.trimStart().startsWith("<svg"), "root is <svg>");
  assert.ok(!/NaN|Infinity|undefined/.test(svg), "no NaN/Infinity/undefined in output");
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

Deno.test("plots: the well-formedness check itself rejects broken XML", () => {
  assert.throws(() => assertWellFormed("<svg><g></svg>"));
  assert.throws(() => assertWellFormed("<svg><text>a & b</text></svg>"));
  assert.throws(() => assertWellFormed("<svg><text>a<b</text></svg>"));
  assert.throws(() => assertWellFormed('<svg><path d="NaN"/></svg>'));
  assertWellFormed('<svg><text x="1">a &amp; b</text><line/></svg>');
});

Deno.test("plots: nice 1-2-5 ticks and log ticks", () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.13, 0.87, 4), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 64000, 6), [0, 20000, 40000, 60000, 80000]);
  assert.deepEqual(niceTicks(3, 3), [2.6, 2.8, 3, 3.2, 3.4]); // constant: padded, no /0
  assert.deepEqual(niceTicks(0, 0), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(niceTicks(0, 3, 6, 1), [0, 1, 2, 3]);
  // Arbitrary range: evenly spaced by 1, 2 or 5 × 10^k, enclosing the data.
  const t = niceTicks(-0.37, 12.2, 6);
  const step = t[1] - t[0];
  const mant = step / 10 ** Math.floor(Math.log10(step));
  assert.ok([1, 2, 5].some((k) => Math.abs(mant - k) < 1e-9), `step ${step}`);
  for (let i = 1; i < t.length; i++) close(t[i] - t[i - 1], step, 1e-9);
  assert.ok(t[0] <= -0.37 && t[t.length - 1] >= 12.2);
  assert.deepEqual(logTicks(0.003, 40), [0.001, 0.01, 0.1, 1, 10, 100]);
  assert.deepEqual(logTicks(2, 7), [1, 2, 5, 10]);
  assert.deepEqual(logTicks(5, 5), [1, 2, 5, 10]);
  assert.deepEqual(logTicks(1e-12, 1e4), [1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1, 1e2, 1e4]);
  assert.deepEqual(logTicks(0, 1), []);
});

Deno.test("plots: one path per series, dashed series dashed, legend, escaped title", () => {
  const svg = lineChart({
    title: 'loss <plain & residual> "20"',
    xLabel: "epoch",
    yLabel: "error %",
    series: [
      { name: "plain-20", points: [[0, 50], [1, 30], [2, 20]], ...studyStyle(0, false) },
      { name: "resnet-20", points: [[0, 45], [1, 25], [2, 12]], ...studyStyle(0, true) },
      { name: "plain-56 <dashed>", points: [[0, 60], [1, 40]], dashed: true },
    ],
  });
  assertWellFormed(svg);
  assert.equal(count(svg, /<path /g), 3);
  assert.equal(count(svg, /<path [^>]*stroke-dasharray/g), 2);
  assert.ok(svg.includes("loss &lt;plain &amp; residual&gt; &quot;20&quot;"));
  assert.ok(svg.includes("plain-56 &lt;dashed&gt;"));
  assert.ok(!svg.includes("<plain"));
  // Same depth, same colour; the third series falls back to the palette by index.
  const strokes = [...svg.matchAll(/<path [^>]*stroke="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(strokes, [PALETTE[0], PALETTE[0], PALETTE[2]]);
  assert.equal(new Set(PALETTE).size, PALETTE.length);
  assert.ok(PALETTE.length >= 10);
});

Deno.test("plots: NaN breaks the line; empty, single-point and constant series are safe", () => {
  const gap = lineChart({
    title: "t",
    xLabel: "x",
    yLabel: "y",
    series: [{
      name: "a",
      points: [[0, 1], [1, 2], [2, NaN], [3, 3], [4, 4], [5, Infinity], [6, 5]],
    }],
  });
  assertWellFormed(gap);
  const d = /<path [^>]*d="([^"]*)"/.exec(gap)![1];
  assert.equal(count(d, /M/g), 3);
  assert.equal(count(d, /L/g), 2);
  assert.equal(count(gap, /<circle/g), 1); // the isolated last point stays visible

  const empty = lineChart({ title: "empty", xLabel: "x", yLabel: "y", series: [] });
  assertWellFormed(empty);
  assert.ok(empty.includes("no data"));
  const emptySeries = lineChart({
    title: "e",
    xLabel: "x",
    yLabel: "y",
    series: [{ name: "a", points: [] }, { name: "b", points: [[NaN, NaN]] }],
  });
  assertWellFormed(emptySeries);
  assert.equal(count(emptySeries, /<path /g), 2);

  for (
    const points of [[[3, 7]], [[0, 2], [1, 2], [2, 2]], [[5, 0], [5, 0]]] as [number, number][][]
  ) {
    for (const logY of [false, true]) {
      const svg = lineChart({
        title: "c",
        xLabel: "x",
        yLabel: "y",
        series: [{ name: "s", points }],
        logY,
      });
      assertWellFormed(svg);
    }
  }
});

Deno.test("plots: log axis drops non-positive values and says so", () => {
  const svg = lineChart({
    title: "grad",
    xLabel: "x",
    yLabel: "norm",
    logY: true,
    series: [{ name: "a", points: [[0, 1e-3], [1, 0], [2, -1], [3, 10]] }],
  });
  assertWellFormed(svg);
  assert.ok(svg.includes("2 non-positive values omitted (log scale)"));
  assert.ok(svg.includes(">0.001<") && svg.includes(">10<"));
  const d = /<path [^>]*d="([^"]*)"/.exec(svg)![1];
  assert.equal(count(d, /M/g), 2);
  const allBad = lineChart({
    title: "g",
    xLabel: "x",
    yLabel: "y",
    logY: true,
    series: [{ name: "a", points: [[0, 0], [1, -2]] }],
  });
  assertWellFormed(allBad);
  assert.ok(allBad.includes("no data"));
});

Deno.test("plots: per-layer gradient norm chart (log y, integer layer x, markers)", () => {
  const svg = layerNormChart({
    title: "grad norm per layer",
    series: [
      { name: "plain-56 @ step 100", norms: [1e-6, 1e-5, 1e-4, 1e-2, 0.5], dashed: true },
      { name: "resnet-56 @ step 100", norms: [0.1, 0.2, 0.15, 0.3, 0.5] },
    ],
  });
  assertWellFormed(svg);
  assert.equal(count(svg, /<path /g), 2);
  assert.equal(count(svg, /<circle/g), 10);
  assert.ok(svg.includes("(log)"));
  assert.ok(svg.includes(">1e-6<"));
  const xLabels = [...svg.matchAll(/text-anchor="middle">(-?[\d.e-]+)<\/text>/g)].map((m) =>
    Number(m[1])
  );
  assert.ok(xLabels.length > 0 && xLabels.every(Number.isInteger), `x ticks ${xLabels}`);
  assert.equal(escapeXml("a\x01b"), "ab");
});
