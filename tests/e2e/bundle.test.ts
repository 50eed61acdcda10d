/**
 * The esbuild bundle is self-contained: a separate Deno program imports dist/resgpu.js with no
 * permissions at all (so no --allow-read for shaders) and runs a kernel on the GPU.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);

async function run(args: string[], cwd: URL) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("bundle: dist/resgpu.js runs a kernel in an app with no permissions", async () => {
  const build = await run(["task", "build"], root);
  assert.equal(build.code, 0, build.stderr);
  const dir = await Deno.makeTempDir({ prefix: "resgpu-bundle-" });
  try {
    const app = `${dir}/app.js`;
    const bundle = new URL("dist/resgpu.js", root).href;
    await Deno.writeTextFile(
      app,
      `import { Runtime, Tensor, axpb } from ${JSON.stringify(bundle)};
const rt = await Runtime.create();
const x = Tensor.fromArray(rt, [1, 2, 3], [3]);
const y = await axpb(rt, x, 2, 1);
console.log(JSON.stringify({ y: Array.from(await y.toArray()), adapter: rt.report.description }));
rt.dispose();
`,
    );
    const res = await run(["run", "--no-prompt", "--no-config", app], new URL(`file://${dir}/`));
    assert.equal(res.code, 0, res.stderr);
    const line = res.stdout.trim().split("\n").pop()!;
    const out = JSON.parse(line);
    assert.deepEqual(out.y, [3, 5, 7]);
    assert.equal(typeof out.adapter, "string");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
