/**
 * How the CLIs end on an error: expected failures (no adapter, bad data, divergence) read as one
 * `error:` line, exit 1 for divergence or no adapter and 2 otherwise; RESGPU_DEBUG=1 rethrows, so
 * the stack shows. Anything that is not an Error is rethrown as is.
 */
import { DivergedError } from "../app/diverged_error.ts";
import { NoAdapterError } from "../gpu/device.ts";

/** RESGPU_DEBUG=1, read only where granted: asking would prompt on a terminal. */
function debug(): boolean {
  const q = Deno.permissions.querySync({ name: "env", variable: "RESGPU_DEBUG" });
  return q.state === "granted" && !!Deno.env.get("RESGPU_DEBUG");
}

const TRAIN_PERMISSIONS = "`deno task train` reads only /usr/share/datasets, runs/, src/ and " +
  "~/.cache/resgpu and writes only runs/ and that cache: for data, weights or output elsewhere " +
  "run it as `deno run --allow-read=DIR,WEIGHTS,runs,src --allow-write=DIR,runs --allow-env " +
  "--allow-net=127.0.0.1 src/cli/train.ts …`";

/** `permissions`: what to say when a permission was missing (default: the train task's). */
export function exitOnError(e: unknown, permissions = TRAIN_PERMISSIONS): never {
  if (e instanceof Error && !debug()) {
    console.error(`error: ${e.message}`);
    if (e instanceof Deno.errors.NotCapable || e.cause instanceof Deno.errors.NotCapable) {
      console.error(permissions);
    }
    Deno.exit(e instanceof DivergedError || e instanceof NoAdapterError ? 1 : 2);
  }
  throw e;
}
