/**
 * Defect 4 of the reliability probe: a Float64Array input of the right length was accepted; its
 * write overran the input buffer, the step trained on the previous input, and a GPU validation
 * error surfaced later on an unrelated call. Now inputs are checked for type as well as length,
 * with a TypeError naming what was expected, before anything is written or recorded.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { Evaluator } from "../../src/train/evaluator.ts";

const typeError = (pattern: RegExp) => (e: unknown) =>
  e instanceof TypeError && pattern.test(e.message);

Deno.test({
  name: "reliability: typed arrays of the wrong type are TypeErrors, and nothing is written",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const graph = buildModel("resnet8", { inputShape: [1, 8, 8], classes: 3, width: 0.25 });
    using model = Model.create(rt, graph, { seed: 1 });
    using trainer = await Trainer.create(model, {
      batchSize: 2,
      optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9 },
    });
    using evaluator = await Evaluator.create(model, { batchSize: 2 });
    const x = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i));
    trainer.step(x, [0, 1], 0.1);
    await trainer.readMetrics();
    const before = await model.stateDict();
    const steps = trainer.steps;
    const wrong: [unknown, RegExp][] = [
      [Float64Array.from(x), /input batch must be a Float32Array, got Float64Array/],
      [Array.from(x), /input batch must be a Float32Array, got Array \(convert it/],
      [new Uint8Array(128), /got Uint8Array/],
      [new Int32Array(128), /got Int32Array/],
      [null, /got null/],
    ];
    for (const [bad, message] of wrong) {
      assert.throws(() => trainer.step(bad as Float32Array, [0, 1], 0.1), typeError(message));
      await assert.rejects(
        evaluator.run([{ x: bad as Float32Array, y: [0, 1], size: 2 }]),
        typeError(message),
      );
    }
    assert.throws(
      () => trainer.step(x, 7 as unknown as number[], 0.1),
      typeError(/labels must be an array of class indices, got number/),
    );
    // Nothing ran: the weights and the step count are as they were, and the device reports no
    // error on the next calls (the overrun used to surface there).
    assert.equal(trainer.steps, steps);
    assert.deepEqual(await model.stateDict(), before);
    trainer.step(x, [0, 1], 0.1);
    const m = await trainer.readMetrics();
    assert.ok(Number.isFinite(m.meanLoss) && m.skipped === 0);
    // Loading state takes Float32Array data only, too.
    assert.throws(
      () =>
        model.loadStateDict(
          new Map([["fc.bias", {
            shape: [3],
            data: new Float64Array(3) as unknown as Float32Array,
          }]]),
          { strict: false },
        ),
      typeError(/fc\.bias: data must be a Float32Array, got Float64Array/),
    );
  },
});
