/**
 * A layer as the scheduler orders it and the rules plan it: one graph node, possibly with a fused
 * ReLU or residual join, and what its backward reads.
 */
import type { GraphNode } from "../graph/ir.ts";

/** Training (forward, loss, backward, update) or inference (forward only, BN running statistics). */
export type Mode = "train" | "eval";

/** A layer the step executes: one graph node, possibly with a fused ReLU or residual join. */
export interface Layer {
  node: GraphNode;
  /** Tensor ids (node ids after view resolution) this layer reads in forward. */
  inputs: number[];
  /** The node id whose activation this layer writes (the ReLU's or the join's id when fused). */
  output: number;
  /** Batch norm followed by ReLU, executed as one kernel family. */
  fusedRelu: boolean;
  /**
   * Batch norm whose output only feeds a residual join: the layer computes the join,
   * relu(bn(inputs[0]) + inputs[1]), in its normalize pass, and its backward runs the join's
   * backward into a scratch gradient and then the batch norm's.
   */
  fusedAdd: boolean;
}

/** What a layer's backward reads besides its output gradient (declared by each op). */
export interface BackwardNeeds {
  /** One flag for every input, or one per input. */
  inputs: boolean | readonly boolean[];
  output: boolean;
  /**
   * Per input: whether the backward reads it, and writes its gradient, in a second phase that
   * starts once the output gradient (and the other inputs' gradients) are done — a fused layer
   * running two ops' backwards. The memory plan places that phase half a step later, so the
   * output gradient's buffer can hold the late input's gradient.
   */
  late?: readonly boolean[];
}

/** What a layer whose rule declares nothing reads in backward: neither inputs nor output. */
export const READS_NOTHING: BackwardNeeds = { inputs: false, output: false };
