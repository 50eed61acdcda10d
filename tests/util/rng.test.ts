import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.ts";

Deno.test("Rng state round-trips and streams are reproducible", () => {
  const a = new Rng(42);
  for (let i = 0; i < 10; i++) a.next();
  const saved = a.getState();
  const first = Array.from({ length: 5 }, () => a.nextU32());
  const b = new Rng(0);
  b.setState(saved);
  assert.deepEqual(Array.from({ length: 5 }, () => b.nextU32()), first);
  assert.notDeepEqual(new Rng(1).getState(), new Rng(2).getState());
  assert.deepEqual(new Rng(3, 4).getState(), new Rng(3, 4).getState());
  assert.notDeepEqual(new Rng(3, 4).getState(), new Rng(4, 3).getState());
  const perm = new Rng(5).shuffle(Int32Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual([...perm].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
});
