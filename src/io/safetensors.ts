/**
 * safetensors reader/writer: u64 little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}` padded
 * with spaces to a multiple of 8, then the tensor bytes. The format is what PyTorch/HF tooling
 * reads, so checkpoints can be inspected and compared outside this runtime.
 */

/** safetensors element types (F16/BF16 are read back as raw 16-bit words). */
export type Dtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL";

export const ITEM_SIZE: Record<Dtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

export type TensorData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

export interface TensorIn {
  /** Inferred from the array type when omitted; required for F16/BF16/BOOL. */
  dtype?: Dtype;
  shape: readonly number[];
  data: TensorData;
}

/** A tensor read from a safetensors file. */
export interface TensorOut {
  /** Element type as stored. */
  dtype: Dtype;
  /** Dimensions, outermost first. */
  shape: number[];
  /** Raw little-endian bytes, 8-byte aligned (copied out of the file buffer if needed). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorOut>;
  metadata: Record<string, string>;
}

/** Refuse absurd headers before allocating/parsing them (the reference limit is 100 MB). */
const MAX_HEADER = 100_000_000;

export function inferDtype(data: TensorData): Dtype {
  if (data instanceof Float64Array) return "F64";
  if (data instanceof Float32Array) return "F32";
  if (data instanceof BigInt64Array) return "I64";
  if (data instanceof BigUint64Array) return "U64";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof Uint32Array) return "U32";
  if (data instanceof Int16Array) return "I16";
  if (data instanceof Uint16Array) return "U16";
  if (data instanceof Int8Array) return "I8";
  return "U8";
}

/** Typed view of a tensor read back; F16/BF16 come back as their raw Uint16 bits. */
export function typedView(t: TensorOut): TensorData {
  const { buffer, byteOffset, byteLength } = t.bytes;
  const n = byteLength / ITEM_SIZE[t.dtype];
  switch (t.dtype) {
    case "F64":
      return new Float64Array(buffer, byteOffset, n);
    case "F32":
      return new Float32Array(buffer, byteOffset, n);
    case "I64":
      return new BigInt64Array(buffer, byteOffset, n);
    case "U64":
      return new BigUint64Array(buffer, byteOffset, n);
    case "I32":
      return new Int32Array(buffer, byteOffset, n);
    case "U32":
      return new Uint32Array(buffer, byteOffset, n);
    case "I16":
      return new Int16Array(buffer, byteOffset, n);
    case "U16":
    case "F16":
    case "BF16":
      return new Uint16Array(buffer, byteOffset, n);
    case "I8":
      return new Int8Array(buffer, byteOffset, n);
    default:
      return new Uint8Array(buffer, byteOffset, n);
  }
}

export function encodeSafetensors(
  tensors: Record<string, TensorIn> | Map<string, TensorIn>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const prepared = entries.map(([name, t]) => {
    if (name === "__metadata__") throw new Error(`tensor name "__metadata__" is reserved`);
    const dtype = t.dtype ?? inferDtype(t.data);
    if (!Object.hasOwn(ITEM_SIZE, dtype)) {
      throw new Error(`tensor "${name}": unknown dtype ${dtype}`);
    }
    for (const d of t.shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new Error(`tensor "${name}": bad shape [${t.shape.join(", ")}]`);
      }
    }
    const nbytes = t.shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype];
    if (t.data.byteLength !== nbytes) {
      throw new Error(
        `tensor "${name}": ${dtype} shape [${t.shape.join(", ")}] needs ${nbytes} bytes, ` +
          `data has ${t.data.byteLength}`,
      );
    }
    return { name, dtype, shape: [...t.shape], data: t.data, nbytes };
  });
  // Largest item size first, then by name: every tensor starts aligned to its own item size
  // without gaps (the reference implementation rejects holes), and output is deterministic.
  prepared.sort((a, b) =>
    ITEM_SIZE[b.dtype] - ITEM_SIZE[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new Error(`metadata "${k}" must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const t of prepared) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.nbytes] };
    offset += t.nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const t of prepared) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.nbytes), pos);
    pos += t.nbytes;
  }
  return out;
}

/** A tensor's entry in the header, validated: its bytes are data[begin, end). */
export interface HeaderTensor {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/** The validated header of a safetensors file. */
export interface SafetensorsHeader {
  /** Length of the JSON header in bytes (the data section starts at 8 + headerLength). */
  headerLength: number;
  metadata: Record<string, string>;
  tensors: HeaderTensor[];
}

/**
 * Reads the u64 header length from the first 8 bytes and checks it against the file's size and
 * the 100 MB limit the reference reader sets, before anything of that size is allocated.
 */
export function headerLength(first8: Uint8Array, fileBytes: number, file: string): number {
  if (fileBytes < 8 || first8.length < 8) {
    throw new Error(`${file}: too short for a safetensors file (${fileBytes} bytes)`);
  }
  const len = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (len > BigInt(Math.min(MAX_HEADER, fileBytes - 8))) {
    throw new Error(
      `${file}: header length ${len} exceeds the file (${fileBytes} bytes)` +
        (len > BigInt(MAX_HEADER) ? ` or the ${MAX_HEADER}-byte limit` : ""),
    );
  }
  return Number(len);
}

/**
 * Parses and validates the JSON header against a data section of `dataLen` bytes: known dtypes,
 * shapes whose byte size matches the offsets, and tensors that tile the data section exactly — no
 * overlap, no gap, no trailing bytes (the reference reader refuses all three).
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  dataLen: number,
  file = "<buffer>",
): SafetensorsHeader {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw new Error(`${file}: header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new Error(`${file}: header is not a JSON object`);
  }
  const metadata: Record<string, string> = {};
  const tensors: HeaderTensor[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new Error(`${file}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") {
          throw new Error(`${file}: __metadata__ "${k}" is not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    const where = `${file}: tensor "${name}"`;
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== "object" || info === null) throw new Error(`${where}: not an object`);
    const dtype = info.dtype as Dtype;
    if (typeof dtype !== "string" || !Object.hasOwn(ITEM_SIZE, dtype)) {
      throw new Error(`${where}: unknown dtype ${JSON.stringify(info.dtype)}`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: bad shape ${JSON.stringify(shape)}`);
    }
    const offs = info.data_offsets;
    if (
      !Array.isArray(offs) || offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      throw new Error(`${where}: bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLen) {
      throw new Error(
        `${where}: data_offsets [${begin}, ${end}] out of bounds of the ${dataLen}-byte data ` +
          `section`,
      );
    }
    // A product past 2⁵³ is inexact, but it is then far past any data section, so still refused.
    const want = (shape as number[]).reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype];
    if (end - begin !== want) {
      throw new Error(
        `${where}: ${dtype} shape [${shape.join(", ")}] needs ${want} bytes, ` +
          `data_offsets give ${end - begin}`,
      );
    }
    tensors.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const ranges = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (r.begin < covered) {
      const p = ranges[i - 1];
      throw new Error(
        `${file}: tensor "${r.name}" [${r.begin}, ${r.end}] overlaps tensor "${p.name}" ` +
          `[${p.begin}, ${p.end}]`,
      );
    }
    if (r.begin > covered) {
      throw new Error(
        `${file}: ${r.begin - covered} bytes before tensor "${r.name}" [${r.begin}, ${r.end}] ` +
          "belong to no tensor",
      );
    }
    covered = r.end;
  }
  if (covered !== dataLen) {
    throw new Error(
      `${file}: ${dataLen - covered} trailing bytes after the tensors' ${covered} bytes of data ` +
        "(the reference reader refuses them too)",
    );
  }
  return { headerLength: json.length, metadata, tensors };
}

/** Parses and validates a whole file held in memory; `file` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, file = "<buffer>"): SafetensorsFile {
  const len = headerLength(bytes.subarray(0, 8), bytes.length, file);
  const dataStart = 8 + len;
  const header = parseSafetensorsHeader(
    bytes.subarray(8, dataStart),
    bytes.length - dataStart,
    file,
  );
  return tensorsOf(header, bytes.subarray(dataStart));
}

/** The tensors of a validated header, as views of (or, unaligned, copies from) `data`. */
export function tensorsOf(header: SafetensorsHeader, data: Uint8Array): SafetensorsFile {
  const tensors = new Map<string, TensorOut>();
  for (const { name, dtype, shape, begin, end } of header.tensors) {
    // Typed views need alignment; third-party files need not provide it, so copy when it lacks.
    const aligned = (data.byteOffset + begin) % 8 === 0;
    const slice = aligned ? data.subarray(begin, end) : data.slice(begin, end);
    tensors.set(name, { dtype, shape, bytes: slice });
  }
  return { tensors, metadata: header.metadata };
}
