/**
 * Defect 6 of the reliability probe: resuming damaged the run's outputs. The plots showed only
 * the resumed part; resuming a finished run overwrote summary.json with nulls and the plots with
 * "no data"; resuming with other settings (another --subset) showed `step 10/4` and trained at
 * learning rate 0. Now metrics, plots and summary cover the whole run across resumes, and a
 * resume whose settings differ from the checkpoint's is refused naming the setting.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { type TrainConfig, trainRun } from "../../src/app/run.ts";

const base: TrainConfig = {
  model: "resnet8",
  width: 0.25,
  data: "synthetic",
  subset: 48,
  testSubset: 16,
  epochs: 2,
  batch: 16,
  evalBatch: 16,
  optimizer: "sgd",
  lr: 0.05,
  momentum: 0.9,
  nesterov: false,
  wd: 5e-4,
  schedule: "cosine",
  warmup: 1,
  seed: 3,
  out: "",
  evalEvery: 1,
  logEvery: 2,
  gradNormEvery: 2,
};
const quiet = { sink: () => {}, tty: false };
const read = (p: string) => Deno.readTextFileSync(p);
const summaryOf = (dir: string) => {
  const { seconds: _s, imagesPerSec: _i, loaderWaitMs: _w, out: _o, ...rest } = JSON.parse(
    read(`${dir}/summary.json`),
  );
  return rest;
};

Deno.test({
  name:
    "reliability: a resumed run's plots and summary are the whole run's, in or out of its directory",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    try {
      const hooks = { ...quiet, runtime: rt };
      await trainRun({ ...base, out: `${dir}/full` }, hooks);
      // Stopped after epoch 1, then resumed in its own directory and into another.
      for (const [first, second] of [["a", "a"], ["b", "b2"]]) {
        await trainRun({ ...base, out: `${dir}/${first}` }, { ...hooks, stopAfterEpochs: 1 });
        await trainRun({
          ...base,
          out: `${dir}/${second}`,
          resume: `${dir}/${first}/checkpoint.safetensors`,
        }, hooks);
        for (const svg of ["loss.svg", "error.svg", "grad_norms.svg"]) {
          assert.equal(read(`${dir}/${second}/${svg}`), read(`${dir}/full/${svg}`), svg);
        }
        assert.deepEqual(summaryOf(`${dir}/${second}`), summaryOf(`${dir}/full`));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "reliability: resuming a finished run keeps its summary and plots",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    try {
      const cfg = { ...base, out: `${dir}/run` };
      const lines: string[] = [];
      await trainRun(cfg, { ...quiet, runtime: rt });
      const [summary, loss] = [summaryOf(cfg.out), read(`${cfg.out}/loss.svg`)];
      assert.ok(Number.isFinite(summary.testAccuracy));
      const again = await trainRun({ ...cfg, resume: `${cfg.out}/checkpoint.safetensors` }, {
        sink: (m) => lines.push(m),
        tty: false,
        runtime: rt,
      });
      assert.equal(again.stopped, "finished");
      assert.deepEqual(summaryOf(cfg.out), summary);
      assert.equal(read(`${cfg.out}/loss.svg`), loss);
      assert.match(lines.join(""), /finished all 2 epoch\(s\): nothing left to train/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "reliability: a resume with other settings is refused, naming the setting",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    try {
      const cfg = { ...base, out: `${dir}/run` };
      await trainRun(cfg, { ...quiet, runtime: rt, stopAfterEpochs: 1 });
      const resume = `${cfg.out}/checkpoint.safetensors`;
      const before = read(`${cfg.out}/metrics.jsonl`);
      for (
        const [change, message] of [
          [{ subset: 32 }, /was trained with subset = 48, this run has 32/],
          [{ epochs: 4 }, /was trained with epochs = 2, this run has 4/],
          [{ shortcut: "B" }, /was trained with shortcut = unset, this run has "B"/],
          [{ lr: 0.1 }, /was trained with lr = 0.05, this run has 0.1/],
        ] as const
      ) {
        await assert.rejects(
          trainRun({ ...cfg, ...change, resume }, { ...quiet, runtime: rt }),
          message,
        );
      }
      // Nothing was touched by the refused resumes.
      assert.equal(read(`${cfg.out}/metrics.jsonl`), before);
      // The same settings, with another --out, are fine.
      await trainRun({ ...cfg, out: `${dir}/other`, resume }, { ...quiet, runtime: rt });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const cli = new URL("../../src/cli/train.ts", import.meta.url).pathname;

async function train(...flags: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "-A", cli, ...flags],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  return { code: r.code, text };
}

Deno.test("reliability: `train --resume` alone continues with the checkpoint's settings", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const job = [
      "--model=resnet8",
      "--width=0.25",
      "--data=synthetic",
      "--subset=32",
      "--test-subset=16",
      "--batch=16",
      "--eval-batch=16",
      "--epochs=1",
      "--warmup=0",
      `--out=${dir}/run`,
    ];
    const first = await train(...job);
    assert.equal(first.code, 0, first.text);
    const resume = `--resume=${dir}/run/checkpoint.safetensors`;
    const summary = read(`${dir}/run/summary.json`);
    // No flags: the checkpoint's settings and directory; the run is finished already.
    const again = await train(resume);
    assert.equal(again.code, 0, again.text);
    assert.match(again.text, /nothing left to train/);
    assert.equal(summaryOf(`${dir}/run`).steps, JSON.parse(summary).steps);
    // A flag that disagrees is refused, naming it.
    const other = await train(resume, "--epochs=3");
    assert.equal(other.code, 2, other.text);
    assert.match(other.text, /error: .*was trained with epochs = 1, this run has 3/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
