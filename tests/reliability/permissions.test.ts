/**
 * Defect 7 (permissions) of the reliability probe: using the module on a terminal prompted for
 * env permission to read DENO_WEBGPU_BACKEND, and `deno task train` asked for unrestricted
 * read, write and env access. Now the permission is queried (a prompt never appears), and the
 * train task grants only the data and run directories, the tuner's cache and a list of
 * variables — which this test runs a job with.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

function hasScript(): boolean {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "reliability: creating a runtime on a terminal without env permission prompts nothing",
  ignore: Deno.build.os !== "linux" || !hasScript(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const main = `${dir}/main.ts`;
      await Deno.writeTextFile(
        main,
        `import { Runtime } from ${JSON.stringify(`${root}mod.ts`)};
         const rt = await Runtime.create();
         console.log("backend", rt.report.backend);
         rt.dispose();`,
      );
      // util-linux `script` gives the process a terminal, where Deno would prompt; stdin is
      // empty, so a prompt would be answered "no" at once instead of hanging the test.
      const cmd = `${Deno.execPath()} run --no-lock --allow-read=${root} ${main}`;
      const r = await new Deno.Command("script", {
        args: ["-qec", cmd, "/dev/null"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { XDG_RUNTIME_DIR: "/tmp", DENO_WEBGPU_BACKEND: "vulkan" },
        // A prompt can wait for an answer that never comes: that is a failure, not a hang.
        signal: AbortSignal.timeout(120_000),
      }).output();
      const out = decode(r.stdout) + decode(r.stderr);
      assert.ok(r.success, `no answer in 2 minutes, or a failure: ${out}`);
      assert.doesNotMatch(out, /requests env access/, out);
      assert.match(out, /backend default/, out);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** `deno task train`'s command line, as deno.json states it, with $HOME expanded. */
function trainTask(): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks.train;
  const home = Deno.env.get("HOME") ?? "";
  const words = task.replaceAll("$HOME", home).split(/\s+/);
  assert.equal(words[0], "deno");
  return words.slice(1);
}

Deno.test("reliability: `deno task train` asks only for the data and run directories and some variables", async () => {
  const words = trainTask();
  for (const flag of ["--allow-read", "--allow-write", "--allow-env"]) {
    const w = words.find((x) => x.startsWith(flag));
    assert.ok(w?.startsWith(`${flag}=`), `${flag} is unrestricted: ${words.join(" ")}`);
  }
  assert.ok(!words.some((x) => x === "-A" || x.startsWith("--allow-all")));
  // A run under runs/ works with exactly these permissions, and never prompts.
  const out = `runs/reliability-permissions-${crypto.randomUUID().slice(0, 8)}`;
  const job = [
    "--model=resnet8",
    "--width=0.25",
    "--data=synthetic",
    "--subset=16",
    "--test-subset=8",
    "--batch=8",
    "--eval-batch=8",
    "--epochs=1",
    "--warmup=0",
  ];
  const run = (...extra: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [words[0], "--no-prompt", "--no-lock", ...words.slice(1), ...job, ...extra],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
  try {
    const r = await run(`--out=${out}`);
    assert.ok(r.success, decode(r.stdout) + decode(r.stderr));
    assert.ok(Deno.statSync(`${root}${out}/checkpoint.safetensors`).isFile);
    // Data elsewhere: refused with the way to allow it, not a stack.
    const outside = await Deno.makeTempDir();
    try {
      const r2 = await run(`--out=${out}`, `--data=${outside}`);
      assert.equal(r2.code, 2);
      assert.match(decode(r2.stderr), /error: .*read access.*\n.*deno run --allow-read=DIR/);
    } finally {
      await Deno.remove(outside);
    }
  } finally {
    await Deno.remove(`${root}${out}`, { recursive: true }).catch(() => {});
  }
});
