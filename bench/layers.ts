/**
 * `deno task bench:layers [--model resnet20] [--batch 32] [--input 1,28,28] [--shortcut A|B|C]
 * [--by layer|kernel] [--rounds 3] [--json]`: GPU time of one training step from
 * `timestamp-query`, slowest first (`--shortcut B` is the model `bench:compare` times).
 *
 * `--by layer` (default): every layer's forward and backward, each one timed pass.
 * `--by kernel`: every dispatch timed as its own pass and summed per kernel entry point, with the
 * dispatch count and each dispatch's workgroups — where a step's time goes by kernel, and which
 * dispatches leave cores idle (few workgroups). A pass per dispatch adds each pass's own overhead,
 * so the total exceeds the step's; compare entries with each other, not with `--by layer`.
 * Each section keeps its fastest of `--rounds` replays (steady state, the first step excluded).
 */
import { Runtime } from "../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../src/host/deno_env.ts";
import { buildModel } from "../src/zoo/registry.ts";
import { Model } from "../src/model/model.ts";
import { Trainer } from "../src/train/trainer.ts";
import type { Step } from "../src/gpu/plan.ts";

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const json = Deno.args.includes("--json");
const name = arg("model", "resnet20");
const batch = Number(arg("batch", "32"));
const input = arg("input", "1,28,28").split(",").map(Number) as [number, number, number];
const by = arg("by", "layer");
if (by !== "layer" && by !== "kernel") throw new RangeError(`--by ${by}: expected layer or kernel`);
const rounds = Number(arg("rounds", "3"));
if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds ${rounds}`);

const rt = await Runtime.create(runtimeOptionsFromEnv());
const shortcut = arg("shortcut", "") as "" | "A" | "B" | "C";
const model = Model.create(
  rt,
  buildModel(name, { inputShape: input, ...(shortcut ? { shortcut } : {}) }),
);
const t = await Trainer.create(model, {
  batchSize: batch,
  optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9 },
});
const x = Float32Array.from(
  { length: batch * input[0] * input[1] * input[2] },
  (_, i) => Math.sin(i),
);
const y = Array.from({ length: batch }, (_, i) => i % model.graph.classes);
t.step(x, y, 0.01);
await t.readMetrics();

/** The step in replay order, each piece labelled with the layer (or stage) it belongs to. */
interface Piece {
  section: string;
  steps: readonly Step[];
}
const layerName = (l: (typeof t.plan.layerSteps)[number]) =>
  `${l.layer.node.op}${
    l.layer.fusedRelu ? "+relu" : l.layer.fusedAdd ? "+join" : ""
  } ${l.layer.node.name}`;
const layers = t.plan.layerSteps;
const pieces: Piece[] = [
  ...layers.map((l) => ({ section: `fwd ${layerName(l)}`, steps: l.forward })),
  { section: "loss", steps: t.loss.steps },
  ...[...layers].reverse().map((l) => ({ section: `bwd ${layerName(l)}`, steps: l.backward })),
  { section: "optimizer", steps: t.optimizer.steps },
];

/** What one timed section replays. */
interface Timed {
  label: string;
  layer: string;
  steps: readonly Step[];
}
const timed: Timed[] = by === "layer"
  ? pieces.map((p) => ({ label: p.section, layer: p.section, steps: p.steps }))
  : pieces.flatMap((p) =>
    p.steps.map((s) => ({
      label: s.kind === "dispatch" ? s.kernel.label : "clearBuffer",
      layer: p.section,
      steps: [s],
    }))
  );

const best = new Array<number>(timed.length).fill(Infinity);
for (let r = 0; r < rounds; r++) {
  rt.startProfile(timed.length + 1);
  timed.forEach((s, i) => {
    rt.section(String(i));
    rt.replay(s.steps);
  });
  for (const { label, ms } of await rt.endProfile()) {
    const i = Number(label);
    best[i] = Math.min(best[i], ms);
  }
}
// A section whose steps recorded nothing (an empty grid) wrote no timestamps.
const ms = best.map((v) => (Number.isFinite(v) ? v : 0));
const total = ms.reduce((a, b) => a + b, 0);

interface Entry {
  label: string;
  ms: number;
  dispatches: number;
  /** Workgroups of each dispatch, in replay order (`--by kernel`). */
  workgroups?: number[];
}
const entries = new Map<string, Entry>();
timed.forEach((s, i) => {
  const e = entries.get(s.label) ?? { label: s.label, ms: 0, dispatches: 0 };
  e.ms += ms[i];
  for (const step of s.steps) {
    if (step.kind !== "dispatch") continue;
    e.dispatches++;
    if (by === "kernel") {
      const g = step.groups;
      (e.workgroups ??= []).push(typeof g === "number" ? g : g[0] * g[1] * g[2]);
    }
  }
  entries.set(s.label, e);
});
const sorted = [...entries.values()].sort((a, b) => b.ms - a.ms);
if (json) {
  console.log(
    JSON.stringify({
      adapter: rt.report.description,
      model: name,
      batch,
      by,
      totalMs: total,
      sections: sorted,
    }),
  );
} else {
  console.log(
    `${name} batch ${batch} on ${rt.report.description}: ${
      total.toFixed(1)
    } ms of GPU time per step${by === "kernel" ? " (a pass per dispatch)" : ""}`,
  );
  for (const e of sorted) {
    const wg = e.workgroups;
    const spread = wg
      ? `  ${e.dispatches}× ${Math.min(...wg)}${
        Math.max(...wg) !== Math.min(...wg) ? `–${Math.max(...wg)}` : ""
      } workgroups`
      : "";
    console.log(
      `${e.ms.toFixed(2).padStart(9)} ms ${
        (100 * e.ms / total).toFixed(1).padStart(5)
      }%  ${e.label}${spread}`,
    );
  }
}
rt.dispose();
