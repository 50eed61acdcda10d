/**
 * `deno task bench:layers [--model resnet20] [--batch 32] [--shortcut A|B|C] [--json]`: GPU time of
 * every layer's forward and backward in one training step, from `timestamp-query`, slowest first
 * (`--shortcut B` is the model `bench:compare` times).
 */
import { Runtime } from "../src/gpu/runtime.ts";
import { buildModel } from "../src/models/zoo.ts";
import { Model } from "../src/model/model.ts";
import { Trainer } from "../src/train/trainer.ts";
import { replay } from "../src/ops/plan.ts";

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const json = Deno.args.includes("--json");
const name = arg("model", "resnet20");
const batch = Number(arg("batch", "32"));
const input = arg("input", "1,28,28").split(",").map(Number) as [number, number, number];

const rt = await Runtime.create();
const shortcut = arg("shortcut", "") as "" | "A" | "B" | "C";
const model = Model.create(
  rt,
  buildModel(name, { inputShape: input, ...(shortcut ? { shortcut } : {}) }),
);
const t = await Trainer.create(model, {
  batch,
  optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9 },
});
const x = Float32Array.from(
  { length: batch * input[0] * input[1] * input[2] },
  (_, i) => Math.sin(i),
);
const y = Array.from({ length: batch }, (_, i) => i % model.graph.classes);
t.step(x, y, 0.01);
await t.readMetrics();

const layers = t.plan.layerSteps;
rt.startProfile(2 * layers.length + 2);
for (const l of layers) {
  rt.section(
    `fwd ${l.layer.node.op}${
      l.layer.fusedRelu ? "+relu" : l.layer.fusedAdd ? "+join" : ""
    } ${l.layer.node.name}`,
  );
  replay(rt, l.forward);
}
rt.section("loss");
replay(rt, t.loss.steps);
for (let i = layers.length - 1; i >= 0; i--) {
  const l = layers[i];
  rt.section(
    `bwd ${l.layer.node.op}${
      l.layer.fusedRelu ? "+relu" : l.layer.fusedAdd ? "+join" : ""
    } ${l.layer.node.name}`,
  );
  replay(rt, l.backward);
}
rt.section("optimizer");
replay(rt, t.optimizer.steps);
const times = await rt.endProfile();
const total = times.reduce((a, b) => a + b.ms, 0);
if (json) {
  console.log(
    JSON.stringify({
      adapter: rt.report.description,
      model: name,
      batch,
      totalMs: total,
      sections: times,
    }),
  );
} else {
  console.log(
    `${name} batch ${batch} on ${rt.report.description}: ${
      total.toFixed(1)
    } ms of GPU time per step`,
  );
  for (const s of [...times].sort((a, b) => b.ms - a.ms)) {
    console.log(
      `${s.ms.toFixed(2).padStart(9)} ms ${
        (100 * s.ms / total).toFixed(1).padStart(5)
      }%  ${s.label}`,
    );
  }
}
rt.destroy();
