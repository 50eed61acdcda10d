/**
 * The package JSR would receive: `deno publish --dry-run` must succeed with no warning (slow
 * types, unanalyzable imports, a missing license), the files must be the library only (deno.json's
 * `publish.include`: the entry points, src/, README, LICENSE) and their total must stay within
 * 1 MB. Prints the file count and size. The dry run needs no network beyond the npm packages
 * already in Deno's cache.
 *
 * `deno run --allow-read --allow-run --allow-env tools/checks/package.ts` (run by `deno task check`).
 */

/** The package's size limit, bytes. */
export const LIMIT_BYTES = 1_000_000;
/** What may be published: the library's entry points and sources, and its license and readme. */
const ALLOWED = /^(mod\.ts|files\.ts|images\.ts|deno\.json|README\.md|LICENSE|src\/.+\.(ts|js))$/;

/** The files of a dry run's output (`file:///…/path (12.3KB)` lines), relative to `root`. */
export function listedFiles(output: string, root: string): string[] {
  const prefix = `file://${root.replace(/\/?$/, "/")}`;
  const files: string[] = [];
  for (const line of output.split("\n")) {
    const m = line.match(/^\s+(file:\/\/\S+) \([\d.]+\s*[KMG]?B\)\s*$/);
    if (m) files.push(decodeURI(m[1]).replace(prefix, ""));
  }
  return files;
}

/** Problems with a package of these files and sizes (empty when it is publishable as intended). */
export function packageProblems(files: { path: string; bytes: number }[]): string[] {
  const problems: string[] = [];
  if (files.length === 0) problems.push("the dry run listed no files");
  for (const f of files) {
    if (!ALLOWED.test(f.path)) problems.push(`${f.path} is not library code (publish.include)`);
  }
  const total = files.reduce((a, f) => a + f.bytes, 0);
  if (total > LIMIT_BYTES) {
    problems.push(`the package is ${total} bytes, over the ${LIMIT_BYTES}-byte limit`);
  }
  return problems;
}

if (import.meta.main) {
  const root = new URL("../../", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const problems: string[] = [];
  if (!out.success) problems.push(`deno publish --dry-run failed:\n${text}`);
  else if (/^(warning|error)\[/m.test(text)) {
    problems.push(`deno publish --dry-run reported problems:\n${text}`);
  }
  const files = listedFiles(text, root).map((path) => ({
    path,
    bytes: Deno.statSync(`${root}${path}`).size,
  }));
  problems.push(...packageProblems(files));
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    Deno.exit(1);
  }
  const total = files.reduce((a, f) => a + f.bytes, 0);
  console.log(`package: ${files.length} files, ${(total / 1000).toFixed(1)} kB (limit 1 MB)`);
}
