/**
 * Use after dispose: every object throws a DisposedError saying what was disposed, instead of
 * training on freed buffers (which once changed a newly created model's weights) or failing
 * later with a WebGPU validation error.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { Evaluator } from "../../src/train/evaluator.ts";
import { Tensor } from "../../src/tensor.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { DisposedError } from "../../src/util/disposed.ts";

const graph = () => buildModel("resnet20", { inputShape: [1, 8, 8], classes: 3, width: 4 });
const sgd = { kind: "sgd", lr: 0.1, momentum: 0.9 } as const;
const x = new Float32Array(2 * 64).fill(0.5);
const y = [0, 1];

const disposed = (what: RegExp) => (e: unknown) =>
  e instanceof DisposedError && what.test(e.message);

Deno.test({
  name: "dispose: a trainer whose model was disposed throws and leaves other models alone",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const model = Model.create(rt, graph(), { name: "first", seed: 1 });
    const trainer = await Trainer.create(model, { batchSize: 2, optimizer: sgd });
    const evaluator = await Evaluator.create(model, { batchSize: 2 });
    trainer.step(x, y, 0.1);
    model.dispose();
    assert.ok(model.disposed && trainer.disposed && evaluator.disposed);
    // A new model may reuse the freed buffers: the old trainer must not write into them.
    const other = Model.create(rt, graph(), { name: "second", seed: 2 });
    const before = await other.stateDict();
    assert.throws(() => trainer.step(x, y, 0.1), disposed(/Trainer\.step: model first/));
    await assert.rejects(trainer.readMetrics(), disposed(/model first was disposed/));
    await assert.rejects(
      evaluator.run([{ x, y, size: 2 }]),
      disposed(/Evaluator\.run: model first/),
    );
    assert.throws(() => model.param("conv1.weight"), DisposedError);
    await assert.rejects(
      Trainer.create(model, { batchSize: 2, optimizer: sgd }),
      disposed(/Trainer\.create/),
    );
    assert.deepEqual(await other.stateDict(), before);
    // Disposing twice, and disposing what depended on the model, are no-ops.
    model.dispose();
    trainer.dispose();
    evaluator.dispose();
    assert.throws(() => trainer.step(x, y, 0.1), disposed(/this trainer was disposed/));
    other.dispose();
  },
});

Deno.test({
  name: "dispose: after the runtime's dispose every object says its runtime is gone",
  ...GPU_TEST,
  async fn() {
    const rt = await Runtime.create();
    const model = Model.create(rt, graph(), { seed: 1 });
    const trainer = await Trainer.create(model, { batchSize: 2, optimizer: sgd });
    const t = Tensor.fromArray(rt, [1, 2, 3], [3]);
    trainer.step(x, y, 0.1);
    await trainer.readMetrics();
    rt.dispose();
    assert.ok(rt.disposed && model.disposed && trainer.disposed);
    assert.throws(() => trainer.step(x, y, 0.1), disposed(/runtime was disposed/));
    await assert.rejects(model.stateDict(), disposed(/runtime was disposed/));
    await assert.rejects(t.toArray(), disposed(/runtime was disposed/));
    assert.throws(() => Model.create(rt, graph()), disposed(/runtime was disposed/));
    // Cleanup after the runtime is gone, in any order, does not throw.
    trainer.dispose();
    model.dispose();
    t.dispose();
    rt.dispose();
  },
});
