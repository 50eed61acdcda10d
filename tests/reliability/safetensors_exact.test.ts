/**
 * Defect 7 (safetensors) of the reliability probe: a file with gigabytes of trailing bytes was
 * read whole and accepted. Now the header is read first and checked against the file's size,
 * then exactly the declared data is read; trailing bytes, gaps and overlaps are refused, as the
 * reference reader refuses them.
 */
import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";
import { readSafetensors } from "../../src/io/safetensors_file.ts";

const small = () => encodeSafetensors({ w: { shape: [4], data: Float32Array.from([1, 2, 3, 4]) } });

function craft(head: unknown, data: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(head));
  const out = new Uint8Array(8 + json.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("reliability: trailing bytes after the declared data are refused, in memory and on disk", async () => {
  const bytes = small();
  const padded = new Uint8Array(bytes.length + 3);
  padded.set(bytes);
  assert.throws(
    () => decodeSafetensors(padded, "p.safetensors"),
    /p\.safetensors: 3 trailing bytes/,
  );
  const dir = await Deno.makeTempDir();
  try {
    // 2 GiB of (sparse) trailing bytes: refused from the header and the size, without reading them.
    const path = `${dir}/big.safetensors`;
    await Deno.writeFile(path, bytes);
    await Deno.truncate(path, 2 ** 31);
    const rss = Deno.memoryUsage().rss;
    await assert.rejects(
      readSafetensors(path),
      /big\.safetensors: \d+ trailing bytes after the tensors. 16 bytes/,
    );
    assert.ok(Deno.memoryUsage().rss - rss < 2 ** 28, "the trailing gigabytes were read");
    // A header length larger than the file is refused before the header is allocated.
    const lying = bytes.slice();
    new DataView(lying.buffer).setBigUint64(0, 2n ** 40n, true);
    await Deno.writeFile(path, lying);
    await assert.rejects(readSafetensors(path), /header length 1099511627776 exceeds the file/);
    await Deno.writeFile(path, small());
    assert.deepEqual((await readSafetensors(path)).tensors.get("w")!.shape, [4]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reliability: data bytes that belong to no tensor are refused", () => {
  assert.throws(
    () =>
      decodeSafetensors(craft({ a: { dtype: "U8", shape: [2], data_offsets: [2, 4] } }, 4), "g"),
    /g: 2 bytes before tensor "a" \[2, 4\] belong to no tensor/,
  );
  assert.throws(
    () =>
      decodeSafetensors(
        craft({
          a: { dtype: "U8", shape: [1], data_offsets: [0, 1] },
          b: { dtype: "U8", shape: [1], data_offsets: [2, 3] },
        }, 3),
        "g",
      ),
    /1 bytes before tensor "b"/,
  );
  // Names that are Object.prototype's own properties are not dtypes.
  assert.throws(
    () =>
      decodeSafetensors(
        craft({ a: { dtype: "constructor", shape: [1], data_offsets: [0, 1] } }, 1),
      ),
    /unknown dtype "constructor"/,
  );
});
