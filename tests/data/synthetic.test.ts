import assert from "node:assert/strict";
import { generateSynthetic } from "../../src/data/synthetic.ts";
import { loadDataset } from "../../src/data/dataset.ts";

Deno.test("synthetic data is deterministic in the seed and balanced", () => {
  const a = generateSynthetic({ count: 500, seed: 7 });
  const b = generateSynthetic({ count: 500, seed: 7 });
  const c = generateSynthetic({ count: 500, seed: 8 });
  assert.deepEqual(a.images, b.images);
  assert.deepEqual(a.labels, b.labels);
  assert.notDeepEqual(a.images, c.images);
  assert.equal(a.images.length, 500 * 784);
  const hist = new Array(10).fill(0);
  for (const l of a.labels) hist[l]++;
  assert.deepEqual(hist, new Array(10).fill(50));
});

Deno.test("synthetic samples vary within a class and span the pixel range", () => {
  const { images, labels } = generateSynthetic({ count: 1000, seed: 1 });
  // Two samples of the same class are not near-copies.
  const first = [...labels.keys()].filter((i) => labels[i] === 0).slice(0, 2);
  let diff = 0;
  for (let p = 0; p < 784; p++) {
    diff += Math.abs(images[first[0] * 784 + p] - images[first[1] * 784 + p]);
  }
  assert.ok(diff / 784 > 10, `within-class mean abs diff ${diff / 784}`);
  // Not all pixels saturate: values span the range.
  let lo = 255, hi = 0;
  for (const v of images) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  assert.ok(lo < 10 && hi > 245);
});

Deno.test("synthetic via loadDataset: shapes, colour variant, speed", async () => {
  const t = performance.now();
  const { train, test } = await loadDataset("synthetic", { seed: 3 });
  const ms = performance.now() - t;
  assert.equal(train.count, 10000);
  assert.equal(test.count, 2000);
  assert.deepEqual([train.channels, train.height, train.width, train.classes], [1, 28, 28, 10]);
  assert.notDeepEqual(train.images.subarray(0, 784), test.images.subarray(0, 784));
  assert.ok(ms < 3000, `generation took ${ms.toFixed(0)} ms`);
  const rgb = await loadDataset("synthetic", { channels: 3, trainCount: 100, testCount: 10 });
  assert.deepEqual([rgb.train.channels, rgb.train.height, rgb.train.width], [3, 32, 32]);
  assert.equal(rgb.train.images.length, 100 * 3 * 32 * 32);
});
