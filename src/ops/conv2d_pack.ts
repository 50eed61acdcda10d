/**
 * NC4HW4 activation packing shared by the convolution planners (direct and Winograd): one vec4
 * load brings 4 channels of a pixel (shaders/conv2d_pack.wgsl `pack_c4`, `pack_c4_v`).
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Step } from "../gpu/plan.ts";

/** The runtime's NC4HW4 scratch copy (see shared_scratch.ts), `floats` long. */
export function c4Buffer(rt: Runtime, floats: number): GPUBuffer {
  return rt.scratch.get("conv2d.packed_c4", floats * 4, GPUBufferUsage.STORAGE);
}

/** The step repacking NCHW `src` (channels % 4 = 0) as NC4HW4 into `dst`. */
export async function packC4Step(
  rt: Runtime,
  src: GPUBuffer,
  dst: GPUBuffer,
  n: number,
  channels: number,
  hw: number,
): Promise<Step> {
  // 4 pixels per invocation from vec4 loads when a plane is whole vec4s.
  const v = hw % 4 === 0;
  const count = n * channels / 4 * hw / (v ? 4 : 1);
  const k = await rt.kernel("conv2d_pack", v ? "pack_c4_v" : "pack_c4", { WG: 64 });
  const params = rt.uniform(packParams([count, hw, 0, 0]));
  return dispatchStep(rt, k, [params, src, dst], Math.ceil(count / 64));
}
