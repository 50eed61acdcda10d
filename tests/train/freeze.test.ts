/**
 * Fine-tuning with frozen parameters: the planner drops the backward below the lowest layer that
 * trains and every frozen layer's weight gradient; frozen parameters (and, in eval mode, frozen
 * batch norms' statistics) stay bit for bit; trainable ones move exactly as in an unfrozen step,
 * and as PyTorch moves them with `requires_grad_(False)` and frozen batch norms in eval mode.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime, stepLabels } from "../helpers/gpu.ts";
import { pythonHas, runPythonJson } from "../helpers/torch.ts";
import { Rng } from "../helpers/rand.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer, type TrainerOptions } from "../../src/train/trainer.ts";
import { buildStepPlan } from "../../src/scheduler/step_plan.ts";
import { frozenNames } from "../../src/scheduler/freeze.ts";
import { saveWeightsFile } from "../../src/io/weights_file.ts";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors_file.ts";
import { typedView } from "../../src/io/safetensors.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";

const SHAPE: [number, number, number] = [3, 32, 32];
const BATCH = 4, CLASSES = 10;
const SGD = { kind: "sgd" as const, lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };

function resnet18(rt: Runtime): Model {
  const graph = buildModel("resnet18", { inputShape: SHAPE, classes: CLASSES, stem: "imagenet" });
  return Model.create(rt, graph, { name: "resnet18", seed: 4 });
}

function batch(seed: number) {
  const rng = new Rng(seed);
  return {
    x: rng.normal(BATCH * SHAPE[0] * SHAPE[1] * SHAPE[2]),
    y: Array.from({ length: BATCH }, () => rng.int(CLASSES)),
  };
}

Deno.test({
  name: "freeze: no backward below the lowest training layer, no weight gradients for frozen ones",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = resnet18(rt);
    const full = await buildStepPlan(model, { batchSize: BATCH, mode: "train" });
    const frozen = frozenNames(model.graph.params, { except: ["layer4", "fc"] });
    const tuned = await buildStepPlan(model, { batchSize: BATCH, mode: "train", frozen });
    const first = tuned.layerSteps.findIndex((l) => l.layer.node.name.startsWith("layer4"));
    tuned.layerSteps.forEach((l, i) => {
      if (i < first) assert.equal(l.backward.length, 0, `${l.layer.node.name} runs no backward`);
    });
    assert.ok(tuned.layerSteps[first].backward.length > 0);
    // layer4's first convolutions read layer3's output but pass no gradient to it.
    const l40 = tuned.layerSteps.find((l) => l.layer.node.name === "layer4.0.conv1")!;
    assert.ok(!stepLabels(l40.backward).some((k) => k.includes("backward_data")));
    assert.ok(stepLabels(l40.backward).some((k) => k.includes("backward_weight")));
    assert.ok(tuned.backward.length < full.backward.length / 2);
    assert.ok(tuned.plannedBytes < full.plannedBytes, "less activation memory kept");
    // Frozen BNs (all of them) with trainable convs: the gradient passes every layer, the convs'
    // weight gradients run, and the BNs kept in eval mode run the eval backward.
    const bns = model.graph.params.filter((p) => p.kind === "bn_weight" || p.kind === "bn_bias");
    const bnFrozen = await buildStepPlan(model, {
      batchSize: BATCH,
      mode: "train",
      frozen: new Set(bns.map((p) => p.name)),
      frozenBatchNormEval: true,
    });
    const labels = stepLabels(bnFrozen.backward);
    assert.ok(labels.some((k) => k.includes("bwd_eval")));
    assert.ok(!labels.some((k) => k.includes("bwd_reduce")), "no training-mode BN backward");
    assert.ok(!stepLabels(bnFrozen.forward).some((k) => k.includes("stats")), "no batch stats");
    for (const p of [full, tuned, bnFrozen]) p.dispose();
    model.dispose();
  },
});

Deno.test({
  name: "freeze: frozen parameters stay bit for bit, trainable ones move as in an unfrozen step",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const { x, y } = batch(1);
    const step = async (opts: Partial<TrainerOptions>) => {
      const m = resnet18(rt);
      const t = await Trainer.create(m, { batchSize: BATCH, optimizer: SGD, ...opts });
      // One step: after it the unfrozen run's frozen layers have moved, and its forward differs.
      t.step(x, y, SGD.lr);
      const loss = (await t.readMetrics()).meanLoss;
      const state = await m.stateDict();
      const slots = t.optimizerState().map(([name]) => name);
      t.dispose();
      m.dispose();
      return { loss, state, slots };
    };
    const before = await resnet18(rt).stateDict();
    const full = await step({});
    const tuned = await step({ freeze: { except: ["layer3.1", "layer4", "fc"] } });
    assert.equal(tuned.loss, full.loss);
    for (const [name, v] of before) {
      const frozen = !/^(layer3\.1|layer4|fc)\./.test(name) && !/running_/.test(name);
      const want = frozen ? v : full.state.get(name)!;
      assert.deepEqual(tuned.state.get(name), want, `${name} (${frozen ? "frozen" : "trained"})`);
    }
    // Momentum buffers for what trains only.
    assert.ok(tuned.slots.every((s) => /^(layer3\.1|layer4|fc)\./.test(s)));
    assert.equal(
      tuned.slots.length,
      full.slots.filter((s) => /^(layer3\.1|layer4|fc)\./.test(s)).length,
    );
  },
});

Deno.test({
  name: "freeze: bad settings are refused naming the problem",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = resnet18(rt);
    const create = (freeze: unknown) =>
      Trainer.create(model, { batchSize: BATCH, optimizer: SGD, freeze: freeze as string[] });
    await assert.rejects(
      create(["layer5"]),
      /freeze: "layer5" selects no parameter of model resnet18 \(its top-level modules: conv1, bn1, layer1, layer2, layer3, layer4, fc\)/,
    );
    await assert.rejects(create(["layer4.1.bn"]), /"layer4\.1\.bn" selects no parameter/);
    await assert.rejects(create({ except: [] }), /every parameter is frozen/);
    await assert.rejects(create("fc"), /freeze must be a list of parameter name prefixes/);
    await assert.rejects(create([3]), TypeError);
    model.dispose();
  },
});

interface FrozenStep {
  loss: number;
  loss_f32: number;
  f32_rel: Record<string, number>;
}

for (const bnEval of [false, true]) {
  Deno.test({
    name: `freeze: a step with every batch norm frozen${bnEval ? " in eval mode" : ""} and the ` +
      "stem frozen matches PyTorch",
    ignore: !(await pythonHas("torch", "torchvision")),
    ...GPU_TEST,
    async fn() {
      const rt = await runtime();
      const model = resnet18(rt);
      // Train-like running statistics, so eval mode differs from batch statistics.
      const warm = await Trainer.create(model, { batchSize: BATCH, optimizer: { ...SGD, lr: 0 } });
      const w = batch(7);
      warm.step(w.x, w.y, 0);
      warm.dispose();
      const dir = await Deno.makeTempDir();
      await saveWeightsFile(model, `${dir}/w.safetensors`);
      const { x, y } = batch(2);
      await writeSafetensors(`${dir}/b.safetensors`, {
        x: { shape: [BATCH, ...SHAPE], data: x },
        y: { shape: [BATCH], data: Int32Array.from(y) },
        classes: { shape: [], data: Int32Array.of(CLASSES) },
      });
      const bnNames = model.graph.params.filter((p) => p.kind === "bn_weight")
        .map((p) => p.name.slice(0, -".weight".length));
      const freeze = ["conv1", ...bnNames];
      const settings = { freeze, bnEval, lr: SGD.lr, momentum: SGD.momentum, wd: SGD.weightDecay };
      const torch = await runPythonJson<FrozenStep>(
        new URL("../fixtures/torch_roundtrip.py", import.meta.url),
        [
          "frozen-step",
          `${dir}/w.safetensors`,
          `${dir}/b.safetensors`,
          JSON.stringify(settings),
          `${dir}/after.safetensors`,
        ],
      );
      const before = await model.stateDict();
      const trainer = await Trainer.create(model, {
        batchSize: BATCH,
        optimizer: SGD,
        freeze,
        frozenBatchNormEval: bnEval,
      });
      trainer.step(x, y, SGD.lr);
      const loss = (await trainer.readMetrics()).meanLoss;
      const after = await model.stateDict();
      const want = (await readSafetensors(`${dir}/after.safetensors`)).tensors;
      // The loss: 8× PyTorch's own f32 error, at least 1e-5 of it (≈ 170 ulps).
      const lossTol = Math.max(1e-5 * torch.loss, 8 * Math.abs(torch.loss_f32 - torch.loss));
      assert.ok(Math.abs(loss - torch.loss) <= lossTol, `loss ${loss} vs ${torch.loss}`);
      for (const [name, v] of after) {
        const ref = typedView(want.get(name)!) as Float64Array;
        const b = before.get(name)!;
        const frozen = freeze.some((p) => name.startsWith(`${p}.`)) &&
          !(name.includes("running_") && !bnEval);
        if (frozen) {
          assert.deepEqual(v, b, `${name} is frozen: unchanged`);
          continue;
        }
        // What the step changed, against PyTorch's change in f64: within 8× PyTorch's own f32
        // error of the largest change, and never less than 1e-4 of it (a ReLU input within
        // rounding of 0 moves a gradient). A missing or extra gradient path errs by O(1).
        // Plus the f32 rounding of the stored result (2⁻²³ of the largest value).
        let scale = 0, err = 0, size = 0;
        for (let i = 0; i < v.length; i++) {
          scale = Math.max(scale, Math.abs(ref[i] - b[i]));
          err = Math.max(err, Math.abs(v[i] - ref[i]));
          size = Math.max(size, Math.abs(ref[i]));
        }
        const tol = Math.max(1e-4, 8 * torch.f32_rel[name]) * scale + 2 ** -23 * size;
        assert.ok(err <= tol, `${name}: error ${err} of a change of ${scale} (tolerance ${tol})`);
      }
      trainer.dispose();
      model.dispose();
      await Deno.remove(dir, { recursive: true });
    },
  });
}
