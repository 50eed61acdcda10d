/**
 * `deno task bench:soak [--steps N] [--model NAME] [--width W] [--size S] [--batch B] [--json]`
 * `deno task bench:soak --runtimes N [--json]`:
 * a long training loop as the training job drives it — a step per batch, the metrics read every
 * 20 steps, gradient norms every 25, an evaluation and an in-memory checkpoint every 1,000 —
 * that reports what grows: the process's resident memory and JS heap, the buffer pool's bytes
 * and buffers, and the runtime's created buffers, bind groups and pipelines. Samples are taken
 * every 500 steps; growth is measured from the sample after warm-up (step 500), so planning and
 * first-use allocations do not count. A leak shows as steady growth; a steady loop creates no
 * GPU object at all. Default: 10,000 steps of ResNet-8 (width 0.25) on 12×12 images, batch 16.
 *
 * With `--runtimes N`, instead: N cycles of Runtime.create, a model, a trainer and one step,
 * then dispose, with the resident memory every 100 cycles and its growth from cycle 100 (the
 * first cycles compile the kernels, which a reused device keeps).
 */
import { runtimeOptionsFromEnv } from "../src/host/deno_env.ts";
import { Runtime } from "../src/gpu/runtime.ts";
import { buildModel } from "../src/zoo/registry.ts";
import { Model } from "../src/model/model.ts";
import { Trainer } from "../src/train/trainer.ts";
import { Evaluator } from "../src/train/evaluator.ts";
import { encodeCheckpoint } from "../src/train/checkpoint.ts";
import { generateSynthetic } from "../src/data/synthetic.ts";

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const steps = Number(arg("--steps", "10000"));
const modelName = arg("--model", "resnet8");
const width = Number(arg("--width", "0.25"));
const size = Number(arg("--size", "12"));
const batch = Number(arg("--batch", "16"));
const json = Deno.args.includes("--json");
const SAMPLE_EVERY = 500, WARMUP = 500;
const mb = (b: number) => b / 2 ** 20;

const cycles = Number(arg("--runtimes", "0"));
if (cycles > 0) {
  const rss: { cycle: number; rssMB: number; seconds: number }[] = [];
  const g = buildModel(modelName, { inputShape: [1, 8, 8], classes: 3, width });
  const start = performance.now();
  for (let i = 0; i <= cycles; i++) {
    if (i % 100 === 0) {
      const r = {
        cycle: i,
        rssMB: mb(Deno.memoryUsage().rss),
        seconds: (performance.now() - start) / 1000,
      };
      rss.push(r);
      if (!json) {
        console.log(`cycle ${i}: rss ${r.rssMB.toFixed(1)} MiB, ${r.seconds.toFixed(0)} s`);
      }
    }
    const rt = await Runtime.create(runtimeOptionsFromEnv());
    const m = Model.create(rt, g, { seed: 1 });
    const t = await Trainer.create(m, { batchSize: 2, optimizer: { kind: "sgd", lr: 0.1 } });
    t.step(new Float32Array(2 * 64), [0, 1], 0.1);
    await t.readMetrics();
    rt.dispose();
  }
  const from = rss.find((r) => r.cycle === 100) ?? rss[0], to = rss.at(-1)!;
  const growth = to.rssMB - from.rssMB;
  if (json) console.log(JSON.stringify({ cycles, from: from.cycle, growthMB: growth, rss }));
  else {
    console.log(
      `rss growth from cycle ${from.cycle} to ${to.cycle}: ${growth.toFixed(1)} MiB ` +
        `(${(1024 * growth / (to.cycle - from.cycle)).toFixed(0)} KiB a runtime)`,
    );
  }
  Deno.exit(0);
}

const rt = await Runtime.create(runtimeOptionsFromEnv());
const graph = buildModel(modelName, { inputShape: [1, size, size], classes: 10, width });
const model = Model.create(rt, graph, { name: modelName, seed: 1 });
const trainer = await Trainer.create(model, {
  batchSize: batch,
  optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
});
const evaluator = await Evaluator.create(model, { batchSize: batch });
// A few distinct batches, cycled: the loader is not what this measures.
const data = generateSynthetic({ count: batch * 8, seed: 1, channels: 1, size });
const per = size * size;
const batches = Array.from({ length: 8 }, (_, b) => ({
  x: Float32Array.from(
    data.images.subarray(b * batch * per, (b + 1) * batch * per),
    (v) => v / 127.5 - 1,
  ),
  y: Int32Array.from(data.labels.subarray(b * batch, (b + 1) * batch)),
}));

interface Sample {
  step: number;
  seconds: number;
  rssMB: number;
  heapMB: number;
  poolMB: number;
  poolBuffers: number;
  poolCreated: number;
  buffersCreated: number;
  bindGroupsCreated: number;
  pipelinesCompiled: number;
  loss: number;
}

const t0 = performance.now();
const samples: Sample[] = [];
let loss = NaN;
const sample = (step: number) => {
  const m = Deno.memoryUsage(), p = rt.pool.stats(), c = rt.counters;
  samples.push({
    step,
    seconds: (performance.now() - t0) / 1000,
    rssMB: mb(m.rss),
    heapMB: mb(m.heapUsed),
    poolMB: mb(p.allocatedBytes),
    poolBuffers: p.buffers,
    poolCreated: p.created,
    buffersCreated: c.buffersCreated,
    bindGroupsCreated: c.bindGroupsCreated,
    pipelinesCompiled: c.pipelinesCompiled,
    loss,
  });
  if (!json) {
    const s = samples.at(-1)!;
    console.log(
      `step ${step}: ${s.seconds.toFixed(0)} s, rss ${s.rssMB.toFixed(1)} MiB, heap ` +
        `${s.heapMB.toFixed(1)} MiB, pool ${s.poolMB.toFixed(2)} MiB in ${s.poolBuffers} buffers ` +
        `(${s.poolCreated} created), ${s.buffersCreated} other buffers, ${s.bindGroupsCreated} ` +
        `bind groups, ${s.pipelinesCompiled} pipelines, loss ${loss.toFixed(3)}`,
    );
  }
};

const evaluateAndCheckpoint = async (step: number) => {
  await evaluator.run(batches.slice(0, 2).map((v) => ({ ...v, size: batch })));
  await encodeCheckpoint(model, trainer, {
    model: modelName,
    epoch: 0,
    step,
    loader: { seed: 0, epoch: 0, batch: 0 },
    config: {},
  });
};

// Once before the loop, so its first-use allocations are warm-up too.
await evaluateAndCheckpoint(0);
sample(0);
for (let step = 1; step <= steps; step++) {
  const b = batches[step % batches.length];
  if (step % 25 === 0) trainer.captureGradNorms();
  trainer.step(b.x, b.y, 0.05);
  if (step % 25 === 0) await trainer.readGradNorms();
  if (step % 20 === 0) {
    const m = await trainer.readMetrics();
    loss = m.meanLoss;
    if (m.skipped > 0) throw new Error(`step ${m.firstSkippedStep} was not finite`);
  }
  if (step % 1000 === 0) await evaluateAndCheckpoint(step);
  if (step % SAMPLE_EVERY === 0) {
    await rt.sync();
    sample(step);
  }
}

const base = samples.find((s) => s.step === WARMUP) ?? samples[0], end = samples.at(-1)!;
const growth = Object.fromEntries(
  (Object.keys(end) as (keyof Sample)[])
    .filter((k) => k !== "step" && k !== "seconds" && k !== "loss")
    .map((k) => [k, +(end[k] - base[k]).toFixed(3)]),
);
const result = {
  adapter: rt.report.description,
  model: modelName,
  width,
  input: `1×${size}×${size}`,
  batch,
  steps,
  from: base.step,
  growth,
  stepsPerSec: +((end.step - base.step) / (end.seconds - base.seconds)).toFixed(2),
  samples,
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(
    `growth from step ${base.step} to ${end.step}: ` +
      Object.entries(growth).map(([k, v]) => `${k} ${v > 0 ? "+" : ""}${v}`).join(", "),
  );
}
evaluator.dispose();
trainer.dispose();
model.dispose();
rt.dispose();
