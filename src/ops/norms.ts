/**
 * Per-tensor L2 norms and clip_grad_norm_ on the GPU (shaders/reduce.wgsl), with no readback:
 * norms land in a GPU buffer (one f32 per tensor) the trainer reads on demand, and the clip factor
 * in a 2-float buffer [scale, totalNorm] that the optimizer kernels multiply gradients by.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Planned, type Step } from "../gpu/plan.ts";

/** At most this many partial sums per tensor: the finishing pass reads them in one workgroup. */
const MAX_CHUNKS = 1024;
const MIN_CHUNK = 4096;

export interface NormsPlan extends Planned {
  /** f32 per tensor: ‖tensor_i‖₂ after the steps run. */
  norms: GPUBuffer;
  /** Submits pending work and reads the norms. */
  read(): Promise<Float32Array>;
}

/** ‖x_i‖₂ of every tensor into `norms` (allocated if not given): one dispatch per tensor + one. */
export async function planNorms(
  rt: Runtime,
  sizes: readonly number[],
  tensors: readonly GPUBuffer[],
  opts: { norms?: GPUBuffer } = {},
): Promise<NormsPlan> {
  if (sizes.length !== tensors.length || sizes.length === 0) {
    throw new RangeError(`norms: ${sizes.length} sizes for ${tensors.length} tensors`);
  }
  const partialK = await rt.kernel("reduce", "sumsq_partial");
  const finishK = await rt.kernel("reduce", "norms_finish");
  const segs = new Uint32Array(sizes.length * 2);
  const chunking = sizes.map((n) => {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`norms: tensor of ${n} elements`);
    const per = Math.ceil(Math.max(MIN_CHUNK, Math.ceil(n / MAX_CHUNKS)) / 256) * 256;
    return { n, per, chunks: Math.ceil(n / per) };
  });
  let base = 0;
  chunking.forEach((c, i) => {
    segs.set([base, c.chunks], 2 * i);
    base += c.chunks;
  });
  const partials = rt.pool.acquire(base * 4, "norm partials");
  const segBuf = rt.pool.acquire(segs.byteLength, "norm segments");
  rt.device.queue.writeBuffer(segBuf, 0, segs);
  const scratch = [partials, segBuf];
  let norms = opts.norms;
  if (!norms) {
    norms = rt.pool.acquire(sizes.length * 4, "norms");
    scratch.push(norms);
  }
  const steps: Step[] = chunking.map((c, i) =>
    dispatchStep(
      rt,
      partialK,
      [rt.uniform(packParams([c.n, segs[2 * i], c.per, 0])), tensors[i], partials],
      c.chunks,
    )
  );
  const finishParams = rt.uniform(packParams([sizes.length, 0, 0, 0]));
  steps.push(dispatchStep(rt, finishK, [finishParams, partials, segBuf, norms], sizes.length));
  const out = norms;
  return {
    steps,
    scratch,
    norms: out,
    read: async () => new Float32Array(await rt.read(out, sizes.length * 4)),
  };
}

export interface ClipPlan extends NormsPlan {
  /** [scale, totalNorm] f32: scale = min(1, maxNorm / (total + 1e-6)); bind as the optimizers' `clipScale`. */
  clip: GPUBuffer;
  readClip(): Promise<{ scale: number; totalNorm: number }>;
}

/**
 * torch.nn.utils.clip_grad_norm_ (L2): per-tensor norms, then the factor. With `inPlace` the
 * gradients are also scaled here; otherwise pass `clip` to the optimizer, which scales on the fly.
 */
export async function planClipGradNorm(
  rt: Runtime,
  sizes: readonly number[],
  grads: readonly GPUBuffer[],
  opts: { maxNorm: number; inPlace?: boolean },
): Promise<ClipPlan> {
  if (!(opts.maxNorm > 0)) throw new RangeError(`clip: maxNorm ${opts.maxNorm}`);
  const norms = await planNorms(rt, sizes, grads);
  const factorK = await rt.kernel("reduce", "clip_factor");
  const clip = rt.pool.acquire(8, "clip factor");
  const params = rt.uniform(packParams([sizes.length, 0, 0, opts.maxNorm], new Set([3])));
  const steps = [...norms.steps, dispatchStep(rt, factorK, [params, norms.norms, clip], 1)];
  if (opts.inPlace) {
    const scaleK = await rt.kernel("reduce", "scale_by");
    sizes.forEach((n, i) => {
      const p = rt.uniform(packParams([n, 0, 0, 0]));
      steps.push(dispatchStep(rt, scaleK, [p, clip, grads[i]], Math.ceil(n / 256)));
    });
  }
  return {
    ...norms,
    steps,
    scratch: [...norms.scratch, clip],
    clip,
    readClip: async () => {
      const [scale, totalNorm] = new Float32Array(await rt.read(clip, 8));
      return { scale, totalNorm };
    },
  };
}
