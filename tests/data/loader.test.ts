import assert from "node:assert/strict";
import { computeChannelStats } from "../../src/data/augment.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { type Batch, BatchLoader } from "../../src/data/loader.ts";

/** Sample i is a constant image of value i (so it can be identified after normalization). */
function constant(count: number, c = 1, h = 4, w = 4): Dataset {
  const per = c * h * w;
  const images = new Uint8Array(count * per);
  for (let i = 0; i < count; i++) images.fill(i, i * per, (i + 1) * per);
  return {
    images,
    labels: Uint8Array.from({ length: count }, (_, i) => i % 10),
    count,
    channels: c,
    height: h,
    width: w,
    classes: 10,
    name: "const",
  };
}

const raw = { mean: new Float32Array([0]), std: new Float32Array([1 / 255]) };

/** Recovers the sample ids in a batch from the centre pixel (never padding when pad < h/2). */
function ids(b: Batch, per = 16): number[] {
  return Array.from({ length: b.size }, (_, i) => Math.round(b.x[i * per + 5]));
}

Deno.test("train loader: epoch covers each sample once, labels aligned, last partial dropped", async () => {
  const ds = constant(23);
  const loader = BatchLoader.train(ds, {
    batchSize: 5,
    stats: raw,
    seed: 1,
    augment: { pad: 1, flip: true },
  });
  assert.equal(loader.batchesPerEpoch, 4);
  const seen: number[] = [];
  let n = 0;
  for await (const b of loader.epoch()) {
    assert.equal(b.size, 5);
    assert.equal(b.index, n++);
    const got = ids(b);
    got.forEach((id, i) => assert.equal(b.y[i], id % 10, "label follows its image"));
    seen.push(...got);
  }
  assert.equal(n, 4);
  assert.equal(new Set(seen).size, 20);
  assert.notDeepEqual(seen, Array.from({ length: 20 }, (_, i) => i), "shuffled");
  // The next epoch uses a different order.
  const e1: number[] = [];
  for await (const b of loader.epoch()) {
    assert.equal(b.epoch, 1);
    e1.push(...ids(b));
  }
  assert.notDeepEqual(e1, seen);
});

Deno.test("test loader keeps the last partial batch and reports its size", async () => {
  const ds = constant(23);
  const loader = BatchLoader.test(ds, { batchSize: 10, stats: raw });
  assert.equal(loader.batchesPerEpoch, 3);
  assert.equal(loader.lastBatchSize, 3);
  const sizes: number[] = [];
  const all: number[] = [];
  for await (const b of loader.epoch()) {
    sizes.push(b.size);
    all.push(...ids(b));
    if (b.last) {
      assert.ok(b.x.subarray(3 * 16).every((v) => v === 0));
      assert.ok(b.y.subarray(3).every((v) => v === -1));
    }
  }
  assert.deepEqual(sizes, [10, 10, 3]);
  assert.deepEqual(all, Array.from({ length: 23 }, (_, i) => i));
});

Deno.test("batches reuse two preallocated buffers (double buffering)", async () => {
  const loader = BatchLoader.test(constant(40), { batchSize: 10, stats: raw });
  const bufs = [];
  for await (const b of loader.epoch()) bufs.push(b.x);
  assert.equal(bufs[0], bufs[2]);
  assert.equal(bufs[1], bufs[3]);
  assert.notEqual(bufs[0], bufs[1]);
});

Deno.test("restoring the state resumes the exact same batches", async () => {
  const ds = constant(50, 1, 8, 8);
  const make = () =>
    BatchLoader.train(ds, { batchSize: 8, stats: computeChannelStats(ds), seed: 9 });
  const a = make();
  const ref: Float32Array[] = [];
  const labels: Int32Array[] = [];
  let saved = a.state;
  for (let k = 0; k < 15; k++) {
    const b = await a.next();
    ref.push(b.x.slice());
    labels.push(b.y.slice());
    if (k === 8) saved = a.state; // mid-epoch 1 (6 batches per epoch)
  }
  assert.deepEqual(saved, { seed: 9, epoch: 1, batch: 3 });
  const b = make();
  b.restore(saved);
  for (let k = 9; k < 15; k++) {
    const batch = await b.next();
    assert.deepEqual(batch.x, ref[k], `batch ${k}`);
    assert.deepEqual(batch.y, labels[k]);
  }
  // A fully consumed epoch reads as the start of the next one.
  const c = make();
  for await (const _ of c.epoch()) { /* drain */ }
  assert.deepEqual(c.state, { seed: 9, epoch: 1, batch: 0 });
  // Restoring on a loader that has a prefetch pending discards it.
  const d = make();
  await d.next();
  d.restore(saved);
  assert.deepEqual((await d.next()).x, ref[9]);
});

Deno.test("subset and bad options", () => {
  const ds = constant(30);
  assert.equal(BatchLoader.test(ds, { batchSize: 4, stats: raw, subset: 10 }).batchesPerEpoch, 3);
  assert.throws(() => BatchLoader.train(ds, { batchSize: 64, stats: raw }), /no full batch of 64/);
  assert.throws(() => BatchLoader.test(ds, { batchSize: 4, stats: raw, subset: 31 }), /subset 31/);
});
