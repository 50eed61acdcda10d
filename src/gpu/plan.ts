/**
 * The contract between kernels and the scheduler. An op's `plan…` function does everything that
 * can be done once — compile pipelines, write shape uniforms, build bind groups, take scratch
 * buffers — and returns the {@link Step}s that replaying one training step records. Replaying
 * costs only `setPipeline`/`setBindGroup`/`dispatchWorkgroups` calls.
 */
import type { Runtime } from "./runtime.ts";
import type { Kernel, Planned, Step } from "./step.ts";
import type { Grid } from "./dispatch.ts";
import { type ShaderName, SHADERS } from "./shaders.gen.ts";

export type { Planned, Step };

export function dispatchStep(
  rt: Runtime,
  kernel: Kernel,
  bindings: Parameters<Runtime["bindGroup"]>[1],
  groups: number | Grid,
): Step {
  return { kind: "dispatch", kernel, bindGroup: rt.bindGroup(kernel, bindings), groups };
}

/** Records and submits a plan once, then releases its scratch: for tests and eager use. */
export function runOnce(rt: Runtime, planned: Planned): void {
  rt.replay(planned.steps);
  rt.submit();
  for (const b of planned.scratch) rt.pool.release(b);
}

/** Packs shape parameters for a uniform: integers as u32, entries in `floats` as f32. */
export function packParams(values: number[], floats: ReadonlySet<number> = new Set()): Uint32Array {
  const words = new Uint32Array(Math.max(4, Math.ceil(values.length / 4) * 4));
  const asFloat = new Float32Array(words.buffer);
  values.forEach((v, i) => {
    if (floats.has(i)) asFloat[i] = v;
    else {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(`param ${i} = ${v}`);
      }
      words[i] = v;
    }
  });
  return words;
}

/**
 * The grid of an elementwise kernel family over n f32 elements with `wg` invocations per
 * workgroup: vec4f items when n % 4 == 0, else f32 elements (see {@link itemKernel}); `u` holds
 * the item count.
 */
export function elementwiseGrid(
  rt: Runtime,
  n: number,
  wg: number,
  op: string,
): { u: GPUBuffer; groups: number; width: ItemWidth } {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${op}: bad element count ${n}`);
  const width = n % 4 === 0 ? 4 : 1;
  const items = n / width;
  return { u: rt.uniform(packParams([items])), groups: Math.ceil(items / wg), width };
}

export type ItemWidth = 1 | 4;

const ITEM_BLOCK = /\/\/!item begin[^\n]*\n[\s\S]*?\/\/!item end/;
const f32Sources = new Map<string, string>();

/**
 * An entry point of a shader family written once over `item`, the type its `//!item begin` …
 * `//!item end` block declares as vec4f (and `uitem` as vec4u): width 4 compiles the file as
 * written, width 1 swaps the block for `f32Block` (which must declare the same names over f32), so tensors whose sizes are
 * not multiples of 4 run the same code one element at a time.
 */
export function itemKernel(
  rt: Runtime,
  family: ShaderName,
  width: ItemWidth,
  entry: string,
  constants: Record<string, number> = {},
  f32Block = "alias item = f32;\nalias uitem = u32;",
): Promise<Kernel> {
  if (width === 4) return rt.kernel(family, entry, constants);
  const key = `${family}\u0000${f32Block}`;
  let source = f32Sources.get(key);
  if (source === undefined) {
    if (!ITEM_BLOCK.test(SHADERS[family])) throw new Error(`${family}.wgsl: no //!item block`);
    source = SHADERS[family].replace(ITEM_BLOCK, f32Block);
    f32Sources.set(key, source);
  }
  return rt.kernelFromSource(`${family}(f32):${entry}`, source, entry, constants);
}
