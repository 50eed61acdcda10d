/**
 * Defects 1 and 2 of the reliability probe, end to end. Before: one NaN pixel in a training batch
 * turned conv1's weights and bn1's running statistics into NaN while the reported loss stayed
 * ~2.3; a checkpoint with one NaN weight resumed and trained on; with a large learning rate the
 * test loss was NaN and the run went on, keeping a checkpoint full of non-finite values; and the
 * divergence message named a checkpoint that did not exist when the run had resumed from a file
 * outside --out. Now a non-finite step is caught on the GPU and makes no update, a non-finite
 * test loss stops the run, no checkpoint holds a non-finite value, and the message names the
 * checkpoint that exists.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { gatherRead, Model } from "../../src/model/model.ts";
import { StateDictError } from "../../src/model/state.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { Evaluator } from "../../src/train/evaluator.ts";
import { generateSynthetic } from "../../src/data/synthetic.ts";
import { type TrainConfig, trainRun } from "../../src/app/run.ts";
import { DivergedError } from "../../src/app/diverged_error.ts";
import { decodeSafetensors, encodeSafetensors, typedView } from "../../src/io/safetensors.ts";
import { readSafetensors } from "../../src/io/safetensors_file.ts";
import { saveCheckpoint } from "../../src/train/checkpoint_file.ts";
import { NonFiniteStateError } from "../../src/train/checkpoint.ts";

const graph = () => buildModel("resnet8", { inputShape: [1, 12, 12], classes: 10, width: 0.25 });

function batch(n: number) {
  const d = generateSynthetic({ count: n, seed: 3, channels: 1, size: 12 });
  return { x: Float32Array.from(d.images, (v) => v / 127.5 - 1), y: Int32Array.from(d.labels) };
}

async function everything(model: Model, trainer: Trainer) {
  const all = await model.stateDict();
  for (const [k, v] of await gatherRead(model.rt, trainer.optimizerState())) all.set(k, v);
  return all;
}

Deno.test({
  name: "reliability: a NaN or Inf pixel makes no update and is reported; training goes on",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    using model = Model.create(rt, graph(), { seed: 1 });
    using trainer = await Trainer.create(model, {
      batchSize: 8,
      optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
    });
    const { x, y } = batch(8);
    trainer.step(x, y, 0.1);
    assert.equal((await trainer.readMetrics()).skipped, 0);
    for (const bad of [NaN, Infinity]) {
      const before = await everything(model, trainer);
      const poisoned = x.slice();
      poisoned[5 * 144 + 77] = bad;
      trainer.step(poisoned, y, 0.1);
      // Weights, BN running statistics and momentum are exactly as before the step.
      const after = await everything(model, trainer);
      for (const [name, v] of before) assert.deepEqual(after.get(name), v, name);
      const m = await trainer.readMetrics();
      assert.equal(m.skipped, 1);
      assert.equal(m.firstSkippedStep, trainer.steps);
      assert.ok(m.nonFinite.includes("input") && m.nonFinite.includes("loss"), `${m.nonFinite}`);
      assert.ok(!Number.isFinite(m.meanLoss), "the window's loss shows the bad step");
      // A clean step trains again.
      trainer.step(x, y, 0.1);
      const m2 = await trainer.readMetrics();
      assert.equal(m2.skipped, 0);
      assert.ok(Number.isFinite(m2.meanLoss));
      const moved = await model.stateDict();
      assert.notDeepEqual(moved.get("conv1.weight"), before.get("conv1.weight"));
    }
    // Evaluation propagates a NaN pixel to the loss, as PyTorch does (it used to vanish in ReLU).
    using evaluator = await Evaluator.create(model, { batchSize: 8 });
    const poisoned = x.slice();
    poisoned[3] = NaN;
    assert.ok(Number.isNaN((await evaluator.run([{ x: poisoned, y, size: 8 }])).loss));
    assert.ok(Number.isFinite((await evaluator.run([{ x, y, size: 8 }])).loss));
  },
});

Deno.test({
  name: "reliability: an update that would overflow is not written and flags the step",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    using model = Model.create(rt, graph(), { seed: 1 });
    // Coupled weight decay 1e38: the penalized gradient is finite, lr × it is not.
    using trainer = await Trainer.create(model, {
      batchSize: 8,
      optimizer: { kind: "sgd", lr: 10, momentum: 0.9, weightDecay: 1e38 },
    });
    const { x, y } = batch(8);
    trainer.step(x, y, 10);
    const m = await trainer.readMetrics();
    assert.equal(m.skipped, 1);
    assert.deepEqual(m.nonFinite, ["update"]);
    for (const [name, v] of await everything(model, trainer)) {
      assert.ok(v.every(Number.isFinite), `${name} holds a non-finite value`);
    }
  },
});

const base: TrainConfig = {
  model: "resnet8",
  width: 0.25,
  data: "synthetic",
  subset: 64,
  testSubset: 32,
  epochs: 2,
  batch: 16,
  evalBatch: 16,
  optimizer: "sgd",
  lr: 0.05,
  momentum: 0.9,
  nesterov: false,
  wd: 5e-4,
  schedule: "constant",
  warmup: 0,
  seed: 1,
  out: "",
  evalEvery: 1,
  logEvery: 2,
  gradNormEvery: 0,
};
const quiet = { sink: () => {}, tty: false };

/** Rewrites a checkpoint file's tensors in place (to plant values no writer would write). */
async function edit(path: string, change: (name: string, v: Float32Array) => void) {
  const f = decodeSafetensors(await Deno.readFile(path));
  const tensors = new Map([...f.tensors].map(([k, t]) => {
    const data = typedView(t);
    if (data instanceof Float32Array) change(k, data);
    return [k, { dtype: t.dtype, shape: t.shape, data }];
  }));
  await Deno.writeFile(path, encodeSafetensors(tensors, f.metadata));
}

Deno.test({
  name: "reliability: a checkpoint with one NaN weight is refused on resume, naming the tensor",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    const first = { ...base, out: `${dir}/a` };
    await trainRun(first, { ...quiet, runtime: rt, stopAfterEpochs: 1 });
    const ckpt = `${dir}/a/checkpoint.safetensors`;
    await edit(ckpt, (name, v) => {
      if (name === "layer2.0.conv1.weight") v[3] = NaN;
    });
    await assert.rejects(
      trainRun({ ...first, resume: ckpt }, { ...quiet, runtime: rt }),
      (e) =>
        e instanceof StateDictError &&
        /non-finite \(layer2\.0\.conv1\.weight: 1 NaN\/Inf\)/.test(e.message),
    );
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "reliability: a NaN test loss stops the run and no checkpoint holds a non-finite value",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    // lr 1000: training stays finite (guarded), the first evaluation is NaN.
    await assert.rejects(
      trainRun({ ...base, lr: 1000, out: `${dir}/run` }, { ...quiet, runtime: rt }),
      (e) =>
        e instanceof DivergedError &&
        /(test loss became NaN after epoch 1|loss became NaN by step).*no checkpoint had been written yet/
          .test(e.message),
    );
    const names = [...Deno.readDirSync(`${dir}/run`)].map((e) => e.name);
    assert.ok(!names.includes("checkpoint.safetensors"), `${names}`);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "reliability: after resuming from outside --out, divergence names the checkpoint that exists",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    await trainRun({ ...base, out: `${dir}/a` }, { ...quiet, runtime: rt, stopAfterEpochs: 1 });
    const ckpt = `${dir}/a/checkpoint.safetensors`;
    // Finite but enormous momentum: the first resumed update is finite, the next forward is not.
    await edit(ckpt, (name, v) => {
      if (name.endsWith("momentum_buffer")) v.fill(1e38);
    });
    await assert.rejects(
      trainRun({ ...base, out: `${dir}/b`, resume: ckpt }, { ...quiet, runtime: rt }),
      (e) =>
        e instanceof DivergedError &&
        e.message.includes(`the last good checkpoint is ${ckpt}`),
    );
    // Nothing non-finite was written in b, and a's checkpoint is still whole.
    for (const path of [ckpt, `${dir}/b/checkpoint.safetensors`]) {
      try {
        for (const [name, t] of (await readSafetensors(path)).tensors) {
          const v = typedView(t);
          if (v instanceof Float32Array) assert.ok(v.every(Number.isFinite), `${path}: ${name}`);
        }
      } catch (e) {
        if (!/file not found/.test((e as Error).message)) throw e;
      }
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "reliability: no checkpoint is written from non-finite weights (checked on the GPU)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    try {
      using model = Model.create(rt, graph(), { seed: 1 });
      using trainer = await Trainer.create(model, {
        batchSize: 8,
        optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9 },
      });
      const meta = {
        model: "resnet8",
        epoch: 0,
        step: 0,
        loader: { seed: 0, epoch: 0, batch: 0 },
        config: {},
      };
      const path = `${dir}/c.safetensors`;
      await saveCheckpoint(path, model, trainer, meta);
      const good = await Deno.readFile(path);
      // Poison one weight and one momentum value behind the trainer's back.
      rt.write(model.param("layer3.0.bn2.weight"), 4, new Float32Array([NaN]));
      rt.write(trainer.optimizerState()[0][1], 0, new Float32Array([-Infinity]));
      await assert.rejects(
        saveCheckpoint(path, model, trainer, meta),
        (e) =>
          e instanceof NonFiniteStateError &&
          /2 non-finite value\(s\) in 2 tensor\(s\) \(layer3\.0\.bn2\.weight: 1, optimizer\.conv1\.weight\.momentum_buffer: 1\)/
            .test(e.message),
      );
      // The checkpoint on disk is the good one, and nothing else was left.
      assert.deepEqual(await Deno.readFile(path), good);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["c.safetensors"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
