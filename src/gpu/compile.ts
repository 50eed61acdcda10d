/**
 * WGSL to compute pipelines, once per device: a kernel is compiled per (source, entry point,
 * pipeline constants) and kept on the device (`Acquired.kernels`), so a runtime created on a reused
 * device compiles nothing again and the old pipelines are not left for the garbage collector.
 * Compile and validation errors become a {@link GpuError} naming the kernel.
 */
import type { Acquired } from "./device.ts";
import type { Kernel } from "./step.ts";
import { GpuError } from "./gpu_error.ts";

/**
 * The device's kernel for (`code`, `entry`, `constants`), from its cache or from `compile` (run
 * once per key; a failed compile is forgotten, not cached as a permanent rejection).
 */
export function cachedKernel(
  acq: Acquired,
  code: string,
  entry: string,
  constants: Record<string, number>,
  compile: () => Promise<Kernel>,
): Promise<Kernel> {
  const key = `${entry}\u0000${JSON.stringify(Object.entries(constants).sort())}\u0000${code}`;
  const kernels = acq.kernels as Map<string, Promise<Kernel>>;
  let k = kernels.get(key);
  if (!k) {
    k = compile();
    kernels.set(key, k);
    k.catch(() => kernels.delete(key));
  }
  return k;
}

/**
 * Compiles one pipeline with an auto layout, its id the next unique one on the device; WebGPU's
 * errors are thrown as a {@link GpuError} naming `label` (and the constants).
 */
export async function compileKernel(
  acq: Acquired,
  label: string,
  code: string,
  entryPoint: string,
  constants: Record<string, number>,
): Promise<Kernel> {
  const device = acq.device;
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code, label });
  const moduleError = await device.popErrorScope();
  if (moduleError) {
    throw new GpuError(`WGSL of ${label} does not compile: ${moduleError.message}`);
  }
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({
      label,
      layout: "auto",
      compute: { module, entryPoint, constants },
    });
  } catch (e) {
    throw new GpuError(`pipeline ${label} (constants ${JSON.stringify(constants)}): ${e}`);
  }
  const id = acq.nextKernelId++;
  return { id, label, pipeline, layout: pipeline.getBindGroupLayout(0) };
}
