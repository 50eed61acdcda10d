/**
 * The whole training path learns: ResNet-20 and plain-20 each overfit one fixed batch of 64
 * synthetic images to ≥ 99% training accuracy within a bounded number of steps. A sign error in
 * any backward kernel, a missed gradient path or a broken optimizer shows up here as a stall.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { generateSynthetic } from "../../src/data/synthetic.ts";

const BATCH = 64, SIZE = 16, MAX_STEPS = 150;

for (const name of ["resnet20", "plain20"]) {
  Deno.test({
    name: `overfit: ${name} reaches ≥ 99% on a fixed batch of ${BATCH} within ${MAX_STEPS} steps`,
    ...GPU_TEST,
    async fn() {
      const rt = await runtime();
      const data = generateSynthetic({ count: BATCH, seed: 3, channels: 1, size: SIZE });
      const x = Float32Array.from(data.images, (v) => v / 127.5 - 1);
      const y = Array.from(data.labels);
      const model = Model.create(rt, buildModel(name, { inputShape: [1, SIZE, SIZE] }), {
        seed: 2,
      });
      const t = await Trainer.create(model, {
        batchSize: BATCH,
        optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9 },
      });
      let accuracy = 0, step = 0;
      while (step < MAX_STEPS && accuracy < 0.99) {
        for (let i = 0; i < 9; i++, step++) t.step(x, y, 0.05);
        await t.readMetrics(); // drop the window, then measure one step alone
        t.step(x, y, 0.05);
        step++;
        accuracy = (await t.readMetrics()).accuracy;
      }
      assert.ok(accuracy >= 0.99, `${name}: ${(100 * accuracy).toFixed(1)}% after ${step} steps`);
      console.log(`${name}: ${(100 * accuracy).toFixed(1)}% after ${step} steps`);
      t.dispose();
      model.dispose();
    },
  });
}
