/**
 * What a Deno program's environment says about the runtime it wants: the environment variables
 * resgpu honours and the tuner's cache file. The core (mod.ts) reads no environment and no file,
 * so it runs in a browser; Deno entry points (the CLI, `trainRun`, benchmarks) pass these in.
 */
import type { RuntimeOptions } from "../gpu/runtime.ts";
import type { PolicyTarget } from "../gpu/policy.ts";
import type { TuneCache } from "../gpu/tuner.ts";

/** An environment variable when the program may read it, else undefined (never a prompt). */
function readEnv(name: string): string | undefined {
  // Query first: reading without the permission would prompt on a terminal.
  const q = Deno.permissions.querySync?.({ name: "env", variable: name });
  if (q && q.state !== "granted") return undefined;
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Runtime options from the environment, for `Runtime.create`: `RESGPU_KERNELS=cpu|gpu` forces a
 * kernel policy, `RESGPU_TUNE=1|FILE` autotunes (choices in memory, or kept in FILE), and
 * `DENO_WEBGPU_BACKEND` (which Deno itself reads to pick the graphics API) is recorded as the
 * report's backend. Variables the program may not read (no `--allow-env`) count as unset.
 *
 * @example
 * ```ts
 * import { Runtime } from "@resgpu/resgpu";
 * import { runtimeOptionsFromEnv } from "@resgpu/resgpu/files";
 * const rt = await Runtime.create({ ...runtimeOptionsFromEnv(), powerPreference: "high-performance" });
 * console.log(rt.report.backend, rt.policy.target);
 * rt.dispose();
 * ```
 *
 * @throws {Error} RESGPU_KERNELS set to something other than `cpu` or `gpu`.
 */
export function runtimeOptionsFromEnv(): RuntimeOptions {
  const opts: RuntimeOptions = {};
  const kernels = readEnv("RESGPU_KERNELS");
  if (kernels) {
    if (kernels !== "cpu" && kernels !== "gpu") {
      throw new Error(`RESGPU_KERNELS must be "cpu" or "gpu", got "${kernels}"`);
    }
    opts.kernels = kernels satisfies PolicyTarget;
  }
  const tune = readEnv("RESGPU_TUNE");
  if (tune) opts.tune = tune === "1" ? true : { cache: tuneCacheFile(tune) };
  const backend = readEnv("DENO_WEBGPU_BACKEND");
  if (backend) opts.backend = backend;
  return opts;
}

/**
 * A {@link TuneCache} kept in the JSON file at `path` (its folder is created on the first
 * write; each write goes to a temporary file renamed over the old one, so a run killed
 * mid-write never leaves half a cache). Needs `--allow-read` and `--allow-write` for it.
 *
 * @example
 * ```ts
 * import { Runtime } from "@resgpu/resgpu";
 * import { tuneCacheFile } from "@resgpu/resgpu/files";
 * const rt = await Runtime.create({ tune: { cache: tuneCacheFile("runs/tune.json") } });
 * rt.dispose();
 * ```
 */
export function tuneCacheFile(path: string): TuneCache {
  return {
    name: path,
    read() {
      try {
        return Deno.readTextFileSync(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return null;
        throw e;
      }
    },
    write(text: string) {
      const dir = path.replace(/\/[^/]*$/, "");
      if (dir && dir !== path) Deno.mkdirSync(dir, { recursive: true });
      const tmp = `${path}.tmp`;
      Deno.writeTextFileSync(tmp, text);
      Deno.renameSync(tmp, path);
    },
  };
}

/** The per-user tuner cache file (`$XDG_CACHE_HOME` or `~/.cache`, else the working folder). */
export function defaultTuneCachePath(): string {
  const home = readEnv("HOME");
  const base = readEnv("XDG_CACHE_HOME") ?? (home ? `${home}/.cache` : ".");
  return `${base}/resgpu/tune.json`;
}
