/**
 * Defect 7 (memory) of the reliability probe: 50 Runtime.create()/dispose() cycles grew the
 * process from 447 to 614 MiB. Deno frees a destroyed device's native memory only when the
 * garbage collector collects its JS object, which native memory never prompts (~3.4 MB a device),
 * so a disposed runtime now hands its healthy device back for the next Runtime.create, with the
 * kernels compiled on it. 1,000 cycles with a model and a training step each:
 * `deno task bench:soak --runtimes 1000`.
 */
import assert from "node:assert/strict";
import { Runtime } from "../../src/gpu/runtime.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { DisposedError } from "../../src/util/disposed.ts";
import { GPU_TEST } from "../helpers/gpu.ts";

const runtimeModule = new URL("../../src/gpu/runtime.ts", import.meta.url).href;

Deno.test("reliability: 150 runtime create/dispose cycles do not grow the process", async () => {
  const code = `
    import { Runtime } from ${JSON.stringify(runtimeModule)};
    const rss = () => Deno.memoryUsage().rss / 2 ** 20;
    let first = 0;
    for (let i = 0; i < 150; i++) {
      if (i === 10) first = rss();
      const rt = await Runtime.create();
      const b = rt.pool.acquire(1 << 20, "x");
      rt.commands().clearBuffer(b);
      await rt.sync();
      rt.dispose();
    }
    console.log(JSON.stringify({ grewMB: rss() - first }));`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-lock", code],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  const { grewMB } = JSON.parse(new TextDecoder().decode(r.stdout));
  // A device a cycle would be ~480 MB here.
  assert.ok(grewMB < 48, `140 cycles grew the process by ${grewMB.toFixed(0)} MB`);
});

Deno.test({
  name: "reliability: a reused device keeps use-after-dispose safe (defect 5 across runtimes)",
  ...GPU_TEST,
  async fn() {
    const graph = buildModel("resnet8", { inputShape: [1, 8, 8], classes: 3, width: 0.25 });
    const x = new Float32Array(2 * 64).fill(0.5);
    const first = await Runtime.create();
    const old = Model.create(first, graph, { seed: 1 });
    const trainer = await Trainer.create(old, {
      batchSize: 2,
      optimizer: { kind: "sgd", lr: 0.1 },
    });
    trainer.step(x, [0, 1], 0.1);
    await trainer.readMetrics();
    first.dispose();
    // The next runtime gets the same device back, and its buffers may sit where the old ones did.
    const second = await Runtime.create();
    assert.equal(second.device, first.device, "the device was not reused");
    const model = Model.create(second, graph, { seed: 2 });
    const before = await model.stateDict();
    assert.throws(() => trainer.step(x, [0, 1], 0.1), DisposedError);
    await assert.rejects(old.stateDict(), DisposedError);
    assert.deepEqual(await model.stateDict(), before);
    second.dispose();
  },
});
