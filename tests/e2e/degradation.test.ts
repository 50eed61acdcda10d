/** The whole degradation command at a tiny budget on the synthetic set: every output parses. */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import {
  runDegradationStudy,
  type StudyConfig,
  StudyInterrupted,
} from "../../src/study/degradation.ts";

const TINY = [
  "--data",
  "synthetic",
  "--depths",
  "8,14",
  "--subset",
  "64",
  "--test-subset",
  "40",
  "--batch",
  "16",
  "--grad-norm-every",
  "2",
];

function degradation(args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "src/cli/degradation.ts",
      ...args,
    ],
    cwd: new URL("../../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  }).output();
}

Deno.test("degradation: the command writes report, curves, gradients and per-run metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "resgpu-degradation-" });
  try {
    const out = await degradation([...TINY, "--out", dir]);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    // Study-level progress: which net of how many, and an ETA for the nets left.
    const stdout = new TextDecoder().decode(out.stdout);
    assert.match(stdout, /study: net 1\/4: plain8\n/);
    assert.match(stdout, /study: net 4\/4: resnet14\n/);
    assert.match(stdout, /study: plain14 done; about \S+ left for 1 net\(s\)\n/);
    const report = await Deno.readTextFile(`${dir}/report.md`);
    assert.match(report, /\| 8 \|/);
    assert.match(report, /\| 14 \|/);
    for (const svg of ["curves.svg", "gradients.svg"]) {
      const text = await Deno.readTextFile(`${dir}/${svg}`);
      assert.match(text, /^<svg[\s\S]*<\/svg>\s*$/);
    }
    const curves = await Deno.readTextFile(`${dir}/curves.svg`);
    assert.match(curves, /stroke-dasharray/); // plain nets dashed
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
    assert.deepEqual(summary.map((r: { name: string }) => r.name), [
      "plain8",
      "resnet8",
      "plain14",
      "resnet14",
    ]);
    for (const name of ["plain8", "resnet8", "plain14", "resnet14"]) {
      const lines = (await Deno.readTextFile(`${dir}/${name}/metrics.jsonl`)).trim().split("\n");
      const recs = lines.map((l) => JSON.parse(l));
      assert.ok(recs.some((r) => r.type === "train"), name);
      assert.ok(recs.some((r) => r.type === "eval"), name);
      assert.ok(recs.some((r) => r.type === "grad_norms"), name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("degradation: --nets resnet trains only the residual nets and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "resgpu-degradation-" });
  try {
    const out = await degradation([...TINY, "--nets", "resnet", "--out", dir]);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
    assert.deepEqual(summary.map((r: { name: string }) => r.name), ["resnet8", "resnet14"]);
    const report = await Deno.readTextFile(`${dir}/report.md`);
    assert.match(report, /resnet nets only/);
    assert.match(report, /\| 14 \| – \| \d+\.\d\d \| – \|/); // plain columns empty
    assert.match(report, /- resnet-14 vs resnet-8/);
    assert.doesNotMatch(report, /- plain-14 vs plain-8/);
    const curves = await Deno.readTextFile(`${dir}/curves.svg`);
    assert.doesNotMatch(curves, /stroke-dasharray/); // no plain (dashed) curves
    await Deno.readTextFile(`${dir}/gradients.svg`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("degradation: --nets rejects anything but plain and resnet", async () => {
  const out = await degradation(["--data", "synthetic", "--nets", "resnet,vgg"]);
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /--nets takes plain, resnet.*got resnet,vgg/);
});

Deno.test("degradation: a data set that does not exist is one line naming it, no stack", async () => {
  const out = await degradation(["--data", "/nonexistent-data", "--depths", "8"]);
  assert.equal(out.code, 2);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.match(stderr, /^error: unknown data set "\/nonexistent-data"/m);
  assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/, "no stack trace");
});

Deno.test({
  name: "degradation: a study stopped in its second net and resumed writes what one run writes",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir({ prefix: "resgpu-degradation-" });
    const base: StudyConfig = {
      data: "synthetic",
      depths: [8],
      epochs: 2,
      subset: 64,
      testSubset: 40,
      batch: 16,
      lr: 0.1,
      seed: 3,
      out: `${dir}/whole`,
      gradNormEvery: 2,
      warmup: 2,
    };
    const hooks = { runtime: rt, sink: () => {}, tty: false };
    const split = { ...base, out: `${dir}/split` };
    try {
      await runDegradationStudy(base, hooks);
      await assert.rejects(
        runDegradationStudy(split, { ...hooks, stopAt: { net: "resnet8", epochs: 1 } }),
        (e: unknown) =>
          e instanceof StudyInterrupted && /resnet8 stopped at step 4.*--resume/.test(e.message),
      );
      const plainLog = await Deno.readTextFile(`${dir}/split/plain8/metrics.jsonl`);
      // As if killed after its checkpoint: a window past it and half a line. Resuming drops both.
      const resnetLog = `${dir}/split/resnet8/metrics.jsonl`;
      const checkpointed = await Deno.readTextFile(resnetLog);
      await Deno.writeTextFile(resnetLog, '{"type":"train","step":5,"loss":9}\n{"type":"tr', {
        append: true,
      });
      // Other settings than the interrupted study's are refused, naming the setting.
      await assert.rejects(
        runDegradationStudy({ ...split, lr: 0.05, resume: true }, hooks),
        /plain8 was trained with lr = 0.1, this study has 0.05/,
      );
      await runDegradationStudy({ ...split, resume: true }, hooks);
      assert.equal(
        await Deno.readTextFile(`${dir}/split/plain8/metrics.jsonl`),
        plainLog,
        "the finished net is read back, not retrained",
      );
      const resumed = await Deno.readTextFile(resnetLog);
      assert.ok(resumed.startsWith(checkpointed), "the resumed net continued its own log");
      assert.doesNotMatch(resumed, /"loss":9}/);
      // Same adapter, same seeds: the resumed net's log and the study's summary are the
      // uninterrupted study's, except for the measured speeds and loader waits.
      const noSpeed = (text: string) =>
        text.replace(/"(images_per_s|imagesPerSec|loader_wait_ms|loaderWaitMs)": ?[\d.e+-]+/g, "");
      for (const file of ["resnet8/metrics.jsonl", "plain8/metrics.jsonl", "summary.json"]) {
        assert.equal(
          noSpeed(await Deno.readTextFile(`${dir}/split/${file}`)),
          noSpeed(await Deno.readTextFile(`${dir}/whole/${file}`)),
          file,
        );
      }
      await Deno.readTextFile(`${dir}/split/report.md`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
