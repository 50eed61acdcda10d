/** One runtime per test process: creating devices is slow on software adapters. */
import { Runtime } from "../../src/gpu/runtime.ts";

let shared: Promise<Runtime> | null = null;

export function runtime(): Promise<Runtime> {
  shared ??= Runtime.create();
  return shared;
}

/** Test options for suites that hold a device across tests (Deno's leak checks count it). */
export const GPU_TEST = { sanitizeResources: false, sanitizeOps: false } as const;
