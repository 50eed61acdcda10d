/**
 * The parsers the reliability fuzzer attacks, and how: each target makes a valid file from a
 * seeded generator, names its length fields (for lies), parses bytes the way the library does,
 * and checks what a successful parse returned. The fuzzer (./driver.ts) mutates the valid files —
 * truncation, bit flips, boundary bytes, lying lengths, huge dimensions, appended and repeated
 * bytes — and requires every case to end in a correct load or a clear error naming the file:
 * never a crash in the parser, a hang, or an allocation past the target's stated limit.
 *
 * New parsers join by calling {@link registerFuzzTarget} from this module (or a module it
 * imports), with a generator of valid files — as the PNG and JPEG decoders do at the end.
 */
import type { Rng } from "../../../src/util/rng.ts";
import { IDX_MAX_BYTES, inflateIdx, parseIdx } from "../../../src/data/idx.ts";
import { CIFAR_RECORD, parseCifarBatch } from "../../../src/data/cifar.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  ITEM_SIZE,
  type TensorIn,
} from "../../../src/io/safetensors.ts";
import { decodeCheckpoint } from "../../../src/train/checkpoint.ts";
import { parseMetrics } from "../../../src/app/metrics_log.ts";
import { decodeImage, ImageDecodeError } from "../../../src/image/decode.ts";
import { DEFAULT_MAX_PIXELS } from "../../../src/image/header.ts";
import { encodePng, TINY_JPEG, TINY_PROGRESSIVE_JPEG } from "../../helpers/images.ts";

/** One parser under attack. */
export interface FuzzTarget {
  name: string;
  /** Cases per CI run. */
  cases: number;
  /** A valid input, different per seed. */
  valid(rng: Rng): Uint8Array | Promise<Uint8Array>;
  /** Byte offsets (and widths) of length or dimension fields in `valid`'s output, for lies. */
  lengthFields?(bytes: Uint8Array): { at: number; width: 1 | 2 | 4 | 8; bigEndian?: boolean }[];
  /** Mutations that understand the format (JSON metadata, say), besides the byte-level ones. */
  mutate?(bytes: Uint8Array, rng: Rng): Uint8Array;
  /** Parses as the library does; `file` must be named by every error it throws. */
  parse(bytes: Uint8Array, file: string): unknown | Promise<unknown>;
  /** Throws unless a successful parse is internally consistent. */
  check(result: unknown): void;
  /** The most bytes a parse may produce: what it is allowed to allocate, as stated in docs. */
  limitBytes: number;
}

export const FUZZ_TARGETS: FuzzTarget[] = [];

/** Adds a parser to the fuzzer (see the module doc). */
export function registerFuzzTarget(t: FuzzTarget): void {
  if (FUZZ_TARGETS.some((x) => x.name === t.name)) throw new Error(`fuzz target ${t.name} twice`);
  FUZZ_TARGETS.push(t);
}

function fail(what: string): never {
  throw new Error(`inconsistent result: ${what}`);
}

// ---- IDX (raw, and gzipped through the streaming inflater) ----

function idxFile(rng: Rng): Uint8Array {
  const dims = [1 + rng.int(6), 1 + rng.int(9), 1 + rng.int(9)];
  const n = dims[0] * dims[1] * dims[2];
  const out = new Uint8Array(16 + n);
  out.set([0, 0, 8, 3]);
  dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < n; i++) out[16 + i] = rng.int(256);
  return out;
}

function checkIdx(r: unknown): void {
  const { dims, data } = r as { dims: number[]; data: Uint8Array };
  if (dims.length !== 3) fail(`${dims.length} dims`);
  if (data.length !== dims.reduce((a, b) => a * b, 1)) fail(`${data.length} bytes for ${dims}`);
}

registerFuzzTarget({
  name: "idx",
  cases: 400,
  valid: idxFile,
  lengthFields: () => [4, 8, 12].map((at) => ({ at, width: 4 as const, bigEndian: true })),
  parse: (bytes, file) => parseIdx(bytes, file, 3),
  check: checkIdx,
  limitBytes: IDX_MAX_BYTES,
});

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

registerFuzzTarget({
  name: "idx.gz",
  cases: 150,
  valid: (rng) => gzip(idxFile(rng)),
  async parse(bytes, file) {
    return await inflateIdx(new Blob([bytes as BlobPart]).stream(), file, 3);
  },
  mutate(bytes, rng) {
    // Inside the deflate data, not only the gzip header: flip a bit past byte 10.
    const out = bytes.slice();
    if (out.length > 12) out[10 + rng.int(out.length - 10)] ^= 1 << rng.int(8);
    return out;
  },
  check: checkIdx,
  limitBytes: IDX_MAX_BYTES,
});

// ---- CIFAR-10 binary batches ----

registerFuzzTarget({
  name: "cifar",
  cases: 200,
  valid(rng) {
    const n = 1 + rng.int(3);
    const out = new Uint8Array(n * CIFAR_RECORD);
    for (let i = 0; i < out.length; i++) out[i] = rng.int(256);
    for (let k = 0; k < n; k++) out[k * CIFAR_RECORD] = rng.int(10);
    return out;
  },
  parse: (bytes, file) => parseCifarBatch(bytes, file),
  check(r) {
    const b = r as { count: number; images: Uint8Array; labels: Uint8Array };
    if (b.images.length !== b.count * 3072 || b.labels.length !== b.count) fail("cifar sizes");
    if (b.labels.some((l) => l > 9)) fail("label > 9");
  },
  // One output byte per input byte (records are copied apart).
  limitBytes: 64 * CIFAR_RECORD,
});

// ---- safetensors ----

const DTYPES = ["F32", "F64", "I64", "U8", "I32", "F16", "BF16", "I16"] as const;

function safetensorsFile(rng: Rng): Uint8Array {
  const tensors: Record<string, TensorIn> = {};
  const count = 1 + rng.int(4);
  for (let t = 0; t < count; t++) {
    const shape = Array.from({ length: rng.int(4) }, () => rng.int(5));
    const dtype = DTYPES[rng.int(DTYPES.length)];
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Uint8Array(n * ITEM_SIZE[dtype]);
    for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
    tensors[`layer${t}.w`] = { dtype, shape, data: viewAs(dtype, data) };
  }
  return encodeSafetensors(tensors, rng.int(2) ? { format: "pt", note: "ünï" } : undefined);
}

function viewAs(dtype: string, b: Uint8Array): TensorIn["data"] {
  const size = ITEM_SIZE[dtype as keyof typeof ITEM_SIZE];
  const n = b.length / size;
  switch (dtype) {
    case "F32":
      return new Float32Array(b.buffer, 0, n);
    case "F64":
      return new Float64Array(b.buffer, 0, n);
    case "I64":
      return new BigInt64Array(b.buffer, 0, n);
    case "I32":
      return new Int32Array(b.buffer, 0, n);
    case "I16":
    case "F16":
    case "BF16":
      return new Uint16Array(b.buffer, 0, n);
    default:
      return b;
  }
}

/** Replaces one number in the JSON header by a lie: 0, ±1 off, huge, negative, fractional. */
function mutateHeaderNumber(bytes: Uint8Array, rng: Rng): Uint8Array {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const json = new TextDecoder().decode(bytes.subarray(8, 8 + len));
  const numbers = [...json.matchAll(/-?\d+/g)];
  if (numbers.length === 0) return bytes;
  const m = numbers[rng.int(numbers.length)];
  const v = Number(m[0]);
  const lies = [0, v + 1, v - 1, 2 ** 31, 2 ** 32 + v, 2 ** 53, -v, 1e308, 9007199254740993];
  const lie = rng.int(5) === 0 ? `${v}.5` : String(lies[rng.int(lies.length)]);
  return withHeader(bytes, json.slice(0, m.index) + lie + json.slice(m.index! + m[0].length), len);
}

function withHeader(bytes: Uint8Array, json: string, oldLen: number): Uint8Array {
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + bytes.length - 8 - oldLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(bytes.subarray(8 + oldLen), 8 + head.length);
  return out;
}

function checkSafetensors(r: unknown): void {
  const f = r as ReturnType<typeof decodeSafetensors>;
  for (const [name, t] of f.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.bytes.length !== n * ITEM_SIZE[t.dtype]) fail(`${name}: ${t.bytes.length} bytes`);
  }
}

registerFuzzTarget({
  name: "safetensors",
  cases: 400,
  valid: safetensorsFile,
  lengthFields: () => [{ at: 0, width: 8 }],
  mutate: mutateHeaderNumber,
  parse: (bytes, file) => decodeSafetensors(bytes, file),
  check: checkSafetensors,
  // Tensors are views of (or, unaligned, copies from) the input.
  limitBytes: 2 * 65536,
});

// ---- checkpoint metadata (JSON inside the safetensors header) ----

const JSON_LIES = [
  "null",
  "[]",
  "{}",
  "-1",
  "1e400",
  '"NaN"',
  '{"seed":0,"epoch":-1,"batch":0}',
  '{"seed":0.5,"epoch":0,"batch":0}',
  '{"seed":0,"epoch":0}',
  '{"__proto__":{"x":1},"seed":0,"epoch":0,"batch":0}',
  "[".repeat(5000) + "]".repeat(5000),
  '"' + "x".repeat(10000) + '"',
  "{",
  "",
  "true",
  "18446744073709551616",
];

function checkpointFile(rng: Rng): Uint8Array {
  const w = new Float32Array(1 + rng.int(8)).map(() => rng.normal());
  return encodeSafetensors({ "conv1.weight": { shape: [w.length], data: w } }, {
    format: "resgpu-checkpoint-1",
    model: "resnet20",
    epoch: String(rng.int(100)),
    step: String(rng.int(100000)),
    loader: JSON.stringify({ seed: rng.int(9), epoch: rng.int(9), batch: rng.int(99) }),
    config: JSON.stringify({ lr: rng.next(), subset: rng.int(1000) }),
  });
}

registerFuzzTarget({
  name: "checkpoint metadata",
  cases: 300,
  valid: checkpointFile,
  mutate(bytes, rng) {
    const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
    const md = header.__metadata__ as Record<string, string>;
    const keys = ["format", "model", "epoch", "step", "loader", "config"];
    const key = keys[rng.int(keys.length)];
    switch (rng.int(3)) {
      case 0:
        md[key] = JSON_LIES[rng.int(JSON_LIES.length)];
        break;
      case 1:
        delete md[key];
        break;
      default: // metadata values must be strings: a number, object or null instead
        (md as Record<string, unknown>)[key] = [1, null, { a: 1 }, ["x"]][rng.int(4)];
    }
    return withHeader(bytes, JSON.stringify(header), len);
  },
  parse: (bytes, file) => decodeCheckpoint(bytes, file),
  check(r) {
    const { meta } = r as ReturnType<typeof decodeCheckpoint>;
    const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
    if (!count(meta.epoch) || !count(meta.step) || typeof meta.model !== "string") fail("meta");
    const l = meta.loader;
    if (!Number.isSafeInteger(l.seed) || !count(l.epoch) || !count(l.batch)) fail("loader");
    if (typeof meta.config !== "object" || meta.config === null) fail("config");
  },
  limitBytes: 2 * 65536,
});

// ---- metrics.jsonl (read back on resume) ----

registerFuzzTarget({
  name: "metrics.jsonl",
  cases: 200,
  valid(rng) {
    const lines = Array.from(
      { length: 1 + rng.int(5) },
      (_, i) =>
        JSON.stringify({ type: "train", step: i * 10, loss: rng.next(), accuracy: rng.next() }),
    );
    return new TextEncoder().encode(lines.join("\n") + "\n");
  },
  parse: (bytes, file) => parseMetrics(new TextDecoder().decode(bytes), file),
  check(r) {
    if (!Array.isArray(r) || r.some((x) => typeof x !== "object" || x === null)) fail("records");
  },
  limitBytes: 4 * 65536,
});

// ---- images (PNG, JPEG): the decoders the image-folder loader runs on every file ----

/** As the folder loader reports it: the decoder's ImageDecodeError, named by the file. */
function decodeNamed(bytes: Uint8Array, file: string): unknown {
  try {
    return decodeImage(bytes);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw new Error(`${file}: ${e.message}`);
    throw e; // anything else is a decoder crash, and fails the case
  }
}

function checkImage(r: unknown): void {
  const img = r as { width: number; height: number; channels: number; data: Uint8Array };
  if (img.data.length !== img.width * img.height * img.channels) fail("image size");
}

registerFuzzTarget({
  name: "png",
  cases: 300,
  valid(rng) {
    const w = 1 + rng.int(12), h = 1 + rng.int(12);
    const channels = ([1, 2, 3, 4] as const)[rng.int(4)];
    const px = new Uint8Array(w * h * channels);
    for (let i = 0; i < px.length; i++) px[i] = rng.int(256);
    return encodePng(w, h, channels, px);
  },
  // IHDR's width and height (big-endian, after the 8-byte signature and the chunk's length and type).
  lengthFields: () => [16, 20].map((at) => ({ at, width: 4 as const, bigEndian: true })),
  parse: decodeNamed,
  check: checkImage,
  limitBytes: 4 * DEFAULT_MAX_PIXELS,
});

registerFuzzTarget({
  name: "jpeg",
  cases: 300,
  valid: (rng) => (rng.int(2) ? TINY_JPEG : TINY_PROGRESSIVE_JPEG).slice(),
  parse: decodeNamed,
  check: checkImage,
  limitBytes: 4 * DEFAULT_MAX_PIXELS,
});
