/**
 * From a {@link Graph} to the ordered list of layers a step runs, and the virtual tensors each
 * layer reads and writes in the forward and backward pass. Pure TypeScript: the memory planner
 * and tests use it without a GPU.
 *
 * Two rewrites happen here:
 * - fusion: a batch norm whose only consumer is a ReLU becomes one fused BN+ReLU layer, and one
 *   whose only consumer is a residual join relu(a + b) becomes one BN+join layer (its output is
 *   never stored; see {@link Layer.fusedAdd});
 * - views: `flatten` (and `dropout` outside training) produce no data; their output *is* their
 *   input's tensor, so they vanish from the schedule and consumers read the source.
 */
import type { Graph, GraphNode } from "../graph/ir.ts";
import type { Layer, Mode } from "../layers/layer.ts";
import { backwardNeeds } from "../layers/mod.ts";

export interface Schedule {
  graph: Graph;
  mode: Mode;
  layers: Layer[];
  /** Resolves a node id to the id of the tensor that holds its value (views collapse). */
  tensorOf: (id: number) => number;
  /** Consumers (layer indices) of each tensor id. */
  consumers: Map<number, number[]>;
  /** Tensor id of the logits. */
  output: number;
}

/** Whether layer's backward reads tensor t, one of its inputs. */
export function backwardReads(layer: Layer, t: number): boolean {
  const r = backwardNeeds(layer).inputs;
  return typeof r === "boolean" ? r : layer.inputs.some((u, k) => u === t && r[k]);
}

/** When layer's backward touches input t, relative to its place on the timeline: 0 or ½. */
export function backwardPhase(layer: Layer, t: number): number {
  const late = backwardNeeds(layer).late;
  return late && layer.inputs.some((u, k) => u === t && late[k]) ? 0.5 : 0;
}

/** Whether some input of layer is touched in its backward's second phase. */
export function hasLatePhase(layer: Layer): boolean {
  return backwardNeeds(layer).late?.some((l) => l) ?? false;
}

export interface ScheduleOptions {
  /** Fuse a batch norm into the residual join it alone feeds (default true). */
  fuseBatchNormJoin?: boolean;
}

export function buildSchedule(graph: Graph, mode: Mode, opts: ScheduleOptions = {}): Schedule {
  const fuseJoin = opts.fuseBatchNormJoin ?? true;
  const nodes = graph.nodes;
  const alias = new Map<number, number>();
  const tensorOf = (id: number): number => {
    let t = id;
    while (alias.has(t)) t = alias.get(t)!;
    return t;
  };
  const users = new Map<number, number[]>();
  for (const n of nodes) {
    for (const i of n.inputs) users.set(i, [...(users.get(i) ?? []), n.id]);
  }

  const layers: Layer[] = [];
  const layerOf = (n: GraphNode): Layer => ({
    node: n,
    inputs: n.inputs.map(tensorOf),
    output: n.id,
    fusedRelu: false,
    fusedAdd: false,
  });
  const fusedInto = new Map<number, Layer>(); // relu id → its BN layer
  // Batch norms that will run at the residual join they alone feed (both inputs exist there).
  const waiting = new Map<number, GraphNode>();
  for (const n of nodes) {
    if (n.op === "input") continue;
    if (n.op === "flatten" || (n.op === "dropout" && (mode === "eval" || n.p === 0))) {
      alias.set(n.id, n.inputs[0]);
      continue;
    }
    if (n.op === "relu" && fusedInto.has(n.id)) continue;
    const u = users.get(n.id) ?? [];
    const user = u.length === 1 && n.id !== graph.output ? nodes[u[0]] : null;
    if (n.op === "batchnorm" && fuseJoin && user && joinable(user, tensorOf)) {
      waiting.set(n.id, n);
      continue;
    }
    if (n.op === "add_relu") {
      // Of a join of two batch norms (a projection shortcut), the later absorbs it.
      const bns = n.inputs.filter((i) => waiting.has(i)).sort((a, b) => a - b);
      if (bns.length > 0) {
        const bn = bns[bns.length - 1];
        if (bns.length > 1) layers.push(layerOf(waiting.get(bns[0])!));
        const layer = layerOf(waiting.get(bn)!);
        layer.fusedAdd = true;
        layer.inputs.push(tensorOf(n.inputs[0] === bn ? n.inputs[1] : n.inputs[0]));
        layer.output = n.id;
        layers.push(layer);
        continue;
      }
    }
    const layer = layerOf(n);
    if (n.op === "batchnorm" && user?.op === "relu") {
      layer.fusedRelu = true;
      layer.output = user.id;
      fusedInto.set(user.id, layer);
    }
    layers.push(layer);
  }

  const consumers = new Map<number, number[]>();
  layers.forEach((l, li) => {
    for (const t of l.inputs) consumers.set(t, [...(consumers.get(t) ?? []), li]);
  });
  return { graph, mode, layers, tensorOf, consumers, output: tensorOf(graph.output) };
}

/**
 * Whether a batch norm feeding only residual join `join` may compute it: the join must add two
 * different tensors, and neither may be the network input (the join's backward writes both
 * branches' gradients).
 */
function joinable(join: GraphNode, tensorOf: (id: number) => number): boolean {
  if (join.op !== "add_relu") return false;
  const [a, b] = join.inputs;
  return a !== b && tensorOf(a) !== 0 && tensorOf(b) !== 0;
}
