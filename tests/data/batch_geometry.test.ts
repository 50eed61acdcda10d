import assert from "node:assert/strict";
import { batchGeometry } from "../../src/data/batch_geometry.ts";

Deno.test("batch geometry: partial last batch kept or dropped; bad sizes named", () => {
  assert.deepEqual(batchGeometry("set", 10, 4, false), { batchesPerEpoch: 3, lastBatchSize: 2 });
  assert.deepEqual(batchGeometry("set", 10, 4, true), { batchesPerEpoch: 2, lastBatchSize: 4 });
  assert.deepEqual(batchGeometry("set", 8, 4, false), { batchesPerEpoch: 2, lastBatchSize: 4 });
  assert.deepEqual(batchGeometry("set", 3, 4, false), { batchesPerEpoch: 1, lastBatchSize: 3 });
  assert.throws(() => batchGeometry("set", 3, 4, true), /set: 3 samples make no full batch of 4/);
  for (const b of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => batchGeometry("set", 10, b, false),
      /batch size must be a positive integer/,
    );
  }
});
