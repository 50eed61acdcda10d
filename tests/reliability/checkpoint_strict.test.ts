/**
 * Defect 3 of the reliability probe: checkpoint loading ignored extra tensors (a `--shortcut B`
 * checkpoint resumed as `--shortcut A`, dropping the trained projections; a ResNet-20 checkpoint
 * loaded into a ResNet-8) and bad metadata threw `Cannot read properties of null` after the
 * weights had been overwritten. Now loading is strict by default, non-strict on request, and
 * atomic: a refused checkpoint leaves the model and the optimizer state bit-identical.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { buildModel, type ModelOptions } from "../../src/zoo/registry.ts";
import { gatherRead, Model } from "../../src/model/model.ts";
import { StateDictError } from "../../src/model/state.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { decodeSafetensors, encodeSafetensors, typedView } from "../../src/io/safetensors.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { applyCheckpoint, decodeCheckpoint, encodeCheckpoint } from "../../src/train/checkpoint.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint_file.ts";

const shape = { inputShape: [1, 8, 8] as [number, number, number], classes: 3, width: 0.25 };
const meta = {
  model: "resnet8",
  epoch: 1,
  step: 2,
  loader: { seed: 0, epoch: 1, batch: 0 },
  config: { lr: 0.1 },
};
const sgd = { kind: "sgd", lr: 0.1, momentum: 0.9 } as const;
const x = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i));

/** A model (and trainer) of `name` trained two steps, so weights and momentum are non-trivial. */
async function trained(rt: Runtime, name: string, opts: Partial<ModelOptions> = {}, seed = 1) {
  const model = Model.create(rt, buildModel(name, { ...shape, ...opts }), { name, seed });
  const trainer = await Trainer.create(model, { batchSize: 2, optimizer: sgd });
  for (let i = 0; i < 2; i++) trainer.step(x, [0, 1], 0.1);
  return { model, trainer };
}

/** Everything a failed load must not have touched: weights, BN statistics, momentum. */
async function snapshot(model: Model, trainer: Trainer | null) {
  const all = await model.stateDict();
  if (trainer) {
    for (const [k, v] of await gatherRead(model.rt, trainer.optimizerState())) all.set(k, v);
  }
  return all;
}

function rewrite(bytes: Uint8Array, edit: (md: Record<string, string>) => void): Uint8Array {
  const f = decodeSafetensors(bytes);
  edit(f.metadata);
  const tensors = new Map(
    [...f.tensors].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: typedView(t) }]),
  );
  return encodeSafetensors(tensors, f.metadata);
}

Deno.test({
  name:
    "reliability: a shortcut-B checkpoint is refused by a shortcut-A model, naming the projections",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const b = await trained(rt, "resnet8", { shortcut: "B" });
    const a = await trained(rt, "resnet8", { shortcut: "A" }, 2);
    const bytes = await encodeCheckpoint(b.model, b.trainer, meta);
    const before = await snapshot(a.model, a.trainer);
    assert.throws(
      () => applyCheckpoint(decodeCheckpoint(bytes, "b.safetensors"), a.model, a.trainer),
      (e) =>
        e instanceof StateDictError &&
        e.report.unexpected.includes("layer2.0.downsample.0.weight") &&
        /b\.safetensors.*unexpected \(layer2\.0\.downsample/.test(e.message),
    );
    assert.deepEqual(await snapshot(a.model, a.trainer), before);
    for (const m of [a, b]) {
      m.trainer.dispose();
      m.model.dispose();
    }
  },
});

Deno.test({
  name: "reliability: a ResNet-20 checkpoint is refused by a ResNet-8 and the reverse",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    const r20 = await trained(rt, "resnet20");
    const r8 = await trained(rt, "resnet8", {}, 2);
    await saveCheckpoint(`${dir}/r20.safetensors`, r20.model, r20.trainer, meta);
    await saveCheckpoint(`${dir}/r8.safetensors`, r8.model, r8.trainer, meta);
    const before = await snapshot(r8.model, r8.trainer);
    await assert.rejects(
      loadCheckpoint(`${dir}/r20.safetensors`, r8.model, r8.trainer),
      (e) => e instanceof StateDictError && e.report.unexpected.includes("layer1.1.conv1.weight"),
    );
    assert.deepEqual(await snapshot(r8.model, r8.trainer), before);
    await assert.rejects(
      loadCheckpoint(`${dir}/r8.safetensors`, r20.model, null),
      (e) => e instanceof StateDictError && e.report.missing.includes("layer1.1.conv1.weight"),
    );
    // Non-strict, on request: the shared tensors load, the rest is reported and left alone.
    await loadCheckpoint(`${dir}/r8.safetensors`, r20.model, null, { strict: false });
    const [w8, w20] = [await r8.model.stateDict(), await r20.model.stateDict()];
    assert.deepEqual(w20.get("layer1.0.conv1.weight"), w8.get("layer1.0.conv1.weight"));
    for (const m of [r8, r20]) {
      m.trainer.dispose();
      m.model.dispose();
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "reliability: bad checkpoint metadata is refused before any weight is written",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const src = await trained(rt, "resnet8");
    const dst = await trained(rt, "resnet8", {}, 2);
    const good = await encodeCheckpoint(src.model, src.trainer, meta);
    const before = await snapshot(dst.model, dst.trainer);
    const cases: [string, (md: Record<string, string>) => void, RegExp][] = [
      ["loader null", (md) => md.loader = "null", /metadata loader must be/],
      ["loader not JSON", (md) => md.loader = "{", /metadata loader is not JSON/],
      ["loader fields", (md) => md.loader = '{"seed":0,"epoch":-1,"batch":0}', /loader must be/],
      ["config", (md) => md.config = "[1]", /config must be a JSON object/],
      ["no config", (md) => delete md.config, /metadata lacks config/],
      ["step", (md) => md.step = "-3", /bad metadata step="-3"/],
      ["epoch", (md) => md.epoch = "1e400", /bad metadata epoch/],
      ["format", (md) => md.format = "pt", /not a resgpu checkpoint \(format pt\)/],
      ["model", (md) => md.model = "", /metadata model must name the model/],
    ];
    for (const [what, edit, message] of cases) {
      assert.throws(
        () => applyCheckpoint(decodeCheckpoint(rewrite(good, edit), what), dst.model, dst.trainer),
        message,
        what,
      );
    }
    assert.deepEqual(await snapshot(dst.model, dst.trainer), before);
    for (const m of [src, dst]) {
      m.trainer.dispose();
      m.model.dispose();
    }
  },
});

Deno.test({
  name: "reliability: optimizer state is strict too, and checked with the weights before writing",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const src = await trained(rt, "resnet8");
    const dst = await trained(rt, "resnet8", {}, 2);
    const adamw = await Trainer.create(dst.model, {
      batchSize: 2,
      optimizer: { kind: "adamw", lr: 1e-3 },
    });
    const before = await snapshot(dst.model, dst.trainer);
    // Weights only (no trainer when saved): strict refuses a trainer's load, non-strict allows it.
    const weightsOnly = decodeCheckpoint(await encodeCheckpoint(src.model, null, meta));
    assert.throws(
      () => applyCheckpoint(weightsOnly, dst.model, dst.trainer),
      (e) =>
        e instanceof StateDictError &&
        e.report.missing.includes("optimizer.conv1.weight.momentum_buffer") &&
        /optimizer state of model resnet8/.test(e.message),
    );
    assert.deepEqual(await snapshot(dst.model, dst.trainer), before);
    // SGD's momentum into AdamW's moments: missing exp_avg, unexpected momentum_buffer.
    const full = decodeCheckpoint(await encodeCheckpoint(src.model, src.trainer, meta));
    assert.throws(
      () => applyCheckpoint(full, dst.model, adamw),
      (e) =>
        e instanceof StateDictError && e.report.missing.includes("optimizer.fc.bias.exp_avg") &&
        e.report.unexpected.includes("optimizer.fc.bias.momentum_buffer"),
    );
    assert.deepEqual(await snapshot(dst.model, dst.trainer), before);
    applyCheckpoint(weightsOnly, dst.model, dst.trainer, { strict: false });
    assert.deepEqual(await dst.model.stateDict(), await src.model.stateDict());
    adamw.dispose();
    for (const m of [src, dst]) {
      m.trainer.dispose();
      m.model.dispose();
    }
  },
});
