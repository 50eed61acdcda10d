/** One runtime per test process and kernel policy: creating devices is slow on software adapters. */
import { Runtime } from "../../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../../src/host/deno_env.ts";
import type { PolicyTarget } from "../../src/gpu/policy.ts";
import type { Step } from "../../src/gpu/plan.ts";

const shared = new Map<string, Promise<Runtime>>();

/**
 * The shared runtime; `kernels` forces a kernel policy, so the GPU policy's variants (storage
 * operands, 64-wide workgroups, wide split reductions) are checked on a software adapter too.
 * `winogradKeepInput` and `fuseBatchNormJoin` override those policy choices (one shared runtime
 * per combination). The environment's settings (RESGPU_KERNELS, DENO_WEBGPU_BACKEND, …) apply as in
 * a Deno program's `Runtime.create(runtimeOptionsFromEnv())`.
 */
export function runtime(
  kernels?: PolicyTarget,
  opts: { winogradKeepInput?: boolean; fuseBatchNormJoin?: boolean } = {},
): Promise<Runtime> {
  const key = `${kernels ?? "adapter"} ${opts.winogradKeepInput ?? "policy"} ${
    opts.fuseBatchNormJoin ?? "policy"
  }`;
  let rt = shared.get(key);
  if (!rt) {
    const env = runtimeOptionsFromEnv();
    shared.set(key, rt = Runtime.create({ ...env, ...opts, kernels: kernels ?? env.kernels }));
  }
  return rt;
}

/** What each step runs: the kernel's label for a dispatch, else the step's kind. */
export function stepLabels(steps: readonly Step[]): string[] {
  return steps.map((st) => st.kind === "dispatch" ? st.kernel.label : st.kind);
}

/** Test options for suites that hold a device across tests (Deno's leak checks count it). */
export const GPU_TEST = { sanitizeResources: false, sanitizeOps: false } as const;

let tuned: Promise<Runtime> | null = null;

/** A runtime that autotunes conv variants at plan time (choices kept in memory). */
export function tunedRuntime(): Promise<Runtime> {
  tuned ??= Runtime.create({ ...runtimeOptionsFromEnv(), tune: true });
  return tuned;
}

/** A pool buffer holding `data` as f32 (at least 4 bytes, so empty tensors still bind). */
export function upload(rt: Runtime, data: ArrayLike<number>, label = "test"): GPUBuffer {
  const b = rt.pool.acquire(Math.max(4, data.length * 4), label);
  rt.device.queue.writeBuffer(b, 0, Float32Array.from(data));
  return b;
}

/** The first `n` f32 values of `b`. */
export async function download(rt: Runtime, b: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await rt.read(b, n * 4));
}
