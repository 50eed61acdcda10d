/**
 * Whole models, one training step, against PyTorch float64 (tests/fixtures/model_golden.py):
 * logits, loss, every parameter gradient and the updated BN running statistics. This checks the
 * scheduler end to end — fusion, memory sharing, gradient accumulation of tensors with two
 * consumers, shortcut options A/B/C, bottlenecks, the max-pool stem.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "./helpers/gpu.ts";
import { inputFormula, labelFormula, modelCases, paramFormula } from "./fixtures/model_cases.ts";
import { gatherRead, Model } from "../src/model/model.ts";
import { Trainer } from "../src/train/trainer.ts";

const fixtures = new URL("./fixtures/", import.meta.url);
const graphs = JSON.parse(await Deno.readTextFile(new URL("model_graphs.json", fixtures)));
const golden = JSON.parse(await Deno.readTextFile(new URL("model_golden.json", fixtures)));

/**
 * f32 against f64 through 20–50 layers: each conv/BN adds relative rounding of order
 * √K·2⁻²⁴ ≈ 1e-6, and batch norm over tiny batches amplifies it. We bound every tensor's worst
 * element by 2e-4 of that tensor's largest magnitude (measured worst: see the assertion message);
 * a wrong gradient path (missed accumulation, wrong branch) errs by O(1) of that scale.
 */
const REL_TO_SCALE = 2e-4;

function compare(label: string, got: ArrayLike<number>, want: number[]): number {
  assert.equal(got.length, want.length, `${label}: length`);
  let scale = 0, worst = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  const rel = scale > 0 ? worst / scale : worst;
  assert.ok(
    rel <= REL_TO_SCALE || worst < 1e-7,
    `${label}: error ${rel.toExponential(2)} of scale ${scale}`,
  );
  return rel;
}

for (const [i, c] of modelCases().entries()) {
  Deno.test({
    name: `model golden: ${c.name} training step matches PyTorch`,
    ...GPU_TEST,
    async fn() {
      assert.equal(
        JSON.stringify(c.graph),
        JSON.stringify(graphs[i].graph),
        "model_graphs.json is stale: rerun model_cases.ts and model_golden.py",
      );
      const want = golden.cases[i];
      const rt = await runtime();
      const model = Model.create(rt, c.graph, { name: c.name });
      model.loadStateDict(
        new Map(c.graph.params.map((p, k) => [p.name, paramFormula(p.kind, p.shape, k)])),
      );
      const trainer = await Trainer.create(model, {
        batch: c.batch,
        optimizer: { kind: "sgd", lr: 0 },
      });
      const [ch, h, w] = c.graph.inputShape;
      const x = Float32Array.from(inputFormula(c.batch * ch * h * w));
      trainer.step(x, labelFormula(c.batch, c.graph.classes), 0);
      const metrics = await trainer.readMetrics();
      assert.ok(
        Math.abs(metrics.meanLoss - want.loss) <= 1e-5 * want.loss,
        `loss ${metrics.meanLoss} vs ${want.loss}`,
      );
      const logits = new Float32Array(
        await rt.read(trainer.plan.logits, c.batch * c.graph.classes * 4),
      );
      compare("logits", logits, want.logits);
      const grads = await gatherRead(
        rt,
        Object.keys(want.grads).map((n) => [n, model.grad(n), want.grads[n].length]),
      );
      let worst = 0;
      for (const [n, g] of grads) worst = Math.max(worst, compare(`grad ${n}`, g, want.grads[n]));
      const state = await model.stateDict();
      for (const n of Object.keys(want.running)) compare(n, state.get(n)!, want.running[n]);
      console.log(`${c.name}: worst gradient error ${worst.toExponential(2)} of tensor scale`);
      trainer.release();
      model.dispose();
    },
  });
}
