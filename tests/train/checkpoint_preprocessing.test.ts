/**
 * Checkpoints carry the model's preprocessing (normalization, input shape, classes, class
 * names): loading applies it; a checkpoint written before it was stored loads and leaves the
 * model's preprocessing as it was (the documented default); one that does not fit the model is
 * refused before anything is written.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import {
  applyCheckpoint,
  type CheckpointMeta,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../src/train/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";

const META: CheckpointMeta = {
  model: "resnet8",
  epoch: 1,
  step: 10,
  loader: { seed: 0, epoch: 1, batch: 0 },
  config: {},
};

/** `bytes` with its metadata changed by `edit` (tensors as they were). */
function withMetadata(bytes: Uint8Array, edit: (md: Record<string, string>) => void) {
  const file = decodeSafetensors(bytes);
  const md = { ...file.metadata };
  edit(md);
  return encodeSafetensors(
    new Map(
      [...file.tensors].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: t.bytes }]),
    ),
    md,
  );
}

Deno.test({
  name:
    "checkpoint: the model's preprocessing is stored and applied; old checkpoints keep the model's",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const graph = buildModel("resnet8", { inputShape: [3, 8, 8], classes: 3 });
    const a = Model.create(rt, graph, { name: "resnet8", seed: 1 });
    a.setPreprocessing({
      mean: [0.1, 0.2, 0.3],
      std: [0.4, 0.5, 0.6],
      classNames: ["x", "y", "z"],
    });
    const bytes = await encodeCheckpoint(a, null, META);
    const ckpt = decodeCheckpoint(bytes);
    assert.deepEqual(ckpt.meta.preprocessing, a.preprocessing);

    const b = Model.create(rt, graph, { name: "resnet8", seed: 2 });
    applyCheckpoint(ckpt, b, null);
    assert.deepEqual(b.preprocessing, a.preprocessing);

    // Written before preprocessing was stored: loads, and the model keeps mean 0, std 1.
    const old = decodeCheckpoint(withMetadata(bytes, (md) => delete md.preprocessing));
    assert.equal(old.meta.preprocessing, undefined);
    const c = Model.create(rt, graph, { name: "resnet8", seed: 3 });
    applyCheckpoint(old, c, null);
    assert.deepEqual(c.preprocessing.mean, [0, 0, 0]);
    assert.deepEqual(c.preprocessing.std, [1, 1, 1]);
    assert.deepEqual(await c.stateDict(), await a.stateDict());

    // Malformed or unfitting preprocessing: refused, the model untouched.
    const before = await b.stateDict();
    const bad = (pre: unknown) =>
      withMetadata(bytes, (md) => md.preprocessing = JSON.stringify(pre));
    const base = a.preprocessing;
    assert.throws(
      () => decodeCheckpoint(withMetadata(bytes, (md) => md.preprocessing = "{"), "c.safetensors"),
      /c\.safetensors: metadata "preprocessing" is not JSON/,
    );
    assert.throws(
      () => decodeCheckpoint(bad({ ...base, std: [1, 0, 1] }), "c.safetensors"),
      /c\.safetensors: preprocessing: std\[1\] = 0 is not a positive number/,
    );
    assert.throws(
      () => decodeCheckpoint(bad({ ...base, classNames: ["x"] }), "c.safetensors"),
      /1 class names for a model with 3 classes/,
    );
    const gray = decodeCheckpoint(
      bad({ mean: [0.5], std: [0.5], inputShape: [1, 8, 8], classes: 3 }),
      "g.safetensors",
    );
    assert.throws(
      () => applyCheckpoint(gray, b, null),
      /g\.safetensors: preprocessing has 1 channels, the model has 3/,
    );
    assert.deepEqual(await b.stateDict(), before);
    assert.deepEqual(b.preprocessing, a.preprocessing);
    for (const m of [a, b, c]) m.dispose();
  },
});
