/**
 * `deno task bench:finetune [--json] [--size 112] [--batch 8] [--rounds 3] [--steps 2]`: what
 * freezing saves in a ResNet-18 training step (torchvision's stem, 1000 classes): the full step
 * against fine-tuning layer4 and fc (nothing below layer4 runs backward), the same with the frozen
 * batch norms in eval mode, and the head alone. Each configuration's trainer is planned once; they
 * take turns for `--rounds` rounds of `--steps` steps (each round's steps end in one wait), and
 * each figure is the median over rounds of the mean step time.
 */
import { runtimeOptionsFromEnv } from "../src/host/deno_env.ts";
import { median } from "./stats.ts";
import { Runtime } from "../src/gpu/runtime.ts";
import { buildModel } from "../src/zoo/registry.ts";
import { Model } from "../src/model/model.ts";
import { Trainer, type TrainerOptions } from "../src/train/trainer.ts";

const json = Deno.args.includes("--json");
const int = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} ${Deno.args[i + 1]}`);
  return v;
};
const size = int("size", 112), batch = int("batch", 8);
const rounds = int("rounds", 3), steps = int("steps", 2);

const configs: { name: string; opts: Partial<TrainerOptions> }[] = [
  { name: "full", opts: {} },
  { name: "layer4+fc", opts: { freeze: { except: ["layer4", "fc"] } } },
  {
    name: "layer4+fc, frozen BN eval",
    opts: { freeze: { except: ["layer4", "fc"] }, frozenBatchNormEval: true },
  },
  { name: "fc only", opts: { freeze: { except: ["fc"] }, frozenBatchNormEval: true } },
];

const rt = await Runtime.create(runtimeOptionsFromEnv());
const graph = buildModel("resnet18", { inputShape: [3, size, size], stem: "imagenet" });
const x = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(0.37 * i));
const y = Array.from({ length: batch }, (_, i) => (i * 37) % graph.classes);
const runs = [];
for (const c of configs) {
  const model = Model.create(rt, graph, { seed: 1 });
  const trainer = await Trainer.create(model, {
    batchSize: batch,
    optimizer: { kind: "sgd", lr: 0.001, momentum: 0.9, weightDecay: 1e-4 },
    ...c.opts,
  });
  trainer.step(x, y, 0.001); // first step: compile what planning left
  await trainer.readMetrics();
  runs.push({ ...c, model, trainer, ms: [] as number[] });
}
for (let r = 0; r < rounds; r++) {
  for (const run of runs) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) run.trainer.step(x, y, 0.001);
    await run.trainer.readMetrics();
    run.ms.push((performance.now() - t0) / steps);
  }
  if (!json) {
    console.error(
      `round ${r + 1}/${rounds}: ${
        runs.map((u) => `${u.name} ${u.ms[r].toFixed(0)} ms`).join(", ")
      }`,
    );
  }
}
const full = median(runs[0].ms);
const result = {
  adapter: rt.report.description,
  backend: rt.report.backend,
  model: `resnet18 3×${size}×${size}`,
  batch,
  rounds,
  configs: runs.map((u) => ({
    name: u.name,
    step_ms: +median(u.ms).toFixed(1),
    backward_dispatches: u.trainer.plan.backward.length,
    planned_bytes: u.trainer.plan.plannedBytes,
    trained_tensors: u.trainer.optimizerNames.length,
    saved: +(1 - median(u.ms) / full).toFixed(3),
  })),
  date: new Date().toISOString().slice(0, 10),
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(
    `${result.adapter} (${result.backend}), ${result.model}, batch ${batch}, medians of ${rounds} rounds:`,
  );
  for (const c of result.configs) {
    console.log(
      `  ${c.name.padEnd(26)} ${String(c.step_ms).padStart(8)} ms/step  ${
        (100 * c.saved).toFixed(0)
      }% saved, ` +
        `${c.backward_dispatches} backward dispatches, ${
          (c.planned_bytes / 2 ** 20).toFixed(0)
        } MiB planned`,
    );
  }
}
for (const u of runs) {
  u.trainer.dispose();
  u.model.dispose();
}
rt.dispose();
