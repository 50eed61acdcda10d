/**
 * Fails on a reference to a repository path that does not exist: a relative link in any
 * Markdown file, or a path such as `src/gpu/runtime.ts` or `experiments/probes/` named in a
 * comment, README, doc or script. Moves and renames otherwise leave such pointers dangling.
 *
 * `deno run --allow-read --allow-run=git tools/checks/paths.ts` (run by `deno task check`).
 */
import { dirname, join, normalize } from "node:path";
import { existsSync } from "node:fs";

/** Top-level folders whose paths are checked wherever they are mentioned. */
const ROOTS = [
  "src",
  "tests",
  "bench",
  "docs",
  "experiments",
  "tools",
  "shaders",
  "examples",
  "web",
];
const MENTION = new RegExp(
  String.raw`(?<![\w./$-])((?:${ROOTS.join("|")})/[\w./-]*[\w/])`,
  "g",
);
const LINK = /\]\(([^)\s]+)\)|<img [^>]*src="([^"]+)"/g;
/** Files that are data or generated, where paths are not pointers. */
const SKIP = /(^|\/)(deno\.lock|shaders\.gen\.ts)$|\.(jsonl|json|svg|gz|safetensors|png|jpg)$/;
/** Paths created at run time or on another machine, named on purpose. */
const RUNTIME = /^(bench\/results|runs)\//;
/** The journal keeps its history as written: paths there may name what has since moved. */
const HISTORY = /^docs\/journal\//;

export function danglingIn(file: string, text: string): string[] {
  const bad: string[] = [];
  if (file.endsWith(".md")) {
    for (const m of text.matchAll(LINK)) {
      const target = (m[1] ?? m[2]).split("#")[0];
      if (!target || /^[a-z][a-z+.-]*:/i.test(target) || target.startsWith("/")) continue;
      const path = normalize(join(dirname(file), decodeURIComponent(target)));
      if (!existsSync(path)) bad.push(`link ${target}`);
    }
  }
  if (HISTORY.test(file)) return bad;
  for (const m of text.matchAll(MENTION)) {
    const path = m[1].replace(/\.$/, "");
    if (RUNTIME.test(path) || existsSync(path)) continue;
    bad.push(`path ${path}`);
  }
  return bad;
}

if (import.meta.main) {
  const out = new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard"],
  })
    .outputSync();
  const files = new TextDecoder().decode(out.stdout).split("\n").filter((f) =>
    f && !SKIP.test(f) && existsSync(f)
  );
  let count = 0;
  for (const f of files) {
    for (const b of danglingIn(f, Deno.readTextFileSync(f))) {
      console.error(`${f}: ${b} does not exist`);
      count++;
    }
  }
  if (count) Deno.exit(1);
  console.log(`paths: every link and repository path in ${files.length} files resolves`);
}
