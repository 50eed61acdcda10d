/**
 * Type checks of values handed to the GPU or a parser, shared so every refusal reads the same:
 * typed arrays are checked for type as well as length (a Float64Array of the right length would be
 * copied byte for byte into a Float32 buffer), with a TypeError naming what was expected and got.
 */

/** The type name of a value for error messages: "Float64Array", "Array", "null", "number". */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "an object";
}

/**
 * Throws `TypeError("<what> must be a Float32Array, got <type><hint>")` unless `x` is one; the
 * default hint suggests `Float32Array.from` for other arrays.
 */
export function checkFloat32(
  x: unknown,
  what: string,
  hint = ArrayBuffer.isView(x) || Array.isArray(x) ? " (convert it with Float32Array.from)" : "",
): asserts x is Float32Array {
  if (!(x instanceof Float32Array)) {
    throw new TypeError(`${what} must be a Float32Array, got ${typeName(x)}${hint}`);
  }
}

/** Throws `TypeError("<what> must be a Uint8Array, got <type>")` unless `x` is one (a Node Buffer is). */
export function checkUint8(x: unknown, what: string): asserts x is Uint8Array {
  if (!(x instanceof Uint8Array)) {
    throw new TypeError(`${what} must be a Uint8Array, got ${typeName(x)}`);
  }
}
