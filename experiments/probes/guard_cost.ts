/**
 * `deno run --allow-read --allow-env experiments/probes/guard_cost.ts [--batch B] [--rounds R]
 * [--steps K]`: what the training step's non-finite guard (src/ops/guard.ts: a check of the input,
 * the loss rows and every gradient, the optimizer's flag test, the finishing dispatch) costs on
 * a ResNet-20 step. One trainer steps in alternating rounds of K steps with the guard's
 * dispatches replayed and without them (the probe empties the trainer's guard steps; the
 * optimizer still tests the never-set flag), each round ending in a sync; the median of the
 * per-round ratios is printed, so the machine's load drifts out. Then the guard's dispatches
 * alone, replayed back to back: their cost without a step around them.
 */
import { runtimeOptionsFromEnv } from "../../src/host/deno_env.ts";
import { median } from "../../bench/stats.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { generateSynthetic } from "../../src/data/synthetic.ts";

const arg = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
};
const batch = arg("--batch", 32), rounds = arg("--rounds", 7), steps = arg("--steps", 4);

const rt = await Runtime.create(runtimeOptionsFromEnv());
const model = Model.create(rt, buildModel("resnet20", { inputShape: [1, 28, 28] }), { seed: 1 });
const trainer = await Trainer.create(model, {
  batchSize: batch,
  optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
});
const d = generateSynthetic({ count: batch, seed: 2, channels: 1, size: 28 });
const x = Float32Array.from(d.images, (v) => v / 127.5 - 1), y = Int32Array.from(d.labels);

type Guard = { input: unknown[]; loss: unknown[]; gradients: unknown[]; finish: unknown[] };
const inner = trainer as unknown as { guard: Guard };
const guarded = inner.guard;
const bare: Guard = { ...guarded, input: [], loss: [], gradients: [], finish: [] };
const dispatches = guarded.input.length + guarded.loss.length + guarded.gradients.length +
  guarded.finish.length;

async function round(guard: Guard): Promise<number> {
  inner.guard = guard;
  await rt.sync();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) trainer.step(x, y, 0.05);
  await rt.sync();
  return (performance.now() - t0) / steps;
}

for (let i = 0; i < 2; i++) await round(guarded); // compile and warm up
const ratios: number[] = [], on: number[] = [], off: number[] = [];
for (let r = 0; r < rounds; r++) {
  const first = r % 2 === 0;
  const a = first ? await round(guarded) : NaN;
  const b = await round(bare);
  const c = first ? a : await round(guarded);
  on.push(c);
  off.push(b);
  ratios.push(c / b);
}
// The guard's dispatches alone, replayed back to back: their cost without the step around them.
const alone: number[] = [];
const all = [
  ...guarded.input,
  ...guarded.loss,
  ...guarded.gradients,
  ...guarded.finish,
] as Parameters<
  typeof rt.replay
>[0];
for (let r = 0; r < rounds; r++) {
  await rt.sync();
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) {
    rt.replay(all);
    rt.submit();
  }
  await rt.sync();
  alone.push((performance.now() - t0) / 20);
}
console.log(
  `the guard's dispatches alone: ${median(alone).toFixed(2)} ms per step ` +
    `(${(100 * median(alone) / median(off)).toFixed(1)}% of the bare step)`,
);
console.log(
  `resnet20 batch ${batch} on ${rt.report.description}: ${dispatches} guard dispatches per step; ` +
    `step ${median(on).toFixed(1)} ms with the guard, ${median(off).toFixed(1)} ms without ` +
    `(medians of ${rounds} rounds of ${steps}); guarded/bare ratio median ` +
    `${median(ratios).toFixed(4)} (${ratios.map((v) => v.toFixed(3)).join(" ")})`,
);
inner.guard = guarded;
trainer.dispose();
model.dispose();
rt.dispose();
