/**
 * Whole models, one training step, against PyTorch float64 (tests/fixtures/model_golden.py):
 * logits, loss, every parameter gradient and the updated BN running statistics. This checks the
 * scheduler end to end — fusion, memory sharing, gradient accumulation of tensors with two
 * consumers, shortcut options A/B/C, bottlenecks, the max-pool stem.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime, tunedRuntime } from "../helpers/gpu.ts";
import { inputFormula, labelFormula, modelCases, paramFormula } from "../fixtures/model_cases.ts";
import { gatherRead, Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";

const fixtures = new URL("../fixtures/", import.meta.url);
const graphs = JSON.parse(await Deno.readTextFile(new URL("model_graphs.json", fixtures)));
const golden = JSON.parse(
  await new Response(
    (await Deno.open(new URL("model_golden.json.gz", fixtures))).readable
      .pipeThrough(new DecompressionStream("gzip")),
  ).text(),
);

/**
 * Our f32 against PyTorch's f64, per tensor, as the worst element's error relative to the
 * tensor's largest magnitude. How far a correct f32 implementation may land is measured by the
 * fixture itself: `f32_rel` is PyTorch's own f32 run, `noise_rel` the spread of f64 runs with
 * f32-sized noise on every layer output (a ReLU input within rounding of zero may flip its mask
 * and move every gradient below it). We allow 8× the larger, and never less than 2e-5 (≈ 160
 * f32 ulps of the scale); the cases are chosen so both stay small (ResNet-50 with option C, no
 * identity path at all, measured 10–40% and was replaced by option B). A wrong gradient path
 * (a missed accumulation, a swapped branch) errs by O(1) of the scale.
 */
function tolerance(f32Rel: number, noiseRel: number): number {
  return Math.max(2e-5, 8 * Math.max(f32Rel, noiseRel));
}

/** Returns the error as a fraction of the tolerance. */
function compare(label: string, got: ArrayLike<number>, want: number[], tol: number): number {
  assert.equal(got.length, want.length, `${label}: length`);
  let scale = 0, worst = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  const rel = scale > 0 ? worst / scale : worst;
  assert.ok(rel <= tol, `${label}: error ${rel.toExponential(2)} of scale ${scale} > ${tol}`);
  return rel / tol;
}

// Every case under the adapter's kernel policy and under the GPU one (storage operands, wide
// split reductions), so the kernels a real GPU runs are held to PyTorch on any adapter.
for (const [i, c] of modelCases().entries()) {
  // resnet20_A also with autotuned conv variants (whichever the tuner picks must match too).
  const variants: (undefined | "gpu" | "tuned")[] = [undefined, "gpu"];
  if (c.name === "resnet20_A") variants.push("tuned");
  for (const kernels of variants) {
    Deno.test({
      name: `model golden: ${c.name} training step matches PyTorch${
        kernels === "gpu" ? ", GPU kernel policy" : kernels ? ", autotuned conv variants" : ""
      }`,
      ...GPU_TEST,
      async fn() {
        assert.equal(
          JSON.stringify(c.graph),
          JSON.stringify(graphs[i].graph),
          "model_graphs.json is stale: rerun model_cases.ts and model_golden.py",
        );
        const want = golden.cases[i];
        const rt = kernels === "tuned" ? await tunedRuntime() : await runtime(kernels);
        const model = Model.create(rt, c.graph, { name: c.name });
        model.loadStateDict(
          new Map(c.graph.params.map((p, k) => [p.name, {
            shape: p.shape,
            data: Float32Array.from(paramFormula(p.kind, p.shape, k)),
          }])),
        );
        const trainer = await Trainer.create(model, {
          batchSize: c.batch,
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
        compare(
          "logits",
          logits,
          want.logits,
          tolerance(want.f32_rel.logits, want.noise_rel.logits),
        );
        const grads = await gatherRead(
          rt,
          Object.keys(want.grads).map((n) => [n, model.grad(n), want.grads[n].length]),
        );
        let worst = 0;
        for (const [n, g] of grads) {
          worst = Math.max(
            worst,
            compare(`grad ${n}`, g, want.grads[n], tolerance(want.f32_rel[n], want.noise_rel[n])),
          );
        }
        const state = await model.stateDict();
        for (const n of Object.keys(want.running)) compare(n, state.get(n)!, want.running[n], 2e-5);
        console.log(
          `${c.name}: worst gradient error ${(100 * worst).toFixed(0)}% of its tolerance`,
        );
        trainer.dispose();
        model.dispose();
      },
    });
  }
}
