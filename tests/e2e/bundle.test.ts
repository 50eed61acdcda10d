/**
 * The esbuild bundle and its declarations: a separate Deno program imports dist/resgpu.js with no
 * permissions at all (so no --allow-read for shaders) and runs a kernel on the GPU; with the
 * `Deno` global deleted it still trains; and an app is type-checked against dist/resgpu.d.ts,
 * where a wrong option is a type error.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);
const bundle = new URL("dist/resgpu.js", root).href;

async function run(args: string[], cwd: URL) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

let built: Promise<void> | null = null;
/** Builds dist/ once per test process. */
function build(): Promise<void> {
  built ??= run(["task", "build"], root).then((b) => assert.equal(b.code, 0, b.stderr));
  return built;
}

/** Writes `files` into a fresh temporary folder, runs `fn` there, and removes it. */
async function inTempApp(
  files: Record<string, string>,
  fn: (dir: URL) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "resgpu-bundle-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(new URL(`file://${dir}/`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bundle: dist/resgpu.js runs a kernel in an app with no permissions", async () => {
  await build();
  const app = `import { Runtime, Tensor, axpb } from ${JSON.stringify(bundle)};
const rt = await Runtime.create();
const x = Tensor.fromArray(rt, [1, 2, 3], [3]);
const y = await axpb(rt, x, 2, 1);
console.log(JSON.stringify({ y: Array.from(await y.toArray()), adapter: rt.report.description }));
rt.dispose();
`;
  await inTempApp({ "app.js": app }, async (dir) => {
    const res = await run(["run", "--no-prompt", "--no-config", "app.js"], dir);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout.trim().split("\n").pop()!);
    assert.deepEqual(out.y, [3, 5, 7]);
    assert.equal(typeof out.adapter, "string");
  });
});

Deno.test("bundle: the core trains with the Deno global deleted (as in a browser)", async () => {
  await build();
  // The bundle is imported only after `Deno` is gone, so neither its module code nor anything
  // it calls may touch it.
  const app = `delete globalThis.Deno;
if (typeof Deno !== "undefined") throw new Error("Deno is still defined");
const r = await import(${JSON.stringify(bundle)});
const rt = await r.Runtime.create({ kernels: "cpu" });
const { train } = r.syntheticDataset({ seed: 3, trainCount: 32, testCount: 8 });
const graph = r.buildModel("resnet8", { inputShape: [1, 28, 28], classes: 10 });
const model = r.Model.create(rt, graph, { seed: 0 });
const trainer = await r.Trainer.create(model, { batchSize: 8, optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9 } });
const stats = r.computeChannelStats(train);
const loader = r.BatchLoader.train(train, { batchSize: 8, stats, seed: 0 });
const losses = [];
for await (const b of loader.epoch()) {
  trainer.step(b.x, b.y, 0.05);
  losses.push((await trainer.readMetrics()).meanLoss);
}
trainer.dispose();
model.dispose();
rt.dispose();
console.log(JSON.stringify({ losses }));
`;
  await inTempApp({ "app.js": app }, async (dir) => {
    const res = await run(["run", "--no-prompt", "--no-config", "app.js"], dir);
    assert.equal(res.code, 0, res.stderr);
    const { losses } = JSON.parse(res.stdout.trim().split("\n").pop()!);
    assert.equal(losses.length, 4);
    for (const l of losses) assert.ok(Number.isFinite(l) && l > 0, `loss ${l}`);
  });
});

Deno.test("bundle: an app type-checks against dist/resgpu.d.ts; a wrong option does not", async () => {
  await build();
  const ok = `import { buildModel, Model, Runtime, Trainer, type TrainerOptions } from ${
    JSON.stringify(bundle)
  };
const rt: Runtime = await Runtime.create({ kernels: "cpu" });
const graph = buildModel("resnet20", { inputShape: [1, 28, 28], classes: 10 });
const model = Model.create(rt, graph, { seed: 0 });
const opts: TrainerOptions = { batchSize: 8, optimizer: { kind: "sgd", lr: 0.1 } };
const trainer: Trainer = await Trainer.create(model, opts);
const m: { meanLoss: number; accuracy: number } = await trainer.readMetrics();
console.log(m.meanLoss);
rt.dispose();
`;
  const bad = `import { buildModel } from ${JSON.stringify(bundle)};
buildModel("resnet20", { inputShape: "oops", classes: 10 });
`;
  const untyped = `import { Runtime } from ${JSON.stringify(bundle)};
await Runtime.create({ kernelz: "cpu" });
`;
  await inTempApp({ "ok.ts": ok, "bad.ts": bad, "untyped.ts": untyped }, async (dir) => {
    const good = await run(["check", "--no-config", "ok.ts"], dir);
    assert.equal(good.code, 0, good.stderr);
    const wrong = await run(["check", "--no-config", "bad.ts"], dir);
    assert.notEqual(wrong.code, 0, 'inputShape: "oops" must not type-check');
    assert.match(wrong.stderr, /TS2322/);
    assert.match(wrong.stderr, /inputShape|\[number, number, number\]/);
    const typo = await run(["check", "--no-config", "untyped.ts"], dir);
    assert.notEqual(typo.code, 0, "an unknown option must not type-check");
    assert.match(typo.stderr, /kernelz/);
  });
});
