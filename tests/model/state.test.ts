/**
 * Strict, atomic state loading (src/model/state.ts): every name, shape, type and value is checked
 * before anything is written, and a refused load leaves the model bit-identical.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { applyState, StateDictError, type StateEntry } from "../../src/model/state.ts";
import type { Graph } from "../../src/graph/ir.ts";

const graph = (opts: { classes?: number; shortcut?: "A" | "B" } = {}) =>
  buildModel("resnet8", {
    inputShape: [1, 8, 8],
    classes: opts.classes ?? 3,
    width: 0.25,
    ...opts,
  });

/** A full state for `g` whose values differ from any initialization (k + i/1000). */
function fullState(g: Graph, offset = 1): Map<string, StateEntry> {
  return new Map(
    g.params.map((p, k) => [p.name, {
      shape: p.shape,
      data: Float32Array.from(
        { length: p.shape.reduce((a, b) => a * b, 1) },
        (_, i) => offset + k + i / 1000,
      ),
    }]),
  );
}

async function unchanged(model: Model, before: Map<string, Float32Array>) {
  const after = await model.stateDict();
  for (const [name, v] of before) assert.deepEqual(after.get(name), v, `${name} was written`);
}

const refused = (check: (e: StateDictError) => void) => (e: unknown) => {
  assert.ok(e instanceof StateDictError, `expected a StateDictError, got ${e}`);
  check(e);
  return true;
};

Deno.test({
  name: "state: a full state loads bit-exactly; strict is the default",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const g = graph();
    using model = Model.create(rt, g, { seed: 1 });
    const state = fullState(g);
    const done = applyState(model, state);
    assert.equal(done.loaded.length, g.params.length);
    assert.deepEqual([done.missing, done.unexpected, done.skipped], [[], [], []]);
    const back = await model.stateDict();
    for (const [name, e] of state) assert.deepEqual(back.get(name), e.data, name);
  },
});

Deno.test({
  name: "state: missing, unexpected and mismatched names are all reported and nothing is written",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const g = graph();
    using model = Model.create(rt, g, { seed: 1 });
    const before = await model.stateDict();
    const state = fullState(g);
    state.delete("fc.bias");
    state.delete("layer3.0.bn2.running_var");
    state.set("layer9.0.conv1.weight", { shape: [1], data: new Float32Array(1) });
    state.set("conv1.weight", { shape: [4, 3, 3, 3], data: new Float32Array(108) });
    assert.throws(
      () => applyState(model, state),
      refused((e) => {
        assert.deepEqual(e.report.missing.sort(), ["fc.bias", "layer3.0.bn2.running_var"]);
        assert.deepEqual(e.report.unexpected, ["layer9.0.conv1.weight"]);
        assert.deepEqual(e.report.mismatched, [
          { name: "conv1.weight", expected: [4, 1, 3, 3], got: [4, 3, 3, 3] },
        ]);
        assert.match(e.message, /2 missing \(.*fc\.bias/);
        assert.match(e.message, /1 unexpected \(layer9\.0\.conv1\.weight\)/);
        assert.match(e.message, /conv1\.weight: expected \[4, 1, 3, 3\], got \[4, 3, 3, 3\]/);
        assert.match(e.message, /nothing was loaded/);
      }),
    );
    await unchanged(model, before);
    // Many problems: the first three of a kind are named, then a count.
    assert.throws(
      () => applyState(model, new Map()),
      refused((e) => assert.match(e.message, new RegExp(`${g.params.length} missing .*, … `))),
    );
  },
});

Deno.test({
  name: "state: non-strict loads what fits and reports the rest; shapes stay strict",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const g = graph();
    using model = Model.create(rt, g, { seed: 1 });
    const state = fullState(g);
    state.delete("fc.bias");
    state.set("extra.weight", { shape: [2], data: new Float32Array(2) });
    const done = applyState(model, state, { strict: false });
    assert.deepEqual(done.missing, ["fc.bias"]);
    assert.deepEqual(done.unexpected, ["extra.weight"]);
    const back = await model.stateDict();
    assert.deepEqual(back.get("fc.weight"), state.get("fc.weight")!.data);
    const before = back;
    state.set("fc.weight", { shape: [3, 17], data: new Float32Array(51) });
    state.set("conv1.weight", { shape: [4, 1, 3, 3], data: new Float32Array(36).fill(9) });
    assert.throws(
      () => applyState(model, state, { strict: false }),
      refused((e) => {
        assert.deepEqual(e.report.mismatched.map((m) => m.name), ["fc.weight"]);
        assert.deepEqual([e.report.missing, e.report.unexpected], [[], []]);
      }),
    );
    await unchanged(model, before);
  },
});

Deno.test({
  name: "state: skip patterns leave matching tensors alone (a backbone with another classifier)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const source = graph({ classes: 7 });
    using model = Model.create(rt, graph(), { seed: 1 });
    const before = await model.stateDict();
    const state = fullState(source);
    assert.throws(() => applyState(model, state), StateDictError);
    const done = applyState(model, state, { skip: ["fc.*"] });
    assert.deepEqual(done.skipped.sort(), ["fc.bias", "fc.weight"]);
    const back = await model.stateDict();
    assert.deepEqual(back.get("fc.weight"), before.get("fc.weight"));
    assert.deepEqual(back.get("layer1.0.conv1.weight"), state.get("layer1.0.conv1.weight")!.data);
    // `?` is one character, and a pattern is anchored: "bn?.weight" is not "layer1.0.bn1.weight".
    const one = applyState(model, fullState(graph(), 5), { skip: ["bn?.*", "layer?.0.bn1.*"] });
    assert.ok(one.skipped.includes("bn1.weight") && one.skipped.includes("layer2.0.bn1.bias"));
    assert.ok(one.loaded.includes("layer1.0.bn2.weight"));
  },
});

Deno.test({
  name: "state: NaN or Infinity anywhere refuses the whole load, naming the tensors",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const g = graph();
    using model = Model.create(rt, g, { seed: 1 });
    const before = await model.stateDict();
    const state = fullState(g);
    state.get("layer2.0.conv1.weight")!.data[5] = NaN;
    state.get("bn1.running_var")!.data.fill(Infinity);
    for (const strict of [true, false]) {
      assert.throws(
        () => applyState(model, state, { strict }),
        refused((e) => {
          // In the order of the entries.
          assert.deepEqual(e.report.nonFinite, [
            { name: "bn1.running_var", count: 4 },
            { name: "layer2.0.conv1.weight", count: 1 },
          ]);
          assert.match(e.message, /non-finite \(.*layer2\.0\.conv1\.weight: 1 NaN\/Inf/);
        }),
      );
    }
    await unchanged(model, before);
  },
});

Deno.test({
  name: "state: num_batches_tracked of a batch norm is ignored, of anything else unexpected",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const g = graph();
    using model = Model.create(rt, g, { seed: 1 });
    const state = fullState(g);
    state.set("bn1.num_batches_tracked", { shape: [], data: new Float32Array(1) });
    assert.equal(applyState(model, state).unexpected.length, 0);
    state.set("fc.num_batches_tracked", { shape: [], data: new Float32Array(1) });
    assert.throws(
      () => applyState(model, state),
      refused((e) => assert.deepEqual(e.report.unexpected, ["fc.num_batches_tracked"])),
    );
  },
});

Deno.test({
  name: "state: wrong types are TypeErrors naming what was expected",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const g = graph();
    using model = Model.create(rt, g, { seed: 1 });
    const before = await model.stateDict();
    const state = fullState(g) as Map<string, unknown>;
    state.set("fc.bias", { shape: [3], data: new Float64Array(3) });
    assert.throws(
      () => applyState(model, state as Map<string, StateEntry>),
      (e) =>
        e instanceof TypeError && /fc\.bias: data must be a Float32Array, got Float64Array/
          .test(e.message),
    );
    state.set("fc.bias", new Float32Array(3));
    assert.throws(
      () => applyState(model, state as Map<string, StateEntry>),
      /fc\.bias: expected \{ shape, data \}, got Float32Array/,
    );
    state.set("fc.bias", { shape: [3], data: new Float32Array(4) });
    assert.throws(
      () => applyState(model, state as Map<string, StateEntry>),
      /fc\.bias: shape \[3\] holds 3 values, data has 4/,
    );
    assert.throws(
      () => applyState(model, { "fc.bias": {} } as unknown as Map<string, StateEntry>),
      (e) => e instanceof TypeError && /must be a Map/.test(e.message),
    );
    await unchanged(model, before);
  },
});
