/**
 * The planning side of shaders/conv2d_pack.wgsl: the copies a convolution makes of an operand
 * so its kernels load it faster — weights (and the filter gradient's dy) in 16-channel tiles,
 * one 64 KiB uniform window each or back to back as storage, and activations as NC4HW4, where
 * one vec4 load brings 4 channels of a pixel. Shared by the direct and Winograd planners; the
 * copies live in the runtime's shared scratch (src/gpu/shared_scratch.ts).
 */
import type { Runtime } from "../../gpu/runtime.ts";
import type { Conv2dShape } from "../../shapes.ts";
import { dispatchStep, packParams, type Step } from "../../gpu/plan.ts";
import { TILE_COLS, WINDOW } from "./common.ts";

/** The runtime's NC4HW4 scratch copy, `floats` long. */
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

/**
 * The runtime's packed-operand scratch with room for `floats`: whole 64 KiB uniform windows
 * (WINDOW floats each), or the `_lanes_k` kernels' tiles back to back.
 */
export function packBuffer(rt: Runtime, floats: number): GPUBuffer {
  const usage = GPUBufferUsage.UNIFORM | GPUBufferUsage.STORAGE;
  return rt.scratch.get("conv2d.packed_weights", floats * 4, usage);
}

/**
 * The step packing `w` into 16-column tiles (transposed, K ↔ C, for backward-data): one 64 KiB
 * uniform window each, or with `packed: "storage"` back to back (rows·16 floats apart).
 */
export async function packWeightsStep(
  rt: Runtime,
  s: Conv2dShape,
  w: GPUBuffer,
  dst: GPUBuffer,
  transpose: boolean,
  packed: "windows" | "storage" = "windows",
): Promise<Step> {
  const cols = transpose ? s.c : s.k;
  const rows = s.kh * s.kw * (transpose ? s.k : s.c);
  const count = Math.ceil(cols / TILE_COLS) * rows; // one 16-column row per invocation
  const k = await rt.kernel("conv2d_pack", "pack_weights", { WG: 64 });
  const params = rt.uniform(packParams([
    s.k,
    s.c,
    s.kh * s.kw,
    count,
    cols,
    rows,
    transpose ? 1 : 0,
    packed === "windows" ? WINDOW : rows * TILE_COLS,
  ]));
  return dispatchStep(rt, k, [params, w, dst], Math.ceil(count / 64));
}

/**
 * The step packing the filter gradient's dy (N, K, OH, OW) into windows of `chunkPx` pixels ×
 * 16 channels (`chunks` per channel tile, whole output rows each), window (tile t, chunk j) at
 * t·chunks + j; 4 pixels per invocation when planes and windows are whole vec4s.
 */
export async function packDyStep(
  rt: Runtime,
  s: Conv2dShape,
  oh: number,
  ow: number,
  dy: GPUBuffer,
  dst: GPUBuffer,
  chunks: number,
  chunkPx: number,
): Promise<Step> {
  const ktiles = Math.ceil(s.k / TILE_COLS);
  const v = (oh * ow) % 4 === 0 && chunkPx % 4 === 0;
  const k = await rt.kernel("conv2d_pack", v ? "pack_dy_v" : "pack_dy", { WG: 64 });
  const count = ktiles * chunks * chunkPx / (v ? 4 : 1);
  const params = rt.uniform(
    packParams([s.k, chunks, oh * ow, count, chunkPx, s.n * oh * ow, 0, 0]),
  );
  return dispatchStep(rt, k, [params, dy, dst], Math.ceil(count / 64));
}
