import assert from "node:assert/strict";
import {
  augmentsByDefault,
  computeChannelStats,
  Normalizer,
  writeSample,
} from "../../src/data/augment.ts";
import type { Dataset } from "../../src/data/dataset.ts";

/** 2 samples, 2 channels, 3×5, pixel value = sample·100 + channel·50 + y·5 + x. */
function tiny(): Dataset {
  const images = new Uint8Array(2 * 2 * 15);
  for (let i = 0; i < 2; i++) {
    for (let c = 0; c < 2; c++) {
      for (let p = 0; p < 15; p++) images[(i * 2 + c) * 15 + p] = i * 100 + c * 50 + p;
    }
  }
  return {
    images,
    labels: Uint8Array.from([4, 1]),
    count: 2,
    channels: 2,
    height: 3,
    width: 5,
    classes: 10,
    name: "tiny",
  };
}

// Identity normalization in raw pixel units, so outputs read as the input pixels.
const identity = new Normalizer({ mean: new Float32Array(2), std: new Float32Array([1, 1]) }, 1);

Deno.test("per-channel stats match a direct computation", () => {
  const ds = tiny();
  const { mean, std } = computeChannelStats(ds);
  for (let c = 0; c < 2; c++) {
    const vals: number[] = [];
    for (let i = 0; i < 2; i++) {
      for (let p = 0; p < 15; p++) vals.push(ds.images[(i * 2 + c) * 15 + p] / 255);
    }
    const m = vals.reduce((a, b) => a + b) / vals.length;
    const s = Math.sqrt(vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length);
    assert.ok(Math.abs(mean[c] - m) < 1e-6);
    assert.ok(Math.abs(std[c] - s) < 1e-6);
  }
  // Normalizing with these stats gives zero mean, unit variance.
  const norm = new Normalizer({ mean, std }, 1 / 255);
  const out = new Float32Array(60);
  for (let i = 0; i < 2; i++) {
    writeSample(ds, i, norm, { dy: 0, dx: 0, flip: false }, 0, out, i * 30);
  }
  for (let c = 0; c < 2; c++) {
    const v = [...out.subarray(c * 15, c * 15 + 15), ...out.subarray(30 + c * 15, 45 + c * 15)];
    const m = v.reduce((a, b) => a + b) / v.length;
    const var_ = v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
    assert.ok(Math.abs(m) < 1e-5 && Math.abs(var_ - 1) < 1e-4);
  }
});

Deno.test("identity crop copies the sample; flip of flip is the identity", () => {
  const ds = tiny();
  const out = new Float32Array(30);
  writeSample(ds, 1, identity, { dy: 4, dx: 4, flip: false }, 4, out, 0);
  assert.deepEqual(Array.from(out), Array.from(ds.images.subarray(30, 60)));
  const flipped = new Float32Array(30);
  writeSample(ds, 1, identity, { dy: 4, dx: 4, flip: true }, 4, flipped, 0);
  // Row y of the flip is row y reversed.
  for (let c = 0; c < 2; c++) {
    for (let y = 0; y < 3; y++) {
      const row = Array.from(out.subarray(c * 15 + y * 5, c * 15 + y * 5 + 5));
      assert.deepEqual(
        Array.from(flipped.subarray(c * 15 + y * 5, c * 15 + y * 5 + 5)),
        [
          ...row,
        ].reverse(),
      );
    }
  }
  // Flipping the flipped image back (as a data set of its own) restores the original.
  const back = new Float32Array(30);
  const fds: Dataset = { ...ds, images: flipped, count: 1 };
  writeSample(fds, 0, identity, { dy: 4, dx: 4, flip: true }, 4, back, 0);
  assert.deepEqual(back, out);
});

Deno.test("crop at offset 0 shifts the image and fills the pad region with zeros", () => {
  const ds = tiny();
  const out = new Float32Array(30).fill(NaN);
  // Offset (0, 0) in the padded image: output (y, x) = source (y − 2, x − 2) with pad 2.
  writeSample(ds, 0, identity, { dy: 0, dx: 0, flip: false }, 2, out, 0);
  for (let c = 0; c < 2; c++) {
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 5; x++) {
        const v = out[c * 15 + y * 5 + x];
        const sy = y - 2, sx = x - 2;
        const want = sy < 0 || sx < 0 ? 0 : ds.images[c * 15 + sy * 5 + sx];
        assert.equal(v, want, `c${c} y${y} x${x}`);
      }
    }
  }
  // Opposite corner offset (2·pad): shifted the other way, zeros at the bottom/right.
  writeSample(ds, 0, identity, { dy: 4, dx: 4, flip: false }, 2, out, 0);
  assert.equal(out[0], ds.images[2 * 5 + 2]);
  assert.equal(out[14], 0);
  assert.equal(out[1 * 5 + 2], 0);
});

Deno.test("augment: only CIFAR-10 augments by default", () => {
  assert.equal(augmentsByDefault({ name: "cifar10/train" }), true);
  assert.equal(augmentsByDefault({ name: "fashion-mnist/train" }), false);
  assert.equal(augmentsByDefault({ name: "mnist/train" }), false);
  assert.equal(augmentsByDefault({ name: "synthetic/train" }), false);
});
