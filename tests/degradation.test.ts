/** The whole degradation command at a tiny budget on the synthetic set: every output parses. */
import assert from "node:assert/strict";

Deno.test("degradation: the command writes report, curves, gradients and per-run metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "resgpu-degradation-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "src/cli/degradation.ts",
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
        "--out",
        dir,
      ],
      cwd: new URL("../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    }).output();
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
