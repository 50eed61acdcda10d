/**
 * The step's timeline and each virtual tensor's lifetime on it.
 *
 * Train: t = 0 the host writes the input batch; t = 1…L forward layer i at 1 + i; loss at L + 1;
 * backward of layer i at 2L + 1 − i (reverse order), and the second phase of a two-phase backward
 * (`BackwardNeeds.late`) half a step after it; the optimizer reads only parameter
 * gradients, which are not planned here (they persist). Eval: the forward part only.
 *
 * Tensors: `act:t` (activation of tensor t), `grad:t` (its gradient), `save:i` (state layer i
 * keeps for its backward, e.g. batch statistics or max-pool argmax), `scratch:i` (a buffer layer
 * i's backward alone uses, e.g. a fused residual join's branch gradient).
 */
import type { Lifetime } from "./memory.ts";
import { backwardPhase, backwardReads, hasLatePhase, type Schedule } from "./schedule.ts";
import { backwardNeeds } from "../layers/mod.ts";
import type { Keeps } from "../layers/rule.ts";
import type { GradientFlow } from "./freeze.ts";

export interface Timeline {
  fwd(layer: number): number;
  bwd(layer: number): number;
  loss: number;
}

export function timeline(s: Schedule): Timeline {
  const L = s.layers.length;
  return { fwd: (i) => 1 + i, bwd: (i) => 2 * L + 1 - i, loss: L + 1 };
}

export function activationBytes(s: Schedule, t: number, batch: number): number {
  return batch * s.graph.nodes[t].shape.reduce((a, b) => a * b, 1) * 4;
}

/** Index of the layer that writes tensor `t` (−1 for the graph input). */
export function producerOf(s: Schedule): Map<number, number> {
  return new Map(s.layers.map((l, i) => [l.output, i]));
}

/**
 * The consumer whose backward writes `grad:t` first (the latest in forward order); the others
 * accumulate into it.
 */
export function firstGradWriter(s: Schedule, t: number): number {
  const c = s.consumers.get(t) ?? [];
  return Math.max(...c);
}

/**
 * `keeps[i]`: what layer i keeps beyond its op's `backwardNeeds` (absent: nothing). `flow`: which
 * backwards run and which gradients exist with frozen parameters (absent: all of them).
 */
export function stepLifetimes(
  s: Schedule,
  batch: number,
  keeps: readonly (Keeps | undefined)[] = [],
  flow?: GradientFlow,
): Lifetime[] {
  const tl = timeline(s);
  const producer = producerOf(s);
  const train = s.mode === "train";
  // A layer whose backward does not run keeps nothing for it; a tensor no gradient flows
  // through has no gradient buffer.
  const runs = (i: number) => flow?.runs[i] ?? true;
  const flows = (t: number) => t !== 0 && (flow?.flows(t) ?? true);
  const out: Lifetime[] = [];
  const tensors = [0, ...s.layers.map((l) => l.output)];
  for (const t of tensors) {
    const p = producer.get(t) ?? -1;
    const start = p < 0 ? 0 : tl.fwd(p);
    let end = start;
    for (const c of s.consumers.get(t) ?? []) {
      end = Math.max(end, tl.fwd(c));
      const reads = keeps[c]?.inputs ?? backwardReads(s.layers[c], t);
      if (train && runs(c) && reads) end = Math.max(end, tl.bwd(c) + backwardPhase(s.layers[c], t));
    }
    // Logits stay readable after the step (predictions, debugging): they are tiny.
    if (t === s.output) end = Math.max(end, train ? tl.bwd(0) + 1 : start);
    if (train && p >= 0 && runs(p) && backwardNeeds(s.layers[p]).output) {
      end = Math.max(end, tl.bwd(p));
    }
    out.push({ key: `act:${t}`, bytes: activationBytes(s, t, batch), start, end });

    if (train && p >= 0 && flows(t)) {
      const gStart = t === s.output ? tl.loss : Math.min(
        ...(s.consumers.get(t) ?? []).map((c) => tl.bwd(c) + backwardPhase(s.layers[c], t)),
      );
      if (Number.isFinite(gStart)) {
        out.push({
          key: `grad:${t}`,
          bytes: activationBytes(s, t, batch),
          start: gStart,
          end: tl.bwd(p),
        });
      }
    }
  }
  if (train) {
    s.layers.forEach((l, i) => {
      if (!runs(i)) return;
      const bytes = keeps[i]?.savedBytes ?? 0;
      if (bytes > 0) out.push({ key: `save:${i}`, bytes, start: tl.fwd(i), end: tl.bwd(i) });
      const scratch = keeps[i]?.backwardScratchBytes ?? 0;
      if (scratch > 0) {
        // Between the phases of a two-phase backward, else during the one.
        const end = tl.bwd(i) + (hasLatePhase(l) ? 0.5 : 0);
        out.push({ key: `scratch:${i}`, bytes: scratch, start: tl.bwd(i), end });
      }
    });
  }
  return out;
}
