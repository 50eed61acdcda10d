/**
 * Crash safety: a process killed (SIGKILL) while it writes checkpoints never leaves a partial
 * file behind, and a training run killed again and again and resumed each time finishes exactly
 * as an uninterrupted run does — same weights to the bit, same metrics log, same summary (timing
 * aside) — with no temporary file left over.
 */
import assert from "node:assert/strict";
import { Rng } from "../../src/util/rng.ts";
import { readSafetensors, removeStaleTemps } from "../../src/io/safetensors_file.ts";
import { readCheckpoint } from "../../src/train/checkpoint_file.ts";
import { readMetrics } from "../../src/app/metrics_log.ts";

const here = (p: string) => new URL(p, import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("reliability: a writer killed mid-write leaves the old or the new file, never a part", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/file.bin`;
    // The child rewrites `path` atomically forever, alternating two 8 MiB contents.
    const code = `
      import { writeFileAtomic } from ${JSON.stringify(here("../../src/io/safetensors_file.ts"))};
      const a = new Uint8Array(8 << 20).fill(0xaa), b = new Uint8Array(8 << 20).fill(0xbb);
      console.log("ready");
      for (let i = 0; ; i++) await writeFileAtomic(${JSON.stringify(path)}, i % 2 ? b : a);`;
    const rng = new Rng(26, 1);
    let temps = 0;
    for (let kill = 0; kill < 6; kill++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-lock", code],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.getReader();
      await reader.read(); // "ready"
      await sleep(20 + rng.int(400));
      child.kill("SIGKILL");
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel();
      const bytes = await Deno.readFile(path).catch(() => null);
      if (bytes) {
        assert.equal(bytes.length, 8 << 20, "a partial file");
        assert.ok(bytes.every((v) => v === bytes[0]) && [0xaa, 0xbb].includes(bytes[0]));
      }
      temps += removeStaleTemps(path).length;
    }
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(left.every((n) => n === "file.bin"), `left: ${left}`);
    console.log(`6 kills, ${temps} interrupted write(s) cleaned up`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The CLI with a small, checkpoint-heavy job: 2 steps an epoch, a checkpoint each epoch. */
function train(out: string, resume?: string): Deno.ChildProcess {
  const flags = [
    "--model",
    "resnet8",
    "--width",
    "0.25",
    "--data",
    "synthetic",
    "--subset",
    "32",
    "--test-subset",
    "16",
    "--epochs",
    "10",
    "--batch",
    "16",
    "--eval-batch",
    "16",
    "--warmup",
    "0",
    "--log-every",
    "1",
    "--grad-norm-every",
    "3",
    "--out",
    out,
    ...(resume ? ["--resume", resume] : []),
  ];
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "-A", here("../../src/cli/train.ts"), ...flags],
    stdout: "null",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  }).spawn();
}

async function finish(p: Deno.ChildProcess): Promise<void> {
  const r = await p.output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("reliability: a run killed during training and checkpointing resumes to the same end", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await finish(train(`${dir}/ref`));
    const out = `${dir}/killed`, ckpt = `${out}/checkpoint.safetensors`;
    const rng = new Rng(26, 2);
    let kills = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const had = await exists(ckpt);
      const p = train(out, had ? ckpt : undefined);
      let exited = false;
      p.status.then(() => exited = true);
      // Wait for this session to write something (a checkpoint newer than the last), then
      // kill it at a random moment: in a step, an evaluation or a checkpoint write.
      const before = had ? (await Deno.stat(ckpt)).mtime?.getTime() ?? 0 : 0;
      for (let t = 0; t < 1200 && !exited; t++) {
        const now = await Deno.stat(ckpt).then((s) => s.mtime?.getTime() ?? 0, () => 0);
        if (now > before) break;
        await sleep(50);
      }
      await sleep(rng.int(1500));
      try {
        p.kill("SIGKILL");
        kills++;
      } catch {
        // it finished first
      }
      await p.output();
      // Whatever the moment, the checkpoint on disk is whole.
      if (await exists(ckpt)) await readCheckpoint(ckpt);
    }
    await finish(train(out, ckpt));
    const left = [...Deno.readDirSync(out)].map((e) => e.name);
    assert.ok(!left.some((n) => n.includes(".tmp-")), `temporary files left: ${left}`);
    const [a, b] = [
      await readSafetensors(`${dir}/ref/checkpoint.safetensors`),
      await readSafetensors(ckpt),
    ];
    assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
    for (const [name, t] of a.tensors) assert.deepEqual(b.tensors.get(name)!.bytes, t.bytes, name);
    const strip = (path: string) =>
      readMetrics(path).map(({ images_per_s: _, loader_wait_ms: _w, ...r }) => JSON.stringify(r));
    assert.deepEqual(strip(`${out}/metrics.jsonl`), strip(`${dir}/ref/metrics.jsonl`));
    const summary = (p: string) => {
      const { seconds: _s, imagesPerSec: _i, loaderWaitMs: _w, out: _o, ...rest } = JSON.parse(
        Deno.readTextFileSync(`${p}/summary.json`),
      );
      return rest;
    };
    assert.deepEqual(summary(out), summary(`${dir}/ref`));
    console.log(`${kills} kill(s), then finished identical to the uninterrupted run`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
