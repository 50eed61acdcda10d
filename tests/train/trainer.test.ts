/**
 * The planned training step as a user drives it: steady state allocates and compiles nothing,
 * bad input fails naming expected vs got, checkpoints round-trip bit-exactly, and a resumed run
 * continues exactly where an uninterrupted one would be.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime, stepLabels } from "../helpers/gpu.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import type { Graph } from "../../src/graph/ir.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { Model } from "../../src/model/model.ts";
import { StateDictError } from "../../src/model/state.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { generateSynthetic } from "../../src/data/synthetic.ts";
import { loadCheckpoint, readCheckpoint, saveCheckpoint } from "../../src/train/checkpoint_file.ts";
import { type TrainConfig, trainRun } from "../../src/app/run.ts";
import { readMetrics } from "../../src/app/metrics_log.ts";
import { buildStepPlan } from "../../src/scheduler/step_plan.ts";

/** A fixed synthetic batch, scaled to roughly unit range. */
function fixedBatch(n: number, size = 28) {
  const d = generateSynthetic({ count: n, seed: 7, channels: 1, size });
  return { x: Float32Array.from(d.images, (v) => v / 127.5 - 1), y: Int32Array.from(d.labels) };
}

/** A model trained three SGD steps on the fixed 12×12 batch of 8; the caller releases both. */
async function trainThreeSteps(rt: Runtime, graph: Graph, seed: number) {
  const { x, y } = fixedBatch(8, 12);
  const model = Model.create(rt, graph, { seed });
  const trainer = await Trainer.create(model, {
    batchSize: 8,
    optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
  });
  for (let i = 0; i < 3; i++) trainer.step(x, y, 0.1);
  return { model, trainer, metrics: await trainer.readMetrics(), x };
}

Deno.test({
  name: "trainer: steady-state steps create no buffers, bind groups or pipelines",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = Model.create(rt, buildModel("resnet20", { inputShape: [1, 12, 12] }), {
      seed: 1,
    });
    const t = await Trainer.create(model, {
      batchSize: 8,
      optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
      clipGradNorm: 5,
    });
    const { x, y } = fixedBatch(8, 12);
    t.captureGradNorms();
    t.step(x, y, 0.1);
    await t.readMetrics();
    await t.readGradNorms();
    const before = {
      ...rt.counters,
      pool: rt.pool.stats().created,
      scratch: rt.scratch.created,
    };
    for (let i = 0; i < 5; i++) {
      if (i === 2) t.captureGradNorms();
      t.step(x, y, 0.05);
    }
    await t.readMetrics();
    await t.readGradNorms();
    assert.equal(rt.pool.stats().created, before.pool, "pooled buffers created");
    assert.equal(rt.counters.buffersCreated, before.buffersCreated, "uniform/staging buffers");
    assert.equal(rt.scratch.created, before.scratch, "shared scratch buffers");
    assert.equal(rt.counters.bindGroupsCreated, before.bindGroupsCreated, "bind groups");
    assert.equal(rt.counters.pipelinesCompiled, before.pipelinesCompiled, "pipelines");
    assert.equal(rt.counters.submits - before.submits, 5 + 2, "one submit per step + 2 reads");
    t.dispose();
    model.dispose();
  },
});

Deno.test({
  name: "trainer: wrong input shape or labels fail naming expected vs got",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = Model.create(rt, buildModel("resnet20", { inputShape: [1, 12, 12] }));
    const t = await Trainer.create(model, { batchSize: 4, optimizer: { kind: "sgd", lr: 0.1 } });
    assert.throws(
      () => t.step(new Float32Array(4 * 3 * 12 * 12), [0, 1, 2, 3], 0.1),
      /expected 4×1×12×12 = 576 .*432 values per image; the model was built for 1×12×12 = 144/,
    );
    assert.throws(() => t.step(new Float32Array(576), [0, 1, 2], 0.1), /3 labels for a batch of 4/);
    assert.throws(() => t.step(new Float32Array(576), [0, 1, 2, 10], 0.1), /label 10 at index 3/);
    t.dispose();
    model.dispose();
  },
});

Deno.test({
  name: "checkpoint: save → load round-trips parameters, BN statistics and momentum bit-exactly",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const graph = buildModel("resnet20", { inputShape: [1, 12, 12], shortcut: "B" });
    const a = Model.create(rt, graph, { seed: 3 });
    const ta = await Trainer.create(a, {
      batchSize: 4,
      optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9 },
    });
    const { x, y } = fixedBatch(4, 12);
    for (let i = 0; i < 3; i++) ta.step(x, y, 0.1);
    const dir = await Deno.makeTempDir();
    const path = `${dir}/c.safetensors`;
    const loader = { seed: 1, epoch: 2, batch: 5 };
    await saveCheckpoint(path, a, ta, {
      epoch: 2,
      step: 3,
      loader,
      model: "resnet20",
      config: { x: 1 },
    });
    const b = Model.create(rt, graph, { seed: 99 });
    const tb = await Trainer.create(b, {
      batchSize: 4,
      optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9 },
    });
    const meta = await loadCheckpoint(path, b, tb);
    assert.deepEqual(meta, {
      model: "resnet20",
      epoch: 2,
      step: 3,
      loader,
      config: { x: 1 },
      preprocessing: a.preprocessing,
    });
    const [sa, sb] = [await a.stateDict(), await b.stateDict()];
    for (const [name, v] of sa) assert.deepEqual(sb.get(name), v, name);
    const { gatherRead } = await import("../../src/model/model.ts");
    const [oa, ob] = [
      await gatherRead(rt, ta.optimizerState()),
      await gatherRead(rt, tb.optimizerState()),
    ];
    assert.ok(oa.size > 0);
    for (const [name, v] of oa) assert.deepEqual(ob.get(name), v, name);
    // A checkpoint of another model is refused by name and shape.
    const other = Model.create(rt, buildModel("resnet32", { inputShape: [1, 12, 12] }));
    await assert.rejects(loadCheckpoint(path, other, null), StateDictError);
    for (const t of [ta, tb]) t.dispose();
    for (const m of [a, b, other]) m.dispose();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "resume: a run interrupted after epoch 1 and resumed logs the same metrics as one run",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    const base: TrainConfig = {
      model: "resnet20",
      width: 0.5,
      data: "synthetic",
      subset: 96,
      testSubset: 50,
      epochs: 2,
      batch: 16,
      evalBatch: 25,
      optimizer: "sgd",
      lr: 0.05,
      momentum: 0.9,
      nesterov: true,
      wd: 5e-4,
      schedule: "cosine",
      warmup: 2,
      seed: 11,
      out: `${dir}/full`,
      evalEvery: 1,
      augment: true,
      logEvery: 3,
      gradNormEvery: 4,
    };
    const sink = () => {};
    const full = await trainRun(base, { runtime: rt, sink, tty: false });
    await trainRun({ ...base, out: `${dir}/first` }, {
      runtime: rt,
      sink,
      tty: false,
      stopAfterEpochs: 1,
    });
    const resumed = await trainRun(
      { ...base, out: `${dir}/second`, resume: `${dir}/first/checkpoint.safetensors` },
      { runtime: rt, sink, tty: false },
    );
    assert.equal(resumed.steps, full.steps);
    const strip = (rs: Record<string, unknown>[]) =>
      // Measured times, not results: the speed and the loader's wait.
      rs.map(({ images_per_s: _, loader_wait_ms: _w, ...r }) => JSON.stringify(r));
    const a = strip(readMetrics(`${dir}/full/metrics.jsonl`));
    const first = strip(readMetrics(`${dir}/first/metrics.jsonl`));
    // The resumed run's log is the whole run's (the first part carried over from the checkpoint's
    // directory). Same adapter, same seed: identical to the last bit.
    assert.deepEqual(strip(readMetrics(`${dir}/second/metrics.jsonl`)), a);
    assert.deepEqual(first, a.slice(0, first.length));
    assert.equal(resumed.testAccuracy, full.testAccuracy);
    assert.equal(resumed.trainLoss, full.trainLoss);
    for (
      const f of [
        "config.json",
        "metrics.jsonl",
        "loss.svg",
        "error.svg",
        "grad_norms.svg",
        "checkpoint.safetensors",
        "summary.json",
      ]
    ) {
      assert.ok((await Deno.stat(`${dir}/full/${f}`)).size > 0, f);
    }
    // The run's normalization and class names travel with it: in config.json and the checkpoint.
    const config = JSON.parse(await Deno.readTextFile(`${dir}/full/config.json`));
    const ckpt = await readCheckpoint(`${dir}/full/checkpoint.safetensors`);
    assert.deepEqual(ckpt.meta.preprocessing, config.modelPreprocessing);
    assert.equal(config.modelPreprocessing.classes, 10);
    assert.equal(config.modelPreprocessing.classNames.length, 10);
    assert.ok(config.modelPreprocessing.std.every((v: number) => v > 0 && v !== 1));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "divergence: a NaN loss stops the run with a clear message and no half-written files",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    const cfg: TrainConfig = {
      model: "resnet8",
      data: "synthetic",
      subset: 64,
      testSubset: 20,
      epochs: 1,
      batch: 16,
      evalBatch: 20,
      optimizer: "sgd",
      lr: 1e30,
      momentum: 0.9,
      nesterov: false,
      wd: 0,
      schedule: "constant",
      warmup: 0,
      seed: 1,
      out: `${dir}/run`,
      evalEvery: 1,
      // augment unset: resolved from the data set (off for synthetic) and recorded as resolved.
      logEvery: 2,
      gradNormEvery: 0,
    };
    await assert.rejects(
      trainRun(cfg, { runtime: rt, sink: () => {}, tty: false }),
      /loss became (NaN|Infinity) by step [24].*no checkpoint had been written yet/,
    );
    const names = [...Deno.readDirSync(`${dir}/run`)].map((e) => e.name);
    assert.ok(!names.some((n) => n.includes(".tmp")), `temp files left: ${names}`);
    assert.ok(!names.includes("checkpoint.safetensors"));
    assert.equal(JSON.parse(Deno.readTextFileSync(`${dir}/run/config.json`)).augment, false);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "trainer: keeping Winograd input transforms for the filter gradient changes no bit",
  ...GPU_TEST,
  async fn() {
    // The software policy keeps them; a second runtime recomputes them (policy override).
    const kept = await runtime("cpu");
    assert.ok(kept.policy.winogradKeepInput && kept.policy.convWinograd === 4);
    const recomputed = await runtime("cpu", { winogradKeepInput: false });
    const graph = buildModel("resnet20", { inputShape: [1, 12, 12] });
    const runs = [];
    for (const rt of [kept, recomputed]) {
      const { model, trainer: t, metrics } = await trainThreeSteps(rt, graph, 5);
      const packs = stepLabels(t.plan.backward)
        .filter((l) => l.startsWith("conv2d_winograd:input_f")).length;
      runs.push({ state: await model.stateDict(), metrics, packs, bytes: t.plan.plannedBytes });
      t.dispose();
      model.dispose();
    }
    const [a, b] = runs;
    // 16 of ResNet-20's 3×3 convolutions are stride 1 (Winograd); their filter gradients no
    // longer transform x, which the plan pays for in memory.
    assert.equal(b.packs - a.packs, 16, `input transforms in backward: ${a.packs} vs ${b.packs}`);
    assert.ok(a.bytes > b.bytes, `planned ${a.bytes} vs ${b.bytes} bytes`);
    assert.deepEqual(a.metrics, b.metrics);
    assert.equal(a.state.size, b.state.size);
    for (const [name, v] of a.state) assert.deepEqual(b.state.get(name), v, name);
  },
});

Deno.test({
  name: "trainer: a batch norm fused with its residual join trains as the two passes did",
  ...GPU_TEST,
  async fn() {
    const fused = await runtime("cpu");
    assert.ok(fused.policy.fuseBatchNormJoin);
    const unfused = await runtime("cpu", { fuseBatchNormJoin: false });
    // Option B: two of the joins add two batch norms (the later one absorbs the join).
    const graph = buildModel("resnet20", { inputShape: [1, 12, 12], shortcut: "B" });
    const runs = [];
    for (const rt of [fused, unfused]) {
      const { model, trainer: t, metrics, x } = await trainThreeSteps(rt, graph, 6);
      const forward = stepLabels(t.plan.forward);
      t.dispose();
      // Inference with the trained running statistics (normalize_add's EVAL path).
      const ev = await buildStepPlan(model, { batchSize: 8, mode: "eval" });
      rt.write(ev.input, 0, x);
      rt.replay(ev.forward);
      rt.submit();
      const logits = new Float32Array(await rt.read(ev.logits, 8 * graph.classes * 4));
      const evalJoins = stepLabels(ev.forward).filter((l) => l.endsWith(":normalize_add")).length;
      ev.dispose();
      runs.push({
        state: await model.stateDict(),
        metrics,
        forward,
        bytes: t.plan.plannedBytes,
        logits,
        evalJoins,
      });
      model.dispose();
    }
    const [a, b] = runs;
    const count = (labels: string[], k: string) => labels.filter((l) => l.includes(k)).length;
    // Nine joins: no join pass and nine fewer normalize passes' outputs stored in forward.
    assert.equal(count(a.forward, "residual:add_relu_fwd"), 0);
    assert.equal(count(b.forward, "residual:add_relu_fwd"), 9);
    assert.equal(count(a.forward, ":normalize_add"), 9);
    assert.equal(a.forward.length, b.forward.length - 9);
    assert.ok(a.bytes <= b.bytes, `planned ${a.bytes} vs ${b.bytes} bytes`);
    assert.deepEqual(a.metrics, b.metrics);
    assert.equal(a.state.size, b.state.size);
    for (const [name, v] of a.state) assert.deepEqual(b.state.get(name), v, name);
    assert.deepEqual([a.evalJoins, b.evalJoins], [9, 0]);
    assert.deepEqual(a.logits, b.logits);
  },
});
