/**
 * Fused softmax cross-entropy (shaders/softmax_xent.wgsl): dlogits for the mean loss, and the
 * loss sum / correct count accumulated on the GPU across steps, so the trainer reads 32 bytes
 * every few hundred steps instead of waiting on the GPU every step.
 */
import type { Runtime } from "../gpu/runtime.ts";
import { dispatchStep, packParams, type Planned, type Step } from "../gpu/plan.ts";
import { guardReasons, type NonFiniteReason } from "./guard.ts";

/** Bytes of the metrics buffer: see {@link decodeMetrics} for the layout. */
export const METRICS_BYTES = 48;

/**
 * Metrics buffer layout (48 bytes, little-endian):
 * [0] lossSum f32 (Σ per-sample loss), [1] lossComp f32 (Kahan compensation, internal),
 * [2] correct u32, [3] samples u32 (valid labels only), [4] badLabels u32, [5] steps u32;
 * written by the training step's guard (src/ops/guard.ts): [6] skipped steps u32, [7] their
 * reasons (GUARD_BITS, ORed), [8] the window step of the first skip (1-based); [9–11] unused.
 */
/** Loss and accuracy summed on the GPU over the steps since the last read ({@link Trainer.readMetrics}). */
export interface XentMetrics {
  /** Sum of the per-sample cross-entropy losses. */
  lossSum: number;
  /** Samples whose top class was the label. */
  correct: number;
  /** Samples counted (valid labels only). */
  samples: number;
  /** Labels outside 0…classes−1 (skipped, and counted here so they are never silent). */
  badLabels: number;
  /** Steps summed. */
  steps: number;
  /** lossSum / samples (NaN before any sample). */
  meanLoss: number;
  /** correct / samples. */
  accuracy: number;
  /** Steps whose update the non-finite guard skipped (training only). */
  skipped: number;
  /** Why, over the skipped steps: non-finite `input`, `loss`, `gradients`, or an `update`. */
  nonFinite: NonFiniteReason[];
  /** The first skipped step, counted from 1 within the steps read (0: none). */
  firstSkippedInWindow: number;
}

export function decodeMetrics(bytes: ArrayBuffer): XentMetrics {
  const f = new Float32Array(bytes, 0, 8);
  const u = new Uint32Array(bytes, 0, 9);
  // The compensation holds the low-order part the running sum lost: subtracting it recovers it.
  const lossSum = f[0] - f[1];
  const [correct, samples, badLabels, steps] = [u[2], u[3], u[4], u[5]];
  return {
    lossSum,
    correct,
    samples,
    badLabels,
    steps,
    meanLoss: lossSum / samples,
    accuracy: correct / samples,
    skipped: u[6],
    nonFinite: guardReasons(u[7]),
    firstSkippedInWindow: u[8],
  };
}

export interface SoftmaxXentBuffers {
  /** [N, classes] f32. */
  logits: GPUBuffer;
  /** [N] u32 or i32 class indices. */
  labels: GPUBuffer;
  /** [N, classes] f32, written (not accumulated). */
  dlogits: GPUBuffer;
  /** Shared metrics buffer ({@link METRICS_BYTES}); allocated and zeroed by the plan if omitted. */
  metrics?: GPUBuffer;
}

export interface SoftmaxXentPlan extends Planned {
  metrics: GPUBuffer;
  /** [N] vec2 f32: each sample's loss and outcome (0 wrong, 1 correct, 2 bad label). */
  rows: GPUBuffer;
  /** A step that zeroes the metrics (append it where the trainer starts a new window). */
  resetStep: Step;
  /** Records the zeroing now (in command order, before work recorded later). */
  reset(): void;
  /** Submits pending work and reads the accumulated metrics. */
  readMetrics(): Promise<XentMetrics>;
}

/**
 * dlogits = lossScale·(softmax(logits) − onehot(labels))/N and metrics += this batch. Steps:
 * one workgroup per sample, then one workgroup folding the batch into the metrics.
 */
export async function planSoftmaxCrossEntropy(
  rt: Runtime,
  s: { n: number; classes: number },
  buf: SoftmaxXentBuffers,
  opts: { lossScale?: number } = {},
): Promise<SoftmaxXentPlan> {
  const { n, classes } = s;
  if (n <= 0 || classes <= 0) throw new RangeError(`softmax xent: bad shape ${n}×${classes}`);
  // Enough invocations to cover 1000 classes in a few strides, not 64 idle ones for 10 classes.
  const wg = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(classes / 4))));
  const rowsK = await rt.kernel("softmax_xent", "xent_rows", { WG: wg });
  const sumK = await rt.kernel("softmax_xent", "xent_metrics");
  const params = rt.uniform(packParams([n, classes, (opts.lossScale ?? 1) / n], new Set([2])));
  const rows = rt.pool.acquire(n * 8, "xent rows");
  const scratch = [rows];
  let metrics = buf.metrics;
  if (!metrics) {
    metrics = rt.pool.acquire(METRICS_BYTES, "xent metrics");
    rt.commands().clearBuffer(metrics, 0, METRICS_BYTES);
    scratch.push(metrics);
  }
  const m = metrics;
  const resetStep: Step = { kind: "clear", buffer: m, offset: 0, size: METRICS_BYTES };
  return {
    steps: [
      dispatchStep(rt, rowsK, [params, buf.logits, buf.labels, buf.dlogits, rows], n),
      dispatchStep(rt, sumK, [params, rows, m], 1),
    ],
    scratch,
    metrics: m,
    rows,
    resetStep,
    reset: () => rt.commands().clearBuffer(m, 0, METRICS_BYTES),
    readMetrics: async () => decodeMetrics(await rt.read(m, METRICS_BYTES)),
  };
}
