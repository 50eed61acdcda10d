/**
 * The public surface (every export of mod.ts and files.ts with its signature) is recorded in
 * docs/api-surface.txt: a change to the API must change that file too, deliberately. Regenerate it
 * with `deno task api` and review the diff.
 */
import assert from "node:assert/strict";
import { apiSurface, typeText } from "../../tools/api_surface.ts";

Deno.test("api surface: mod.ts and files.ts export what docs/api-surface.txt records", async () => {
  const recorded = await Deno.readTextFile(new URL("../../docs/api-surface.txt", import.meta.url));
  const now = await apiSurface();
  if (now !== recorded) {
    const a = recorded.split("\n"), b = now.split("\n");
    const gone = a.filter((l) => !b.includes(l)), added = b.filter((l) => !a.includes(l));
    assert.fail(
      "the public API changed; if that is deliberate, run `deno task api` and commit " +
        `docs/api-surface.txt\nremoved:\n  ${gone.join("\n  ")}\nadded:\n  ${added.join("\n  ")}`,
    );
  }
});

Deno.test("api surface: type nodes print as TypeScript", () => {
  const num = { kind: "keyword", value: "number" };
  assert.equal(
    typeText({ kind: "array", value: { kind: "union", value: [num, num] } }),
    "(number | number)[]",
  );
  assert.equal(
    typeText({ kind: "typeRef", value: { typeName: "Promise", typeParams: [num] } }),
    "Promise<number>",
  );
  assert.equal(
    typeText({ kind: "literal", value: { kind: "string", string: "cpu" } }),
    '"cpu"',
  );
});
