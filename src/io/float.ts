/**
 * Floating-point tensors of a safetensors file as f32: F32 as a view, F16 and BF16 widened
 * exactly (every half and bfloat16 value is an f32), F64 rounded to nearest (values beyond f32's
 * range become ±Infinity, which loaders then refuse as non-finite).
 */
import { type Dtype, type TensorOut, typedView } from "./safetensors.ts";

/** The dtypes {@link toFloat32} converts. */
export const FLOAT_DTYPES: readonly Dtype[] = ["F32", "F16", "BF16", "F64"];

/** IEEE binary16 bits → the number they encode (exact in f32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The f32 values of a floating-point tensor; throws for other dtypes. */
export function toFloat32(t: TensorOut, name: string): Float32Array {
  const v = typedView(t);
  switch (t.dtype) {
    case "F32":
      return v as Float32Array;
    case "F64":
      return Float32Array.from(v as Float64Array);
    case "F16": {
      const h = v as Uint16Array;
      // All 65,536 patterns through one table: a ResNet-50 is 25M lookups, not 25M pow calls.
      const table = halfTable();
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = table[h[i]];
      return out;
    }
    case "BF16": {
      // bfloat16 is the high half of an f32.
      const b = v as Uint16Array;
      const bits = new Uint32Array(b.length);
      for (let i = 0; i < b.length; i++) bits[i] = b[i] << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      throw new TypeError(
        `${name} is ${t.dtype}; parameters load from ${FLOAT_DTYPES.join(", ")} tensors only`,
      );
  }
}

let table: Float32Array | null = null;

function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  }
  return table;
}
