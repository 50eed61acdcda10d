/**
 * NC4HW4 activation packing shared by the convolution planners (direct and Winograd): one vec4
 * load brings 4 channels of a pixel (shaders/conv2d_pack.wgsl `pack_c4`, `pack_c4_v`).
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Step } from "./plan.ts";

/**
 * NC4HW4 copies, one grow-only buffer per runtime shared by every conv plan: each plan packs
 * right before the dispatches that read the copy, and plans replay one after another.
 */
const packedC4 = new WeakMap<Runtime, GPUBuffer>();

export function c4Buffer(rt: Runtime, floats: number): GPUBuffer {
  let b = packedC4.get(rt);
  if (!b || b.size < floats * 4) {
    b = rt.device.createBuffer({
      size: floats * 4,
      usage: GPUBufferUsage.STORAGE,
      label: "conv2d.packed_c4",
    });
    packedC4.set(rt, b);
  }
  return b;
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
