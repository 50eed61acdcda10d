/** The type name of a value for error messages: "Float64Array", "Array", "null", "number". */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "an object";
}
