import assert from "node:assert/strict";
import { CIFAR_RECORD, parseCifarBatch } from "../../src/data/cifar.ts";
import { loadDataset } from "../../src/data/dataset.ts";

function batch(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR_RECORD);
  labels.forEach((l, i) => {
    out[i * CIFAR_RECORD] = l;
    // Pixel value encodes (record, channel) so ordering can be checked.
    for (let c = 0; c < 3; c++) {
      out.fill(i * 10 + c, i * CIFAR_RECORD + 1 + c * 1024, i * CIFAR_RECORD + 1 + (c + 1) * 1024);
    }
  });
  return out;
}

Deno.test("CIFAR-10 batch parses to CHW images and labels", () => {
  const b = parseCifarBatch(batch([7, 2]), "x.bin");
  assert.equal(b.count, 2);
  assert.deepEqual(Array.from(b.labels), [7, 2]);
  assert.equal(b.images[0], 0);
  assert.equal(b.images[1024], 1);
  assert.equal(b.images[2048 + 5], 2);
  assert.equal(b.images[3072 + 2048], 12);
});

Deno.test("CIFAR-10 errors: bad size, bad label, missing files", async () => {
  assert.throws(
    () => parseCifarBatch(batch([1]).subarray(0, 3000), "short.bin"),
    /short\.bin: size 3000 bytes is not a positive multiple of the 3073-byte/,
  );
  assert.throws(
    () => parseCifarBatch(batch([1, 10]), "lab.bin"),
    /lab\.bin: label 10 in record 1 is out of range \(expected 0\.\.9\)/,
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/cifar-10-batches-bin`);
    const root = `${dir}/cifar-10-batches-bin`;
    for (let i = 1; i <= 4; i++) await Deno.writeFile(`${root}/data_batch_${i}.bin`, batch([i]));
    await Deno.writeFile(`${root}/test_batch.bin`, batch([9, 0]));
    await assert.rejects(
      loadDataset("cifar10", { dir }),
      /missing CIFAR-10 file\(s\): data_batch_5\.bin/,
    );
    await Deno.writeFile(`${root}/data_batch_5.bin`, batch([5, 6]));
    const { train, test } = await loadDataset(dir);
    assert.equal(train.count, 6);
    assert.deepEqual(Array.from(train.labels), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([train.channels, train.height, train.width], [3, 32, 32]);
    assert.equal(test.count, 2);
    assert.equal(train.classNames?.[0], "airplane");
    assert.equal(train.images.length, 6 * 3072);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
