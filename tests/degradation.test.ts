/** The whole degradation command at a tiny budget on the synthetic set: every output parses. */
import assert from "node:assert/strict";

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
    cwd: new URL("../", import.meta.url),
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
