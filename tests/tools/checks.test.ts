/** The repository checks `deno task check` runs: each must fail on what it guards against. */
import assert from "node:assert/strict";
import { importCycles } from "../../tools/checks/import_cycles.ts";
import { danglingIn } from "../../tools/checks/paths.ts";
import { LIMIT_BYTES, listedFiles, packageProblems } from "../../tools/checks/package.ts";

Deno.test("import cycles: a circle through type imports is found, a chain is not", () => {
  const graph = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["c.ts"]],
    ["c.ts", ["a.ts", "d.ts"]],
    ["d.ts", []],
    ["e.ts", ["e.ts"]],
  ]);
  assert.deepEqual(importCycles(graph), [["a.ts", "b.ts", "c.ts"], ["e.ts"]]);
  assert.deepEqual(importCycles(new Map([["a.ts", ["b.ts"]], ["b.ts", []]])), []);
});

Deno.test("paths: dangling Markdown links and repository paths are reported", () => {
  // Run from the repository root (deno task test does), so real paths resolve.
  assert.deepEqual(danglingIn("README.md", "[ok](src/shapes.ts) and `tests/helpers/`"), []);
  // Built from parts so that this file itself names no missing path.
  const gone = ["src", "gone.ts"].join("/");
  assert.deepEqual(danglingIn(["docs", "x.md"].join("/"), `see [a](../src/nope.ts) and ${gone}`), [
    "link ../src/nope.ts",
    `path ${gone}`,
  ]);
  // The journal's history may name moved paths; its links must still resolve.
  assert.deepEqual(danglingIn(["docs", "journal", "x.md"].join("/"), `once ${gone}`), []);
  assert.deepEqual(danglingIn(["docs", "journal", "x.md"].join("/"), "[a](../../src/nope.ts)"), [
    "link ../../src/nope.ts",
  ]);
  assert.deepEqual(
    danglingIn("a.ts", "// runs/x/metrics.jsonl and bench/results/ are made at run time"),
    [],
  );
});

Deno.test("package: the dry run's file list is read, and tests or an oversized package fail", () => {
  // Paths built from parts so that this file itself names no missing path.
  const [src, tests] = ["src", "tests"];
  const out = "Simulating publish of @resgpu/resgpu@0.1.0 with files:\n" +
    `   file:///r/LICENSE (1.05KB)\n   file:///r/${src}/gpu/a%20b.ts (12.3KB)\n` +
    "   file:///r/mod.ts (1.31KB)\nSuccess Dry run complete\n";
  assert.deepEqual(listedFiles(out, "/r"), ["LICENSE", `${src}/gpu/a b.ts`, "mod.ts"]);
  const lib = [{ path: "mod.ts", bytes: 100 }, { path: `${src}/x.ts`, bytes: 100 }];
  assert.deepEqual(packageProblems(lib), []);
  assert.deepEqual(packageProblems([...lib, { path: `${tests}/x.test.ts`, bytes: 1 }]), [
    `${tests}/x.test.ts is not library code (publish.include)`,
  ]);
  assert.match(
    packageProblems([{ path: `${src}/big.ts`, bytes: LIMIT_BYTES + 1 }]).join(),
    /over the 1000000-byte limit/,
  );
  assert.deepEqual(packageProblems([]), ["the dry run listed no files"]);
});
