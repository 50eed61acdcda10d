/** Batch-norm running statistics that are not 0 and 1, so a model's eval mode is really exercised. */
import type { Graph } from "../../src/graph/ir.ts";
import type { Model } from "../../src/model/model.ts";
import type { StateEntry } from "../../src/model/state.ts";

/**
 * Loads smooth, channel-varying running means (±0.1) and variances (`varFloor` to `varFloor` +
 * 0.5) into every batch norm of `model` (built from `graph`), leaving the other tensors as they are.
 */
export function loadRunningStats(model: Model, graph: Graph, varFloor: number): void {
  const stats = new Map<string, StateEntry>();
  for (const p of graph.params) {
    if (p.kind === "running_mean" || p.kind === "running_var") {
      stats.set(p.name, {
        shape: p.shape,
        data: Float32Array.from(
          { length: p.shape[0] },
          (_, i) =>
            p.kind === "running_mean" ? 0.1 * Math.sin(i) : varFloor + 0.5 * Math.cos(i) ** 2,
        ),
      });
    }
  }
  model.loadStateDict(stats, { strict: false });
}
