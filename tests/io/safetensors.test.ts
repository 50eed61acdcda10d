import assert from "node:assert/strict";
import {
  decodeSafetensors,
  encodeSafetensors,
  type TensorIn,
  typedView,
} from "../../src/io/safetensors.ts";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors_file.ts";

function sample(): Record<string, TensorIn> {
  const w = new Float32Array(2 * 3 * 3 * 3);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i) * 1e-3;
  // Values that a lossy path (decimal, f64 round trip) would alter.
  w[0] = -0;
  w[1] = 1.401298464324817e-45;
  w[2] = 3.4028234663852886e38;
  return {
    "conv1.weight": { shape: [2, 3, 3, 3], data: w },
    "bn1.num_batches_tracked": { shape: [], data: BigInt64Array.from([123456789012n]) },
    "fc.bias": { shape: [3], data: Float64Array.from([0.1, -2.5, Math.PI]) },
    "odd": { shape: [3], data: Uint8Array.from([1, 2, 3]) },
    "empty": { shape: [0, 4], data: new Float32Array(0) },
  };
}

const meta = { format: "pt", epoch: "7", "note": "ünïcode ✓" };

/** Layout of the header, read the way other implementations do. */
function header(bytes: Uint8Array): { len: number; json: Record<string, unknown> } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { len, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) };
}

Deno.test("round trip is bit-exact, with metadata, padded header and aligned data", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ck.safetensors`;
    const t = sample();
    await writeSafetensors(path, t, meta);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ck.safetensors"]);
    const bytes = await Deno.readFile(path);
    const { len, json } = header(bytes);
    assert.equal(len % 8, 0);
    assert.deepEqual(json.__metadata__, meta);
    for (const [name, info] of Object.entries(json)) {
      if (name === "__metadata__") continue;
      const [begin] = (info as { data_offsets: number[] }).data_offsets;
      const size = { F64: 8, I64: 8, F32: 4, U8: 1 }[(info as { dtype: string }).dtype]!;
      assert.equal(begin % size, 0, `${name} aligned`);
    }
    const back = await readSafetensors(path);
    assert.deepEqual(back.metadata, meta);
    assert.deepEqual([...back.tensors.keys()].sort(), Object.keys(t).sort());
    for (const [name, want] of Object.entries(t)) {
      const got = back.tensors.get(name)!;
      assert.deepEqual(got.shape, [...want.shape]);
      const raw = new Uint8Array(want.data.buffer, want.data.byteOffset, want.data.byteLength);
      assert.deepEqual(got.bytes, raw, `${name} bytes`);
    }
    const w = typedView(back.tensors.get("conv1.weight")!) as Float32Array;
    assert.ok(Object.is(w[0], -0));
    assert.equal(back.tensors.get("conv1.weight")!.dtype, "F32");
    assert.equal((typedView(back.tensors.get("bn1.num_batches_tracked")!))[0], 123456789012n);

    // Overwriting is atomic and leaves no temporary files behind.
    await writeSafetensors(path, { x: { shape: [1], data: new Float32Array([5]) } });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ck.safetensors"]);
    assert.deepEqual((await readSafetensors(path)).metadata, {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed write leaves no temporary file; size mismatches are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      writeSafetensors(`${dir}/missing-subdir/ck.safetensors`, sample()),
      /ck\.safetensors: write failed/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    assert.throws(
      () => encodeSafetensors({ a: { shape: [2, 2], data: new Float32Array(3) } }),
      /tensor "a": F32 shape \[2, 2\] needs 16 bytes, data has 12/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Builds a file from a hand-written header (padded) and a data section. */
function craft(head: unknown, data: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(head));
  const out = new Uint8Array(8 + json.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("corrupt files give errors naming the file and the tensor", () => {
  const f = "bad.safetensors";
  const good = encodeSafetensors(sample());
  assert.throws(() => decodeSafetensors(good.subarray(0, 5), f), /bad\.safetensors: too short/);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  assert.throws(
    () => decodeSafetensors(huge, f),
    /bad\.safetensors: header length 1099511627776 exceeds the file/,
  );
  const cut = good.subarray(0, good.length - 4);
  assert.throws(() => decodeSafetensors(cut, f), /bad\.safetensors: tensor "\w+.*out of bounds/);
  assert.throws(
    () => decodeSafetensors(craft({ a: { dtype: "F31", shape: [1], data_offsets: [0, 4] } }, 4), f),
    /bad\.safetensors: tensor "a": unknown dtype "F31"/,
  );
  assert.throws(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, 8), f),
    /tensor "a": F32 shape \[2\] needs 8 bytes, data_offsets give 4/,
  );
  assert.throws(
    () =>
      decodeSafetensors(
        craft({
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
        }, 12),
        f,
      ),
    /bad\.safetensors: tensor "b" \[4, 12\] overlaps tensor "a" \[0, 8\]/,
  );
  assert.throws(
    () => decodeSafetensors(craft({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, 4), f),
    /tensor "a": data_offsets \[4, 8\] out of bounds of the 4-byte data section/,
  );
  assert.throws(
    () => decodeSafetensors(craft({ __metadata__: { n: 1 } }, 0), f),
    /__metadata__ "n" is not a string/,
  );
  const notJson = craft({}, 0);
  notJson[8] = 0x7b + 1;
  assert.throws(() => decodeSafetensors(notJson, f), /bad\.safetensors: header is not valid/);
});

const PY_READER = `
import json, struct, sys, torch
DT = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "U8": torch.uint8}
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
head = json.loads(raw[8:8 + n])
meta = head.pop("__metadata__", {})
out = {"__metadata__": meta}
for name, info in head.items():
    b, e = info["data_offsets"]
    buf = bytearray(raw[8 + n + b:8 + n + e])
    t = torch.frombuffer(buf, dtype=DT[info["dtype"]]) if buf else torch.zeros(0)
    t = t.reshape(info["shape"])
    vals = t.flatten().tolist()
    # Floats go through JSON as shortest round-trip decimals (exact doubles); ints as strings.
    vals = [str(v) if isinstance(v, int) else v for v in vals]
    out[name] = {"shape": list(t.shape), "values": vals}
print(json.dumps(out))
`;

function torchAvailable(): boolean {
  try {
    const r = new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return r.success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "python/torch reads our file with the same names, shapes and values",
  ignore: !torchAvailable(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/x.safetensors`;
      const t = sample();
      await writeSafetensors(path, t, meta);
      const r = await new Deno.Command("/usr/bin/python3", {
        args: ["-c", PY_READER, path],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      const py = JSON.parse(new TextDecoder().decode(r.stdout));
      assert.deepEqual(py.__metadata__, meta);
      for (const [name, want] of Object.entries(t)) {
        assert.deepEqual(py[name].shape, [...want.shape], name);
        const jsVals = Array.from(
          want.data as ArrayLike<number | bigint>,
          (v) => typeof v === "bigint" || name === "odd" ? v.toString() : v,
        );
        assert.deepEqual(py[name].values, jsVals, name);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
