/**
 * The fused residual join y = relu(a + b) and its one-pass backward (shaders/residual.wgsl):
 * the mask is read once and the shared gradient written to both branches. When n % 4 == 0 the
 * kernels move vec4f items, else f32 elements (plan.ts itemKernel).
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, elementwiseGrid, itemKernel, type Planned } from "../gpu/plan.ts";

const WG = 256;

export interface AddReluBackwardOptions {
  /** da += … instead of da = …. */
  accumulateA?: boolean;
  /** db += … (e.g. db is the block input's gradient, which the main path also fills). */
  accumulateB?: boolean;
}

const count = (rt: Runtime, n: number) => elementwiseGrid(rt, n, WG, "add+relu");

/** y = relu(a + b) over n elements. */
export async function planAddReluForward(
  rt: Runtime,
  n: number,
  b: { a: GPUBuffer; b: GPUBuffer; y: GPUBuffer },
): Promise<Planned> {
  if (new Set([b.a, b.b, b.y]).size < 3) throw new Error("add+relu forward: a buffer bound twice");
  const { u, groups, width } = count(rt, n);
  const k = await itemKernel(rt, "residual", width, "add_relu_fwd");
  return { steps: [dispatchStep(rt, k, [u, b.a, b.b, b.y], groups)], scratch: [] };
}

/**
 * da (+)= db (+)= dy·(y > 0) in one pass. `db` may be omitted when only one branch needs a
 * gradient; da and db must be different buffers (one buffer cannot be bound twice).
 */
export async function planAddReluBackward(
  rt: Runtime,
  n: number,
  b: { dy: GPUBuffer; y: GPUBuffer; da: GPUBuffer; db?: GPUBuffer },
  opts: AddReluBackwardOptions = {},
): Promise<Planned> {
  const bufs = b.db ? [b.dy, b.y, b.da, b.db] : [b.dy, b.y, b.da];
  if (new Set(bufs).size < bufs.length) {
    throw new Error("add+relu backward: a buffer bound twice (da and db must differ)");
  }
  const { u, groups, width } = count(rt, n);
  const k = b.db
    ? await itemKernel(rt, "residual", width, "add_relu_bwd", {
      ACC_A: opts.accumulateA ? 1 : 0,
      ACC_B: opts.accumulateB ? 1 : 0,
    })
    : await itemKernel(rt, "residual", width, "add_relu_bwd_one", {
      ACC_A: opts.accumulateA ? 1 : 0,
    });
  return { steps: [dispatchStep(rt, k, [u, ...bufs], groups)], scratch: [] };
}
