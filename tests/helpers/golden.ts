/**
 * Loader for the PyTorch golden fixtures (tests/fixtures/golden.json, written by golden.py) and
 * the input formulas, so CPU and GPU tests rebuild exactly the inputs PyTorch saw without the
 * fixture storing them. Reading needs --allow-read.
 */

/** value[i] = offset + scale · fn(a·i + b) over the row-major flat index i. */
export interface FormulaSpec {
  shape: number[];
  fn: "sin" | "cos";
  a: number;
  b: number;
  scale: number;
  offset: number;
}

export interface GoldenCase {
  op: string;
  /** Op shape object in the reference's own field names (n, c, h, w, k, kh, …). */
  shape?: Record<string, number>;
  options?: Record<string, unknown>;
  labels?: number[];
  /** Formula specs (nested in lists/objects for optimizers and blocks). */
  inputs: Record<string, unknown>;
  /** Flat row-major number lists, scalars, or nested records of them. */
  outputs: Record<string, unknown>;
}

export interface Golden {
  meta: { generator: string; torch: string; dtype: string; formula: string };
  cases: Record<string, GoldenCase>;
}

let cached: Golden | undefined;

/** Parses golden.json once per process. */
export function loadGolden(): Golden {
  cached ??= JSON.parse(
    Deno.readTextFileSync(new URL("../fixtures/golden.json", import.meta.url)),
  ) as Golden;
  return cached;
}

export function goldenCase(name: string): GoldenCase {
  const c = loadGolden().cases[name];
  if (!c) throw new Error(`no golden case "${name}"`);
  return c;
}

/** Rebuilds an input from its spec; same operation order as golden.py, so the same f64 bits. */
export function formula(spec: FormulaSpec): Float64Array {
  const n = spec.shape.reduce((p, d) => p * d, 1);
  const f = spec.fn === "sin" ? Math.sin : Math.cos;
  return Float64Array.from(
    { length: n },
    (_, i) => spec.offset + spec.scale * f(spec.a * i + spec.b),
  );
}

/** Activation family: 0.5 · sin(0.37 i + b). */
export function formulaX(n: number, b = 0.1): Float64Array {
  return formula({ shape: [n], fn: "sin", a: 0.37, b, scale: 0.5, offset: 0 });
}

/** Weight family: cos(0.11 i + b) / sqrt(fanIn). */
export function formulaW(n: number, fanIn: number, b = 0.3): Float64Array {
  return formula({ shape: [n], fn: "cos", a: 0.11, b, scale: 1 / Math.sqrt(fanIn), offset: 0 });
}

/** Upstream-gradient family: 0.3 · sin(0.53 i + b). */
export function formulaG(n: number, b = 0.2): Float64Array {
  return formula({ shape: [n], fn: "sin", a: 0.53, b, scale: 0.3, offset: 0 });
}

/** The named input of a case, rebuilt from its formula. */
export function goldenInput(c: GoldenCase, name: string): Float64Array {
  const spec = c.inputs[name] as FormulaSpec | undefined;
  if (!spec) throw new Error(`golden case has no input "${name}"`);
  return formula(spec);
}

/** The named flat output list of a case. */
export function goldenOutput(c: GoldenCase, name: string): number[] {
  const v = c.outputs[name];
  if (!Array.isArray(v)) throw new Error(`golden case has no list output "${name}"`);
  return v as number[];
}
