/**
 * From a {@link Graph} to the ordered list of layers a step runs, and the virtual tensors each
 * layer reads and writes in the forward and backward pass. Pure TypeScript: the memory planner
 * and tests use it without a GPU.
 *
 * Two rewrites happen here:
 * - fusion: a batch norm whose only consumer is a ReLU becomes one fused BN+ReLU layer;
 * - views: `flatten` (and `dropout` outside training) produce no data; their output *is* their
 *   input's tensor, so they vanish from the schedule and consumers read the source.
 */
import type { Graph, GraphNode } from "../graph/ir.ts";

export type Mode = "train" | "eval";

/** A layer the step executes: one graph node, possibly with a fused ReLU. */
export interface Layer {
  node: GraphNode;
  /** Tensor ids (node ids after view resolution) this layer reads in forward. */
  inputs: number[];
  /** The node id whose activation this layer writes (the ReLU's id when fused). */
  output: number;
  /** Batch norm followed by ReLU, executed as one kernel family. */
  fusedRelu: boolean;
}

/** What a layer's backward reads besides its output gradient (declared by each op). */
export interface BackwardNeeds {
  inputs: boolean;
  output: boolean;
}

/** Which forward tensors each op's backward needs; ops not listed need neither. */
export function backwardNeeds(layer: Layer): BackwardNeeds {
  switch (layer.node.op) {
    case "conv2d":
    case "linear":
      return { inputs: true, output: false }; // weight gradient needs the input
    case "batchnorm":
      // Backward recomputes x̂ from x and the saved statistics, and the fused ReLU's mask from
      // x, γ and β: the output is not read.
      return { inputs: true, output: false };
    case "relu":
    case "add_relu":
      return { inputs: false, output: true };
    default:
      return { inputs: false, output: false };
  }
}

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

export function buildSchedule(graph: Graph, mode: Mode): Schedule {
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
  const fusedInto = new Map<number, Layer>(); // relu id → its BN layer
  for (const n of nodes) {
    if (n.op === "input") continue;
    if (n.op === "flatten" || (n.op === "dropout" && (mode === "eval" || n.p === 0))) {
      alias.set(n.id, n.inputs[0]);
      continue;
    }
    if (n.op === "relu" && fusedInto.has(n.id)) continue;
    const layer: Layer = {
      node: n,
      inputs: n.inputs.map(tensorOf),
      output: n.id,
      fusedRelu: false,
    };
    if (n.op === "batchnorm") {
      const u = users.get(n.id) ?? [];
      if (u.length === 1 && nodes[u[0]].op === "relu" && n.id !== graph.output) {
        layer.fusedRelu = true;
        layer.output = u[0];
        fusedInto.set(u[0], layer);
      }
    }
    layers.push(layer);
  }

  const consumers = new Map<number, number[]>();
  layers.forEach((l, li) => {
    for (const t of l.inputs) consumers.set(t, [...(consumers.get(t) ?? []), li]);
  });
  return { graph, mode, layers, tensorOf, consumers, output: tensorOf(graph.output) };
}
