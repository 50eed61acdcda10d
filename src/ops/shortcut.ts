/**
 * Option-A (parameter-free) ResNet shortcut planned as steps (shaders/shortcut_a.wgsl):
 * stride-s subsampling plus zero channel padding, floor((K − C)/2) channels before the input's.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { shortcutAOutSize, type ShortcutAShape } from "../shapes.ts";
import { dispatchStep, packParams, type Planned } from "../gpu/plan.ts";

export type { ShortcutAShape };

/** Invocations per workgroup; each invocation copies one row (shaders/shortcut_a.wgsl). */
const WG = 64;

function params(rt: Runtime, s: ShortcutAShape): GPUBuffer {
  if (s.k < s.c || s.stride < 1) throw new RangeError(`shortcut A: bad shape ${JSON.stringify(s)}`);
  const { oh, ow } = shortcutAOutSize(s);
  const before = Math.floor((s.k - s.c) / 2);
  return rt.uniform(packParams([s.n, s.c, s.h, s.w, s.k, oh, ow, s.stride, before]));
}

export async function planShortcutAForward(
  rt: Runtime,
  s: ShortcutAShape,
  b: { x: GPUBuffer; y: GPUBuffer },
): Promise<Planned> {
  const k = await rt.kernel("shortcut_a", "shortcut_fwd");
  const { oh } = shortcutAOutSize(s);
  const groups = Math.ceil((s.n * s.k * oh) / WG);
  return { steps: [dispatchStep(rt, k, [params(rt, s), b.x, b.y], groups)], scratch: [] };
}

/** dx (+)= the adjoint: dy at the copied positions, 0 at the skipped pixels. */
export async function planShortcutABackward(
  rt: Runtime,
  s: ShortcutAShape,
  b: { dy: GPUBuffer; dx: GPUBuffer },
  opts: { accumulate?: boolean } = {},
): Promise<Planned> {
  const k = await rt.kernel("shortcut_a", "shortcut_bwd", { ACC: opts.accumulate ? 1 : 0 });
  const groups = Math.ceil((s.n * s.c * s.h) / WG);
  return { steps: [dispatchStep(rt, k, [params(rt, s), b.dy, b.dx], groups)], scratch: [] };
}
