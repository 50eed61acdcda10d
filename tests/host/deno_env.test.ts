/** A Deno program's environment reaches the runtime through runtimeOptionsFromEnv, not the core. */
import assert from "node:assert/strict";
import {
  defaultTuneCachePath,
  runtimeOptionsFromEnv,
  tuneCacheFile,
} from "../../src/host/deno_env.ts";

const NAMES = ["RESGPU_KERNELS", "RESGPU_TUNE", "DENO_WEBGPU_BACKEND", "XDG_CACHE_HOME", "HOME"];

/** Runs `fn` with the given variables set (the rest of NAMES unset), restoring them after. */
function withEnv(vars: Record<string, string>, fn: () => void): void {
  const saved = NAMES.map((n) => [n, Deno.env.get(n)] as const);
  try {
    for (const n of NAMES) Deno.env.delete(n);
    for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
    fn();
  } finally {
    for (const [n, v] of saved) v === undefined ? Deno.env.delete(n) : Deno.env.set(n, v);
  }
}

Deno.test("runtimeOptionsFromEnv: nothing set → no options", () => {
  withEnv({}, () => assert.deepEqual(runtimeOptionsFromEnv(), {}));
});

Deno.test("runtimeOptionsFromEnv: kernels, tuning and backend from their variables", () => {
  withEnv({ RESGPU_KERNELS: "gpu", RESGPU_TUNE: "1", DENO_WEBGPU_BACKEND: "gl" }, () => {
    assert.deepEqual(runtimeOptionsFromEnv(), { kernels: "gpu", tune: true, backend: "gl" });
  });
  withEnv({ RESGPU_TUNE: "/tmp/x/tune.json" }, () => {
    const tune = runtimeOptionsFromEnv().tune;
    assert.ok(typeof tune === "object");
    assert.equal(tune.cache.name, "/tmp/x/tune.json");
  });
});

Deno.test("runtimeOptionsFromEnv: a bad RESGPU_KERNELS names the variable and the value", () => {
  withEnv({ RESGPU_KERNELS: "fast" }, () => {
    assert.throws(
      () => runtimeOptionsFromEnv(),
      /RESGPU_KERNELS must be "cpu" or "gpu", got "fast"/,
    );
  });
});

Deno.test("tuneCacheFile: null before the first write, which creates the folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = tuneCacheFile(`${dir}/a/b/tune.json`);
    assert.equal(cache.read(), null);
    cache.write('{"version":1}\n');
    assert.equal(cache.read(), '{"version":1}\n');
    assert.deepEqual([...Deno.readDirSync(`${dir}/a/b`)].map((e) => e.name), ["tune.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("defaultTuneCachePath: XDG_CACHE_HOME, else ~/.cache, else the working folder", () => {
  withEnv({ XDG_CACHE_HOME: "/x", HOME: "/h" }, () => {
    assert.equal(defaultTuneCachePath(), "/x/resgpu/tune.json");
  });
  withEnv({ HOME: "/h" }, () => assert.equal(defaultTuneCachePath(), "/h/.cache/resgpu/tune.json"));
  withEnv({}, () => assert.equal(defaultTuneCachePath(), "./resgpu/tune.json"));
});
