/**
 * A layer rule declares, next to each other, how one op runs forward and backward on the GPU.
 * Rules only translate a scheduled layer and the buffers the planner assigned into kernel plans;
 * memory, ordering and gradient accumulation are the scheduler's.
 */
import type { Runtime } from "../gpu/runtime.ts";
import type { Planned } from "../gpu/plan.ts";
import type { BackwardNeeds, Layer, Mode } from "./layer.ts";
import type { Model } from "../model/model.ts";

export interface LayerContext {
  rt: Runtime;
  model: Model;
  batch: number;
  mode: Mode;
  /**
   * Training: whether this layer's parameters get gradients (false when all are frozen; its
   * backward then only passes the gradient on to its inputs).
   */
  trains: boolean;
  /** A frozen batch norm kept in eval mode in training (running statistics, not updated). */
  frozenEval: boolean;
  /** Whether tensor t gets a gradient in this step (see src/scheduler/freeze.ts). */
  needsGrad(t: number): boolean;
  /** Activation buffer of tensor t. */
  act(t: number): GPUBuffer;
  /**
   * Gradient buffer of tensor t, or null when t needs none: the network's input, eval mode, and
   * tensors below every layer that trains.
   */
  grad(t: number): GPUBuffer | null;
  /** Whether this layer's backward must add into grad(t) rather than overwrite it. */
  accumulate(t: number): boolean;
  /** The buffer this layer keeps for its backward (size from its rule's `keeps`). */
  saved(): GPUBuffer;
  /** A buffer only this layer's backward uses (size from its rule's `keeps`). */
  backwardScratch(): GPUBuffer;
  /** A u32 the trainer rewrites every step (dropout masks are drawn from it). */
  stepSeed(): GPUBuffer;
  /** Per-layer memo shared by forward and backward planning (e.g. buffers an op allocated). */
  stash: Record<string, GPUBuffer>;
  /** [C, H, W] or [F] of tensor t, without the batch. */
  shape(t: number): readonly number[];
}

/** What a rule may consult before buffers exist (to size what its layer keeps). */
export type PlanningContext = Pick<
  LayerContext,
  "rt" | "batch" | "shape" | "trains" | "frozenEval" | "needsGrad"
>;

/** What a layer keeps from its forward for its backward in training, decided once per plan. */
export interface Keeps {
  /** Bytes of its `saved()` buffer (0 for none). */
  savedBytes: number;
  /** Whether its backward reads its inputs; when absent, as the op's `backwardNeeds` says. */
  inputs?: boolean;
  /** Bytes of its `backwardScratch()` buffer, live during its backward only (0 for none). */
  backwardScratchBytes?: number;
}

export interface LayerRule {
  /**
   * Which forward tensors the layer's backward reads besides its output gradient, so the memory
   * plan keeps them alive until then (absent: none).
   */
  backwardNeeds?(layer: Layer): BackwardNeeds;
  /**
   * What the layer keeps in training at this batch, when more than the op's `backwardNeeds`
   * (absent: nothing saved). The layer's forward and backward plans must agree with it.
   */
  keeps?(ctx: PlanningContext, layer: Layer): Promise<Keeps>;
  forward(ctx: LayerContext, layer: Layer): Promise<Planned>;
  /** Writes grad of the layer's inputs (and its parameters' gradients). */
  backward(ctx: LayerContext, layer: Layer): Promise<Planned>;
}
