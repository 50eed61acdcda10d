/**
 * A small typed flag parser. Spec keys are camelCase and appear on the command line in kebab case
 * (`batchSize` → `--batch-size`), so parsed values are plain property accesses. Every error names
 * the flag and what would have been accepted, because a long training run that dies on a typo an
 * hour later (or trains with a silently ignored flag) costs far more than a strict parser.
 */

export class ArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArgsError";
  }
}

/** Thrown by parseArgs for `--help`/`-h`; `text` is what to print. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super("help requested");
    this.name = "HelpRequested";
  }
}

interface Common {
  help: string;
  /** Fail when the flag is absent (only meaningful without a default). */
  required?: boolean;
}
export interface StringFlag extends Common {
  type: "string";
  default?: string;
}
export interface NumberFlag extends Common {
  type: "number" | "int";
  default?: number;
  min?: number;
  max?: number;
  /** The value of the flag given bare, with no value after it (`--dashboard` alone). */
  bare?: number;
}
export interface BooleanFlag extends Common {
  type: "boolean";
  default?: boolean;
  /** Absent reads as undefined rather than false, for defaults that depend on other flags. */
  optional?: true;
}
export interface EnumFlag<V extends string = string> extends Common {
  type: "enum";
  values: readonly V[];
  default?: V;
}
export type FlagSpec = StringFlag | NumberFlag | BooleanFlag | EnumFlag;
export type Spec = Record<string, FlagSpec>;

type ValueOf<F> = F extends { type: "enum"; values: readonly (infer V)[] } ? V
  : F extends { type: "number" | "int" } ? number
  : F extends { type: "boolean" } ? boolean
  : string;

/**
 * Booleans are never undefined (absent = default or false) unless marked optional; others are
 * undefined when absent without a default.
 */
export type Parsed<S extends Spec> = {
  [K in keyof S]: S[K] extends { type: "boolean"; optional: true } ? boolean | undefined
    : S[K] extends { type: "boolean" } ? boolean
    : S[K] extends { default: unknown } | { required: true } ? ValueOf<S[K]>
    : ValueOf<S[K]> | undefined;
};

/** Declares a spec while keeping literal types (enum values, required) for `Parsed`. */
export function defineFlags<const S extends Spec>(spec: S): S {
  return spec;
}

export const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INT = /^[+-]?\d+$/;

function convert(flag: string, f: FlagSpec, raw: string): string | number | boolean {
  switch (f.type) {
    case "string":
      return raw;
    case "boolean": {
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw new ArgsError(`--${flag}: expected true or false, got "${raw}"`);
    }
    case "enum": {
      if (f.values.includes(raw)) return raw;
      throw new ArgsError(
        `--${flag}: invalid value "${raw}"; allowed values: ${f.values.join(", ")}`,
      );
    }
    case "number":
    case "int": {
      const ok = f.type === "int" ? INT.test(raw) : FLOAT.test(raw);
      const v = Number(raw);
      if (!ok || !Number.isFinite(v) || (f.type === "int" && !Number.isSafeInteger(v))) {
        const what = f.type === "int" ? "an integer" : "a number";
        throw new ArgsError(`--${flag}: expected ${what}, got "${raw}"`);
      }
      if (f.min !== undefined && v < f.min) {
        throw new ArgsError(`--${flag}: must be >= ${f.min}, got ${raw}`);
      }
      if (f.max !== undefined && v > f.max) {
        throw new ArgsError(`--${flag}: must be <= ${f.max}, got ${raw}`);
      }
      return v;
    }
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function unknownFlag(name: string, known: string[]): ArgsError {
  const near = known
    .map((k) => [k, editDistance(name, k)] as const)
    .filter(([, d]) => d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a[1] - b[1]);
  const hint = near.length > 0 ? `; did you mean --${near[0][0]}?` : "";
  return new ArgsError(`unknown flag --${name}${hint} (see --help)`);
}

export function parseArgs<S extends Spec>(
  spec: S,
  argv: readonly string[],
  usage = "",
): Parsed<S> {
  const byFlag = new Map<string, string>(); // kebab flag -> spec key
  for (const key of Object.keys(spec)) byFlag.set(kebab(key), key);
  const out: Record<string, unknown> = {};

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") throw new HelpRequested(formatHelp(spec, usage));
    if (!arg.startsWith("--") || arg === "--") {
      throw new ArgsError(`unexpected argument "${arg}"; flags look like --name value`);
    }
    const eq = arg.indexOf("=");
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);

    const key = byFlag.get(name);
    if (key === undefined && name.startsWith("no-")) {
      const base = byFlag.get(name.slice(3));
      if (base !== undefined && spec[base].type === "boolean") {
        if (inline !== undefined) throw new ArgsError(`--${name} takes no value`);
        out[base] = false;
        continue;
      }
    }
    if (key === undefined) throw unknownFlag(name, [...byFlag.keys()]);
    const f = spec[key];
    name = kebab(key);

    if (f.type === "boolean") {
      // A bare boolean never consumes the next argument: `--augment 32` would be ambiguous.
      out[key] = inline === undefined ? true : convert(name, f, inline);
      continue;
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      // Negative numbers (`-1`) are values; only `--x` reads as the next flag.
      if (next === undefined || next.startsWith("--")) {
        if ((f.type === "number" || f.type === "int") && f.bare !== undefined) {
          out[key] = f.bare;
          continue;
        }
        throw new ArgsError(`--${name}: missing value (${describeType(f)})`);
      }
      raw = next;
      i++;
    }
    out[key] = convert(name, f, raw);
  }

  for (const [key, f] of Object.entries(spec)) {
    if (key in out) continue;
    if (f.default !== undefined) out[key] = f.default;
    else if (f.type === "boolean") out[key] = f.optional ? undefined : false;
    else if (f.required) {
      throw new ArgsError(`--${kebab(key)} is required (${describeType(f)})`);
    } else out[key] = undefined;
  }
  return out as Parsed<S>;
}

function describeType(f: FlagSpec): string {
  switch (f.type) {
    case "enum":
      return `one of: ${f.values.join(", ")}`;
    case "int":
      return "an integer";
    case "number":
      return "a number";
    case "string":
      return "a string";
    case "boolean":
      return "true or false";
  }
}

export function formatHelp(spec: Spec, usage = ""): string {
  const rows = Object.entries(spec).map(([key, f]) => {
    const flag = kebab(key);
    const left = f.type === "boolean"
      ? `--[no-]${flag}`
      : `--${flag} <${f.type === "enum" ? f.values.join("|") : f.type}>`;
    const dflt = f.default !== undefined
      ? ` (default: ${JSON.stringify(f.default)})`
      : f.type === "boolean"
      ? (f.optional ? "" : " (default: false)")
      : f.required
      ? " (required)"
      : " (default: none)";
    return [left, f.help + dflt] as const;
  });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  const lines = rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`);
  return [usage, "Flags:", ...lines, `  ${"--help".padEnd(width)}  Show this help`]
    .filter((s) => s !== "")
    .join("\n");
}

/**
 * CLI wrapper: help goes to stdout with exit 0, usage errors to stderr with exit 2 (the
 * conventional "bad invocation" status, distinct from a run that failed).
 */
export function parseArgsOrExit<S extends Spec>(
  spec: S,
  argv: readonly string[] = Deno.args,
  usage = "",
): Parsed<S> {
  try {
    return parseArgs(spec, argv, usage);
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.log(e.text);
      Deno.exit(0);
    }
    if (e instanceof ArgsError) {
      console.error(`error: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
}
