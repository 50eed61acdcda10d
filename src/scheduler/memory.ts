/**
 * Memory planning by liveness. Every virtual tensor of a step (activations, their gradients,
 * state saved for backward) has a lifetime [first write, last read] on the step's timeline; two
 * tensors whose lifetimes overlap need different buffers, others may share one. Assignment is
 * greedy in order of first write, taking the best-fitting free slot (or growing the largest
 * free one), which is near-optimal for the chain-like lifetimes of CNN training.
 *
 * Lifetimes are inclusive: a tensor read by the op at time t is still live at t, so an op's
 * output never shares a buffer with its own inputs (WebGPU forbids such aliasing anyway).
 */

export interface Lifetime {
  key: string;
  bytes: number;
  start: number;
  end: number;
}

export interface MemoryPlan {
  /** Slot index of each tensor key. */
  slotOf: Map<string, number>;
  /** Bytes of each slot (the largest tensor assigned to it). */
  slotBytes: number[];
  /** Sum of slot sizes: what the plan allocates. */
  plannedBytes: number;
  /** Sum of every tensor's size: what keeping everything would cost. */
  naiveBytes: number;
  /** The most bytes live at any one time (a lower bound for any assignment). */
  liveBytesBound: number;
}

export function planMemory(lifetimes: readonly Lifetime[]): MemoryPlan {
  for (const l of lifetimes) {
    if (!(l.end >= l.start) || !(l.bytes > 0)) {
      throw new Error(`bad lifetime for ${l.key}: [${l.start}, ${l.end}] ${l.bytes} bytes`);
    }
  }
  const order = [...lifetimes].sort((a, b) => a.start - b.start || b.bytes - a.bytes);
  const slotBytes: number[] = [];
  const slotFreeAt: number[] = []; // last time the slot is busy
  const slotOf = new Map<string, number>();
  for (const l of order) {
    let best = -1, largest = -1;
    for (let s = 0; s < slotBytes.length; s++) {
      if (slotFreeAt[s] >= l.start) continue;
      if (slotBytes[s] >= l.bytes && (best < 0 || slotBytes[s] < slotBytes[best])) best = s;
      if (largest < 0 || slotBytes[s] > slotBytes[largest]) largest = s;
    }
    const s = best >= 0 ? best : largest >= 0 ? largest : slotBytes.length;
    if (s === slotBytes.length) {
      slotBytes.push(0);
      slotFreeAt.push(-Infinity);
    }
    slotBytes[s] = Math.max(slotBytes[s], l.bytes);
    slotFreeAt[s] = l.end;
    slotOf.set(l.key, s);
  }
  const events: [number, number][] = [];
  for (const l of lifetimes) events.push([l.start, l.bytes], [l.end + 0.5, -l.bytes]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0, bound = 0;
  for (const [, d] of events) {
    live += d;
    bound = Math.max(bound, live);
  }
  return {
    slotOf,
    slotBytes,
    plannedBytes: slotBytes.reduce((a, b) => a + b, 0),
    naiveBytes: lifetimes.reduce((a, l) => a + l.bytes, 0),
    liveBytesBound: bound,
  };
}
