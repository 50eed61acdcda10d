/** Eager elementwise ops on tensors (used by tests, tools and as the simplest kernel example). */
import type { Runtime } from "../gpu/runtime.ts";
import { Tensor } from "../tensor.ts";

const WG = 64;

/** y = alpha·x + beta into a new tensor. */
export async function axpb(rt: Runtime, x: Tensor, alpha: number, beta: number): Promise<Tensor> {
  const k = await rt.kernel("elementwise", "axpb", { WG });
  const y = Tensor.empty(rt, x.shape, x.layout);
  const params = new ArrayBuffer(16);
  new Uint32Array(params, 0, 1)[0] = x.size;
  new Float32Array(params, 4, 2).set([alpha, beta]);
  rt.dispatch(k, rt.bindGroup(k, [rt.uniform(params), x.buffer, y.buffer]), Math.ceil(x.size / WG));
  return y;
}
