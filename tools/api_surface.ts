/**
 * The public surface of resgpu's entry points as text: every export of mod.ts and files.ts with
 * its signature (classes with their public members, interfaces with their fields), docs left out,
 * from `deno doc --json`. docs/api-surface.txt holds the recorded surface and a test compares,
 * so a change to the API is a deliberate change to that file.
 *
 * `deno run --allow-read --allow-run --allow-write=docs/api-surface.txt tools/api_surface.ts
 * [--write]` prints the surface, or writes it to docs/api-surface.txt.
 */

// deno-lint-ignore no-explicit-any
type J = any;

/** TypeScript text of a `deno doc` type node. */
export function typeText(t: J): string {
  if (!t) return "unknown";
  switch (t.kind) {
    case "keyword":
      return t.value;
    case "literal": {
      const v = t.value;
      if (v.kind === "string") return JSON.stringify(v.string);
      if (v.kind === "number") return String(v.number);
      if (v.kind === "boolean") return String(v.boolean);
      return t.repr ?? "literal";
    }
    case "typeRef": {
      const args = t.value.typeParams?.length
        ? `<${t.value.typeParams.map(typeText).join(", ")}>`
        : "";
      return `${t.value.typeName}${args}`;
    }
    case "array":
      return `${wrap(t.value)}[]`;
    case "tuple":
      return `[${t.value.map(typeText).join(", ")}]`;
    case "union":
      return t.value.map(typeText).join(" | ");
    case "intersection":
      return t.value.map(typeText).join(" & ");
    case "typeOperator":
      return `${t.value.operator} ${typeText(t.value.tsType)}`;
    case "parenthesized":
      return `(${typeText(t.value)})`;
    case "indexedAccess":
      return `${typeText(t.value.objType)}[${typeText(t.value.indexType)}]`;
    case "typeQuery":
      return `typeof ${typeof t.value === "string" ? t.value : t.repr}`;
    case "fnOrConstructor":
      return `(${params(t.value.params)}) => ${typeText(t.value.tsType)}`;
    case "typeLiteral":
      return `{ ${members(t.value).join("; ")} }`;
    default:
      return t.repr || t.kind;
  }
}

function wrap(t: J): string {
  const s = typeText(t);
  return t.kind === "union" || t.kind === "fnOrConstructor" || t.kind === "intersection"
    ? `(${s})`
    : s;
}

function param(p: J): string {
  if (p.kind === "rest") return `...${param(p.arg)}`;
  if (p.kind === "assign") {
    // A parameter with a default is optional to the caller.
    const left = p.left;
    return `${left.name}?${left.tsType ? `: ${typeText(left.tsType)}` : ""}`;
  }
  const name = p.kind === "identifier" ? p.name : "_";
  return `${name}${p.optional ? "?" : ""}${p.tsType ? `: ${typeText(p.tsType)}` : ""}`;
}

function params(ps: J[] = []): string {
  return ps.map(param).join(", ");
}

function typeParams(tps: J[] = []): string {
  return tps.length ? `<${tps.map((p: J) => p.name).join(", ")}>` : "";
}

function fn(name: string, d: J): string {
  const ret = d.returnType ? `: ${typeText(d.returnType)}` : "";
  return `${d.isAsync ? "async " : ""}${name}${typeParams(d.typeParams)}(${
    params(d.params)
  })${ret}`;
}

/** Property, method and index signatures of an interface or type literal. */
function members(d: J): string[] {
  const out: string[] = [];
  for (const p of d.properties ?? []) {
    out.push(
      `${p.readonly ? "readonly " : ""}${p.name}${p.optional ? "?" : ""}: ${typeText(p.tsType)}`,
    );
  }
  for (const m of d.methods ?? []) {
    out.push(`${m.name}${m.optional ? "?" : ""}(${params(m.params)}): ${typeText(m.returnType)}`);
  }
  for (const c of d.callSignatures ?? []) out.push(`(${params(c.params)}): ${typeText(c.tsType)}`);
  for (const i of d.indexSignatures ?? []) {
    out.push(`[${params(i.params)}]: ${typeText(i.tsType)}`);
  }
  return out;
}

function isPublic(m: J): boolean {
  return m.accessibility !== "private" && m.accessibility !== "protected" &&
    !String(m.name).startsWith("#");
}

/** One symbol's lines: its declaration, then its members indented. */
function symbolLines(name: string, decl: J): string[] {
  const d = decl.def;
  switch (decl.kind) {
    case "function":
      return [`${d.isAsync ? "async " : ""}function ${fn(name, { ...d, isAsync: false })}`];
    case "variable":
      return [`${d.kind} ${name}: ${typeText(d.tsType)}`];
    case "typeAlias":
      return [`type ${name}${typeParams(d.typeParams)} = ${typeText(d.tsType)}`];
    case "interface": {
      const ext = d.extends?.length ? ` extends ${d.extends.map(typeText).join(", ")}` : "";
      return [
        `interface ${name}${typeParams(d.typeParams)}${ext}`,
        ...members(d).map((m) => `  ${m}`),
      ];
    }
    case "class": {
      const ext = d.extends ? ` extends ${d.extends}` : "";
      const lines = [`class ${name}${ext}`];
      for (const c of d.constructors ?? []) {
        if (isPublic(c)) lines.push(`  constructor(${params(c.params)})`);
        // Constructor parameter properties are fields.
        for (const p of c.params ?? []) {
          if (p.readonly && isPublic(p)) lines.push(`  readonly ${param(p)}`);
        }
      }
      for (const p of d.properties ?? []) {
        if (!isPublic(p)) continue;
        const mods = `${p.isStatic ? "static " : ""}${p.readonly ? "readonly " : ""}`;
        lines.push(`  ${mods}${p.name}${p.optional ? "?" : ""}: ${typeText(p.tsType)}`);
      }
      for (const m of d.methods ?? []) {
        if (!isPublic(m)) continue;
        const stat = m.isStatic ? "static " : "";
        if (m.kind === "getter") {
          lines.push(`  ${stat}get ${m.name}: ${typeText(m.functionDef.returnType)}`);
        } else lines.push(`  ${stat}${fn(m.name, m.functionDef)}`);
      }
      return lines;
    }
    default:
      return [`${decl.kind} ${name}`];
  }
}

/** The surface of `entries` (paths relative to the repository root) as text. */
export async function apiSurface(entries = ["mod.ts", "files.ts"]): Promise<string> {
  const root = new URL("../", import.meta.url);
  const out: string[] = [];
  for (const entry of entries) {
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["doc", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!res.success) throw new Error(new TextDecoder().decode(res.stderr));
    const doc = JSON.parse(new TextDecoder().decode(res.stdout));
    const mod = Object.values(doc.nodes)[0] as J;
    out.push(`# ${entry}`);
    const symbols = [...mod.symbols].sort((a: J, b: J) => a.name.localeCompare(b.name));
    for (const s of symbols) {
      for (const decl of s.declarations) out.push(...symbolLines(s.name, decl));
    }
    out.push("");
  }
  return out.join("\n");
}

if (import.meta.main) {
  const text = await apiSurface();
  if (Deno.args.includes("--write")) {
    await Deno.writeTextFile(new URL("../docs/api-surface.txt", import.meta.url), text);
    console.log("wrote docs/api-surface.txt");
  } else console.log(text);
}
