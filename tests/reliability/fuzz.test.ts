/**
 * The reliability fuzzer: seeded mutations of valid IDX (raw and gzipped), CIFAR-10,
 * safetensors, checkpoint-metadata and metrics files (./fuzz/targets.ts; image decoders join
 * there) must each end in a correct load or a clear error naming the file — never a crash, a
 * hang or an allocation past a stated limit. The driver runs in a fresh process so its peak
 * memory is its own. A second test loads mutated checkpoints into a model: a refused one must
 * leave the model bit-identical.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { Rng } from "../../src/util/rng.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { applyCheckpoint, decodeCheckpoint, encodeCheckpoint } from "../../src/train/checkpoint.ts";

/** The whole campaign may not raise the process's peak resident memory past this. */
const PEAK_LIMIT_MB = 512;

Deno.test("reliability: fuzzed parsers load correctly or fail clearly (fresh process)", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    // All permissions: a process may read its own /proc/self/status only with them.
    args: ["run", "-A", "--no-lock", new URL("./fuzz/driver.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  const out = JSON.parse(new TextDecoder().decode(r.stdout).trim().split("\n").at(-1)!);
  const lines: string[] = [];
  for (const t of out.targets) {
    lines.push(
      `${t.target}: ${t.cases} cases, ${t.loads} loads, ${t.errors} clear errors, ` +
        `${t.failures.length} failures, ${t.ms} ms`,
    );
    for (const f of t.failures.slice(0, 5)) {
      lines.push(`  case ${f.case} (seed ${out.seed}, ${f.mutation}): ${f.problem}`);
    }
  }
  const failures = out.targets.reduce(
    (a: number, t: { failures: unknown[] }) => a + t.failures.length,
    0,
  );
  assert.equal(failures, 0, lines.join("\n"));
  // Every target both loaded and refused something: the mutations reach the parsers.
  for (const t of out.targets) assert.ok(t.loads > 0 && t.errors > 0, lines.join("\n"));
  if (Number.isFinite(out.peakKb)) {
    assert.ok(out.peakKb / 1024 < PEAK_LIMIT_MB, `peak ${out.peakKb} kB\n${lines.join("\n")}`);
  }
  console.log(lines.join("\n"));
});

Deno.test({
  name: "reliability: a fuzzed checkpoint either loads whole or leaves the model bit-identical",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const graph = buildModel("resnet8", { inputShape: [1, 8, 8], classes: 3, width: 0.25 });
    using src = Model.create(rt, graph, { name: "resnet8", seed: 1 });
    using dst = Model.create(rt, graph, { name: "resnet8", seed: 2 });
    using ts = await Trainer.create(src, {
      batchSize: 2,
      optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9 },
    });
    using td = await Trainer.create(dst, {
      batchSize: 2,
      optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9 },
    });
    ts.step(new Float32Array(128).fill(0.5), [0, 1], 0.1);
    const good = await encodeCheckpoint(src, ts, {
      model: "resnet8",
      epoch: 1,
      step: 1,
      loader: { seed: 0, epoch: 1, batch: 0 },
      config: {},
    });
    const before = await dst.stateDict();
    let loaded = 0, refused = 0;
    const cases = 120;
    for (let i = 0; i < cases; i++) {
      const rng = new Rng(26, 99, i);
      const bytes = good.slice();
      // Bit flips anywhere: header, metadata, tensor data (NaN patterns included).
      for (let k = 1 + rng.int(3); k > 0; k--) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
      try {
        applyCheckpoint(decodeCheckpoint(bytes, `case-${i}`), dst, td);
        loaded++;
        // A load may change values (a flipped mantissa bit), but every one is finite.
        for (const [name, v] of await dst.stateDict()) assert.ok(v.every(Number.isFinite), name);
        // Start the next case from the reference state again.
        dst.loadStateDict(
          new Map([...before].map(([k, v]) => [k, {
            shape: graph.params.find((p) => p.name === k)!.shape,
            data: v,
          }])),
        );
      } catch (e) {
        assert.ok(e instanceof Error && e.message.includes(`case-${i}`), `case ${i}: ${e}`);
        refused++;
        const now = await dst.stateDict();
        for (const [name, v] of before) assert.deepEqual(now.get(name), v, `case ${i}: ${name}`);
      }
    }
    assert.ok(loaded > 0 && refused > 0, `${loaded} loaded, ${refused} refused`);
  },
});
