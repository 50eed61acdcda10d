/** The autotuner: times every applicable candidate, caches the choice per adapter, and tuned plans compute the same function. */
import assert from "node:assert/strict";
import { GPU_TEST, runtime, stepLabels } from "../helpers/gpu.ts";
import { Tuner } from "../../src/gpu/tuner.ts";
import { planTuningCandidate, tunedConvOptions } from "../../src/ops/conv2d/mod.ts";
import type { Step } from "../../src/gpu/plan.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { tuneCacheFile } from "../../src/host/deno_env.ts";

const shape = { n: 4, c: 16, h: 12, w: 12, k: 16, kh: 3, kw: 3, stride: 1, padding: 1 };

Deno.test({
  name: "tuner: times each conv candidate, keeps the fastest, and a second tuner reads it back",
  ...GPU_TEST,
  async fn() {
    const dir = await Deno.makeTempDir();
    const cache = `${dir}/sub/tune.json`;
    // The software adapters' policy: its candidate list is the one asserted below (a GPU policy
    // adds an unsplit forward).
    const rt = await runtime("cpu");
    // A tuner on the shared runtime without replacing its (null) one: swap it in for this test.
    const tuner = new Tuner(rt, tuneCacheFile(cache));
    const prev = rt.tuner;
    (rt as { tuner: Tuner | null }).tuner = tuner;
    try {
      const fwd = await tunedConvOptions(rt, "forward", shape);
      const dw = await tunedConvOptions(rt, "backward_weight", shape);
      const [rf, rw] = tuner.records;
      assert.equal(rf.op, "conv2d.forward");
      assert.deepEqual(Object.keys(rf.ms!).sort(), [
        "channel-lanes/wg16",
        "channel-lanes/wg64",
        "storage/wg16",
        "storage/wg64",
        "uniform/wg16",
        "uniform/wg64",
        "winograd-f2",
        "winograd-f4",
      ]);
      const best = Object.entries(rf.ms!).sort((a, b) => a[1] - b[1])[0][0];
      assert.equal(rf.chosen, best, "the fastest candidate is chosen");
      for (const v of Object.values(rf.ms!)) assert.ok(v > 0 && Number.isFinite(v));
      const variant = fwd.channelLanes ? "channel-lanes" : fwd.weights;
      assert.equal(
        fwd.winograd ? `winograd-f${fwd.winograd}` : `${variant}/wg${fwd.workgroup}`,
        rf.chosen,
      );
      // 128 and 512 splits would exceed the shape's 48 (n, oy) rows: not candidates.
      assert.deepEqual(Object.keys(rw.ms!), [
        "uniform-dy",
        "storage-dy",
        "storage-dy/wg64",
        "storage-dy/s32",
        "rows", // R = 16·9 = 144: within the rows kernel's range
        "winograd-f2",
        "winograd-f4",
      ]);

      // The file holds both choices under this adapter's key; a new tuner times nothing.
      const file = JSON.parse(await Deno.readTextFile(cache));
      const entries = Object.values(file.adapters)[0] as Record<string, string>;
      assert.equal(Object.keys(entries).length, 2);
      const again = new Tuner(rt, tuneCacheFile(cache));
      (rt as { tuner: Tuner | null }).tuner = again;
      assert.deepEqual(await tunedConvOptions(rt, "backward_weight", shape), dw);
      assert.equal(again.records[0].ms, undefined, "a cache hit runs no candidate");
    } finally {
      (rt as { tuner: Tuner | null }).tuner = prev;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tuner: a corrupt cache file is named in the error",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const path = await Deno.makeTempFile();
    await Deno.writeTextFile(path, "{not json");
    assert.throws(
      () => new Tuner(rt, tuneCacheFile(path)),
      new RegExp(`tuner cache ${path} is unreadable`),
    );
    await Deno.remove(path);
  },
});

Deno.test({
  name: "tuner: off unless asked (a plain runtime plans with the kernel policy's defaults)",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    assert.equal(rt.tuner, null);
    assert.deepEqual(await tunedConvOptions(rt, "forward", shape), {});
    assert.equal(typeof Runtime.create, "function");
  },
});

Deno.test({
  name: "tuner: a Winograd filter gradient is timed as training runs it (from a kept V, or not)",
  ...GPU_TEST,
  async fn() {
    const xTransforms = (steps: Step[]) =>
      stepLabels(steps).filter((l) => l.startsWith("conv2d_winograd:input_f")).length;
    for (const keep of [true, false]) {
      const rt = await runtime("cpu", keep ? {} : { winogradKeepInput: false });
      assert.equal(rt.policy.winogradKeepInput, keep);
      const n = shape.n * shape.c * shape.h * shape.w;
      const x = rt.pool.acquire(n * 4), y = rt.pool.acquire(n * 4);
      const w = rt.pool.acquire(shape.k * shape.c * 9 * 4);
      const taken: GPUBuffer[] = [];
      const io = { x, w, y, taken };
      const dw = await planTuningCandidate(rt, "backward_weight", shape, io, { winograd: 4 });
      assert.equal(xTransforms(dw.steps), keep ? 0 : 1, `keep ${keep}`);
      assert.equal(taken.length, keep ? 1 : 0, "the kept V comes from the pool, for the caller");
      // Forward and backward-data candidates transform their own input either way.
      const fwd = await planTuningCandidate(rt, "forward", shape, io, { winograd: 4 });
      assert.equal(xTransforms(fwd.steps), 1);
      for (const b of [x, y, w, ...taken, ...dw.scratch, ...fwd.scratch]) rt.pool.release(b);
    }
  },
});
