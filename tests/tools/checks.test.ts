/** The repository checks `deno task check` runs: each must fail on what it guards against. */
import assert from "node:assert/strict";
import { importCycles } from "../../tools/checks/import_cycles.ts";
import { danglingIn } from "../../tools/checks/paths.ts";

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
