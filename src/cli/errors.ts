/**
 * How the CLIs end on an error: expected failures (no adapter, bad data, divergence) read as one
 * `error:` line, exit 1 for divergence or no adapter and 2 otherwise; RESGPU_DEBUG=1 rethrows, so
 * the stack shows. Anything that is not an Error is rethrown as is.
 */
import { DivergedError } from "../app/run.ts";
import { NoAdapterError } from "../gpu/device.ts";

export function exitOnError(e: unknown): never {
  if (e instanceof Error && !Deno.env.get("RESGPU_DEBUG")) {
    console.error(`error: ${e.message}`);
    Deno.exit(e instanceof DivergedError || e instanceof NoAdapterError ? 1 : 2);
  }
  throw e;
}
