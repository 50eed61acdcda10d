/**
 * Fails when modules under the given folders (default `src/`) import each other in a circle,
 * counting type-only imports too: a circle means two modules cannot be read, tested or moved
 * apart, whether or not it bites at run time.
 *
 * `deno run --allow-read tools/checks/import_cycles.ts [DIR ...]` (run by `deno task check`).
 */
import { dirname, join, normalize, relative } from "node:path";

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+"(\.{1,2}\/[^"]+)"/g;

async function modules(dir: string, out: string[] = []): Promise<string[]> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) await modules(p, out);
    else if (/\.tsx?$/.test(e.name)) out.push(normalize(p));
  }
  return out;
}

/** Each module's relative imports, resolved to paths. */
export async function importGraph(dirs: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of await modules(dir)) {
      const text = await Deno.readTextFile(file);
      const deps = [...text.matchAll(IMPORT)].map((m) => normalize(join(dirname(file), m[1])));
      graph.set(file, deps);
    }
  }
  return graph;
}

/** Strongly connected components with more than one module, or a module importing itself. */
export function importCycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

if (import.meta.main) {
  const dirs = Deno.args.length ? Deno.args : ["src"];
  const cycles = importCycles(await importGraph(dirs));
  for (const c of cycles) {
    console.error(`import cycle: ${c.map((f) => relative(".", f)).join(" ⇄ ")}`);
  }
  if (cycles.length) Deno.exit(1);
  console.log(`no import cycles in ${dirs.join(", ")}`);
}
