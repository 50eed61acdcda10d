/** The benchmarks' median: bench:compare's ratios are medians of --rounds, which may be even. */
import assert from "node:assert/strict";
import { median } from "../../bench/stats.ts";

Deno.test("bench median: middle value for an odd count, mean of the middle two for an even one", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([547, 271, 520, 300]), 410); // (300 + 520) / 2, not the upper middle
  assert.equal(median([5]), 5);
  const xs = [4, 1, 3];
  median(xs);
  assert.deepEqual(xs, [4, 1, 3], "input left unsorted");
  assert.throws(() => median([]), /no values/);
});
