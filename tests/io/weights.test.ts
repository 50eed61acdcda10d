/**
 * Weights I/O: saveWeights → loadWeights restores every tensor bit for bit and the preprocessing;
 * F16/BF16/F64 tensors convert exactly as IEEE says; num_batches_tracked is accepted; strict
 * reports, skip with re-initialization, and — for every refused file — an unchanged model.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { initParameter } from "../../src/model/init.ts";
import { StateDictError } from "../../src/model/state.ts";
import { loadWeights, saveWeights, WEIGHTS_FORMAT } from "../../src/io/weights.ts";
import { loadWeightsFile, saveWeightsFile } from "../../src/io/weights_file.ts";
import { decodeSafetensors, encodeSafetensors, type TensorIn } from "../../src/io/safetensors.ts";
import { halfToFloat } from "../../src/io/float.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { DisposedError } from "../../src/util/disposed.ts";

const SHAPE: [number, number, number] = [3, 8, 8];

function model(rt: Runtime, seed: number, classes = 4, name = "resnet8"): Model {
  return Model.create(rt, buildModel(name, { inputShape: SHAPE, classes }), { seed, name });
}

async function state(m: Model): Promise<Map<string, Float32Array>> {
  return await m.stateDict();
}

function assertSameState(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string) {
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: names`);
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, `${what}: ${k}`);
}

/** The model's state as safetensors tensors in another dtype (F16/BF16 bits rounded by truncation). */
function tensorsOf(
  values: Map<string, Float32Array>,
  m: Model,
  dtype: "F32" | "F16" | "BF16" | "F64",
) {
  const out = new Map<string, TensorIn>();
  for (const p of m.graph.params) {
    const v = values.get(p.name)!;
    let data: TensorIn["data"];
    if (dtype === "F32") data = v;
    else if (dtype === "F64") data = Float64Array.from(v);
    else if (dtype === "BF16") {
      const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
      data = Uint16Array.from(bits, (b) => b >>> 16);
    } else data = Uint16Array.from(v, toHalf);
    out.set(p.name, { dtype, shape: p.shape, data });
  }
  return out;
}

/** Nearest binary16 of a value in the normal range (enough for these weights). */
function toHalf(x: number): number {
  if (x === 0) return 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (e < -14) return sign | Math.round(a / 2 ** -24); // subnormal
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

Deno.test({
  name: "weights: save → load restores every tensor bit for bit, and the preprocessing",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const a = model(rt, 1);
    a.setPreprocessing({
      mean: [0.1, 0.2, 0.3],
      std: [0.5, 0.6, 0.7],
      classNames: ["w", "x", "y", "z"],
    });
    const bytes = await saveWeights(a, { numBatchesTracked: 7 });
    const file = decodeSafetensors(bytes);
    assert.equal(file.metadata.format, WEIGHTS_FORMAT);
    assert.equal(file.metadata.model, "resnet8");
    assert.deepEqual(JSON.parse(file.metadata.preprocessing), {
      mean: [0.1, 0.2, 0.3],
      std: [0.5, 0.6, 0.7],
      inputShape: [3, 8, 8],
      classes: 4,
      classNames: ["w", "x", "y", "z"],
    });
    const tracked = file.tensors.get("bn1.num_batches_tracked")!;
    assert.equal(tracked.dtype, "I64");
    assert.deepEqual(tracked.shape, []);
    assert.equal(new BigInt64Array(tracked.bytes.slice().buffer)[0], 7n);
    const b = model(rt, 2);
    const done = loadWeights(b, bytes);
    assert.equal(done.loaded.length, a.graph.params.length);
    assert.deepEqual(done.preprocessing, { normalization: true, classNames: true });
    assertSameState(await state(a), await state(b), "round trip");
    assert.deepEqual(b.preprocessing, a.preprocessing);

    // And through a file.
    const dir = await Deno.makeTempDir();
    await saveWeightsFile(a, `${dir}/w.safetensors`);
    const c = model(rt, 3);
    await loadWeightsFile(c, `${dir}/w.safetensors`);
    assertSameState(await state(a), await state(c), "file round trip");
    await assert.rejects(
      loadWeightsFile(c, `${dir}/nope.safetensors`),
      /nope.safetensors: file not found/,
    );
    await Deno.remove(dir, { recursive: true });
    for (const m of [a, b, c]) m.dispose();
  },
});

Deno.test({
  name: "weights: F16, BF16 and F64 tensors convert to f32 exactly; num_batches_tracked accepted",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const src = model(rt, 4);
    const values = await state(src);
    for (const dtype of ["F16", "BF16", "F64"] as const) {
      const tensors = tensorsOf(values, src, dtype);
      tensors.set("layer1.0.bn1.num_batches_tracked", {
        dtype: "I64",
        shape: [],
        data: new BigInt64Array([123n]),
      });
      const m = model(rt, 5);
      const done = loadWeights(m, encodeSafetensors(tensors, { format: "pt" }));
      assert.deepEqual(done.converted, { [dtype]: src.graph.params.length });
      // No stored preprocessing: the model keeps its own.
      assert.deepEqual(done.preprocessing, { normalization: false, classNames: false });
      const got = await state(m);
      for (const p of src.graph.params) {
        const t = tensors.get(p.name)!.data;
        const want = dtype === "F64"
          ? Float32Array.from(t as Float64Array)
          : dtype === "BF16"
          ? new Float32Array(Uint32Array.from(t as Uint16Array, (h) => h << 16).buffer)
          : Float32Array.from(t as Uint16Array, halfToFloat);
        assert.deepEqual(got.get(p.name), want, `${dtype} ${p.name}`);
      }
      m.dispose();
    }
    // The half decoder on its edge cases (IEEE 754 binary16).
    assert.equal(halfToFloat(0x3c00), 1);
    assert.equal(halfToFloat(0xc000), -2);
    assert.equal(halfToFloat(0x7bff), 65504);
    assert.equal(halfToFloat(0x0001), 2 ** -24);
    assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24);
    assert.equal(halfToFloat(0x7c00), Infinity);
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
    assert.ok(Object.is(halfToFloat(0x8000), -0));
    src.dispose();
  },
});

Deno.test({
  name:
    "weights: another architecture, a wrong head, a NaN, a wrong dtype are refused; nothing changes",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const target = model(rt, 6);
    const before = await state(target);
    const check = async (bytes: Uint8Array, pattern: RegExp, opts = {}) => {
      assert.throws(
        () => loadWeights(target, bytes, { source: "x.safetensors", ...opts }),
        pattern,
      );
      assertSameState(before, await state(target), `after ${pattern}`);
    };
    // ResNet-14 weights into a ResNet-8: unexpected layers named first, then counted.
    const deeper = model(rt, 7, 4, "resnet14");
    const deeperBytes = await saveWeights(deeper);
    await check(
      deeperBytes,
      /does not fit model resnet8 \(from x.safetensors\): 36 unexpected \(layer1\.1\.bn1\.bias, layer1\.1\.bn1\.running_mean, layer1\.1\.bn1\.running_var, … 33 more\); nothing was loaded/,
    );
    try {
      loadWeights(target, deeperBytes);
    } catch (e) {
      assert.ok(e instanceof StateDictError);
      assert.ok(e.report.unexpected.includes("layer3.1.conv2.weight"));
      assert.equal(e.report.missing.length, 0);
    }
    // A 10-class head: the mismatch is named with both shapes and the skip that fixes it.
    const ten = model(rt, 8, 10);
    const tenBytes = await saveWeights(ten);
    await check(
      tenBytes,
      /2 with another shape \(fc\.bias: expected \[4\], got \[10\], fc\.weight: expected \[4, 64\], got \[10, 64\]\); nothing was loaded; to load the rest under a new head, pass \{ skip: \["fc\.\*"\] \}/,
    );
    // A NaN in one tensor among good ones: refused whole.
    const values = await state(ten);
    values.get("layer2.0.conv1.weight")![5] = NaN;
    const poisoned = tensorsOf(values, ten, "F32");
    await check(
      encodeSafetensors(poisoned),
      /layer2\.0\.conv1\.weight: 1 NaN\/Inf/,
      { skip: ["fc.*"] },
    );
    // A parameter stored as an integer.
    const ints = tensorsOf(await state(target), target, "F32");
    ints.set("bn1.weight", { dtype: "I32", shape: [16], data: new Int32Array(16) });
    await check(
      encodeSafetensors(ints),
      /x\.safetensors: bn1\.weight is I32; parameters load from F32, F16, BF16 or F64 tensors/,
    );
    // Missing tensors in strict mode; accepted (and listed) with strict: false.
    const partial = tensorsOf(await state(ten), ten, "F32");
    partial.delete("conv1.weight");
    await check(encodeSafetensors(partial), /1 missing \(conv1\.weight\)/, { skip: ["fc.*"] });
    const loose = loadWeights(target, encodeSafetensors(partial), {
      strict: false,
      skip: ["fc.*"],
    });
    assert.deepEqual(loose.missing, ["conv1.weight"]);
    const after = await state(target);
    assert.deepEqual(after.get("conv1.weight"), before.get("conv1.weight"));
    assert.deepEqual(after.get("bn1.weight"), (await state(ten)).get("bn1.weight"));
    for (const m of [target, deeper, ten]) m.dispose();
  },
});

Deno.test({
  name: "weights: truncated, lying or garbled files are refused before allocating; nothing changes",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const target = model(rt, 9);
    const before = await state(target);
    const good = await saveWeights(model(rt, 10));
    const headerLen = Number(new DataView(good.buffer).getBigUint64(0, true));
    const lying = good.slice();
    new DataView(lying.buffer).setBigUint64(0, 1n << 40n, true);
    const huge = encodeSafetensors({
      "conv1.weight": { dtype: "F32", shape: [0], data: new Float32Array(0) },
    });
    // A header claiming a 2⁴⁰-element tensor in a tiny file.
    const json = JSON.stringify({
      "conv1.weight": { dtype: "F32", shape: [1 << 20, 1 << 20], data_offsets: [0, 2 ** 42] },
    });
    const claim = new Uint8Array(8 + json.length);
    new DataView(claim.buffer).setBigUint64(0, BigInt(json.length), true);
    claim.set(new TextEncoder().encode(json), 8);
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 5), /too short for a safetensors file \(5 bytes\)/],
      [good.subarray(0, good.length - 4), /out of bounds of the \d+-byte data section/],
      [good.subarray(0, 8 + headerLen - 3), /header length \d+ exceeds the file/],
      [lying, /header length 1099511627776 exceeds the file/],
      [claim, /data_offsets \[0, 4398046511104\] out of bounds of the 0-byte data section/],
      [huge, /conv1\.weight: expected \[16, 3, 3, 3\], got \[0\]/],
    ];
    for (const [bytes, pattern] of cases) {
      assert.throws(() => loadWeights(target, bytes, { source: "bad.safetensors" }), pattern);
    }
    const garbled = good.slice();
    garbled.fill(0x7b, 8, 20);
    assert.throws(() => loadWeights(target, garbled), /header is not valid UTF-8 JSON/);
    assert.throws(
      () => loadWeights(target, [1, 2, 3] as unknown as Uint8Array),
      (e) =>
        e instanceof TypeError &&
        /expected the file's bytes as a Uint8Array, got Array/.test(e.message),
    );
    const meta = decodeSafetensors(good);
    const badPre = encodeSafetensors(
      new Map(
        [...meta.tensors].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: t.bytes }]),
      ),
      {
        ...meta.metadata,
        preprocessing: JSON.stringify({
          mean: [0, 0],
          std: [1, 1],
          inputShape: [2, 8, 8],
          classes: 4,
        }),
      },
    );
    assert.throws(
      () => loadWeights(target, badPre, { source: "p.safetensors" }),
      /p\.safetensors: preprocessing has 2 channels, the model has 3/,
    );
    assertSameState(before, await state(target), "after refused files");
    target.dispose();
    assert.throws(
      () => loadWeights(target, good),
      (e) =>
        e instanceof DisposedError && /loadWeights: model resnet8 was disposed/.test(e.message),
    );
  },
});

Deno.test({
  name: "weights: skip fc.* loads a backbone under a new head, re-initialized as the zoo does",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const thousand = model(rt, 11, 10);
    thousand.setPreprocessing({
      mean: [0.4, 0.5, 0.6],
      std: [0.2, 0.2, 0.2],
      classNames: [..."abcdefghij"],
    });
    const bytes = await saveWeights(thousand);
    const m = model(rt, 12, 7);
    // Train-like drift in the head first: re-initialization must restore the zoo's values.
    m.loadStateDict(new Map([["fc.bias", { shape: [7], data: new Float32Array(7).fill(3) }]]), {
      strict: false,
    });
    const done = loadWeights(m, bytes, { skip: ["fc.*"] });
    assert.deepEqual(done.reinitialized.sort(), ["fc.bias", "fc.weight"]);
    assert.deepEqual(done.skipped.sort(), ["fc.bias", "fc.weight"]);
    // Normalization applies; 10 class names do not fit 7 classes and are not taken.
    assert.deepEqual(done.preprocessing, { normalization: true, classNames: false });
    assert.deepEqual(m.preprocessing.mean, [0.4, 0.5, 0.6]);
    assert.equal(m.preprocessing.classNames, undefined);
    const got = await state(m), src = await state(thousand);
    for (const p of m.graph.params) {
      const want = p.name.startsWith("fc.")
        ? initParameter(p, m.graph.params, 12)
        : src.get(p.name)!;
      assert.deepEqual(got.get(p.name), want, p.name);
    }
    // reinitialize: false keeps the current head.
    m.loadStateDict(new Map([["fc.bias", { shape: [7], data: new Float32Array(7).fill(3) }]]), {
      strict: false,
    });
    loadWeights(m, bytes, { skip: ["fc.*"], reinitialize: false });
    assert.deepEqual((await state(m)).get("fc.bias"), new Float32Array(7).fill(3));
    thousand.dispose();
    m.dispose();
  },
});
