/**
 * The planned training (or inference) step of one model at one batch size: every buffer, bind
 * group and pipeline is made here, once; {@link StepPlan.forward}/{@link StepPlan.backward} are
 * step lists the trainer replays each iteration.
 */
import type { Model } from "../model/model.ts";
import type { Planned, Step } from "../gpu/plan.ts";
import { buildSchedule, type Schedule } from "./schedule.ts";
import type { Layer, Mode } from "../layers/layer.ts";
import { firstGradWriter, stepLifetimes } from "./lifetimes.ts";
import { type MemoryPlan, planMemory } from "./memory.ts";
import type { Keeps, LayerContext } from "../layers/rule.ts";
import { ruleFor } from "../layers/mod.ts";
import { gradientFlow } from "./freeze.ts";

/**
 * A model's forward (and, in training, backward) pass at one batch size, planned once: every
 * kernel compiled, every buffer placed, ready to replay. Public as the type of
 * {@link Trainer.plan} and {@link Evaluator.plan}, for reading what was planned (`plannedBytes`,
 * `batchSize`, where the logits are); they own their plans and dispose them. Planning itself
 * (`buildStepPlan`) is internal: Trainer, Evaluator and Predictor plan for you.
 */
export interface StepPlan {
  /**
   * The fused layer order.
   * @ignore
   */
  schedule: Schedule;
  /** Images per step. */
  batchSize: number;
  /** `train` (forward and backward) or `eval` (forward with BN running statistics). */
  mode: Mode;
  /**
   * Where each activation lives in the plan's memory.
   * @ignore
   */
  memory: MemoryPlan;
  /**
   * The forward pass's steps.
   * @ignore
   */
  forward: Step[];
  /**
   * The backward pass's steps (empty in eval mode).
   * @ignore
   */
  backward: Step[];
  /**
   * Per-layer step ranges, for per-layer timing and debugging.
   * @ignore
   */
  layerSteps: { layer: Layer; forward: Step[]; backward: Step[] }[];
  /**
   * u32 the trainer writes each step: dropout's mask seed.
   * @ignore
   */
  seed: GPUBuffer;
  /** Where the host writes the input batch (NCHW f32). */
  input: GPUBuffer;
  /** Where the forward pass leaves the logits (batch × classes f32). */
  logits: GPUBuffer;
  /** Gradient of the logits (train mode), written by the loss. */
  dlogits: GPUBuffer | null;
  /** Activation-memory bytes the plan holds (slots plus per-op scratch). */
  plannedBytes: number;
  /**
   * The memory plan's slot buffers (see {@link StepPlanOptions.slots}).
   * @ignore
   */
  slots: readonly GPUBuffer[];
  /**
   * Returns the plan's buffers to the pool (nothing to do after the runtime's dispose); the
   * plan's owner (Trainer, Evaluator, Predictor) calls it from its own `dispose()`.
   * @ignore
   */
  dispose(): void;
}

/** Options of {@link buildStepPlan}. */
export interface StepPlanOptions {
  /** Images per step. */
  batchSize: number;
  /** Training (forward, backward) or inference (forward only, BN running statistics). */
  mode: Mode;
  /**
   * Buffers for the memory plan's slots instead of new ones from the pool, each at least its
   * slot's size; the plan does not release them. Plans of one model and mode at smaller batch
   * sizes have the same slots, each no larger, so they can share a larger plan's
   * (`plan.memory` and {@link StepPlan.slots}) when they never run at the same time.
   */
  slots?: readonly GPUBuffer[];
  /**
   * Training only: parameter names that get no gradient and no update (see freeze.ts). Their
   * layers compute no weight gradients, and no backward runs below the lowest layer that trains.
   */
  frozen?: ReadonlySet<string>;
  /**
   * Training only: batch norms whose parameters are all frozen normalize with their running
   * statistics and do not update them (eval mode), as torchvision fine-tuning recipes do.
   */
  frozenBatchNormEval?: boolean;
}

/**
 * Plans `model`'s step at `opts.batchSize` in `opts.mode` (the caller disposes the plan).
 * {@link Trainer.create} and {@link Evaluator.create} do this for you.
 */
export async function buildStepPlan(model: Model, opts: StepPlanOptions): Promise<StepPlan> {
  const { batchSize: batch, mode } = opts;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`batch must be ≥ 1, got ${batch}`);
  }
  const rt = model.rt;
  const schedule = buildSchedule(model.graph, mode, {
    fuseBatchNormJoin: rt.policy.fuseBatchNormJoin,
  });
  const train = mode === "train";
  const flow = gradientFlow(schedule, train ? opts.frozen : undefined);
  if (train && !flow.flows(schedule.output)) {
    throw new RangeError("every parameter is frozen: a training step would have nothing to train");
  }
  const frozenEval = (i: number) =>
    train && !!opts.frozenBatchNormEval && !flow.trains[i] &&
    schedule.layers[i].node.op === "batchnorm";
  const shape = (t: number) => model.graph.nodes[t].shape;
  const needsGrad = (t: number) => train && flow.flows(schedule.tensorOf(t));
  const keeps: (Keeps | undefined)[] = [];
  if (train) {
    for (const [i, l] of schedule.layers.entries()) {
      const ctx = {
        rt,
        batch,
        shape,
        trains: flow.trains[i],
        frozenEval: frozenEval(i),
        needsGrad,
      };
      keeps.push(flow.runs[i] ? await ruleFor(l).keeps?.(ctx, l) : undefined);
    }
  }
  const memory = planMemory(stepLifetimes(schedule, batch, keeps, flow));
  const given = opts.slots;
  if (given) {
    memory.slotBytes.forEach((b, i) => {
      if (!given[i] || given[i].size < b) {
        throw new RangeError(
          `slot ${i} needs ${b} bytes; the given buffer has ${given[i]?.size ?? "none"}`,
        );
      }
    });
  }
  const slots = given
    ? given.slice(0, memory.slotBytes.length)
    : memory.slotBytes.map((b, i) => rt.pool.acquire(b, `slot${i}`));
  const slot = (key: string): GPUBuffer => {
    const s = memory.slotOf.get(key);
    if (s === undefined) throw new Error(`planner has no buffer for ${key}`);
    return slots[s];
  };
  const scratch: GPUBuffer[] = [];
  // Rewritten by the trainer each step; never shared, unlike the runtime's cached uniforms.
  const seed = rt.pool.acquire(16, "step seed");
  scratch.push(seed);
  const forward: Step[] = [], backward: Step[] = [];
  const layerSteps: StepPlan["layerSteps"] = [];
  const take = (p: Planned, into: Step[]): Step[] => {
    into.push(...p.steps);
    scratch.push(...p.scratch);
    return p.steps;
  };

  const contexts = schedule.layers.map((_layer, i): LayerContext => ({
    rt,
    model,
    batch,
    mode,
    trains: train && flow.trains[i],
    frozenEval: frozenEval(i),
    needsGrad,
    act: (t) => slot(`act:${schedule.tensorOf(t)}`),
    grad: (t) => needsGrad(t) ? slot(`grad:${schedule.tensorOf(t)}`) : null,
    accumulate: (t) => firstGradWriter(schedule, schedule.tensorOf(t)) !== i,
    saved: () => slot(`save:${i}`),
    backwardScratch: () => slot(`scratch:${i}`),
    stash: {},
    stepSeed: () => seed,
    shape: (t) => model.graph.nodes[t].shape,
  }));

  for (let i = 0; i < schedule.layers.length; i++) {
    const layer = schedule.layers[i];
    layerSteps.push({
      layer,
      forward: take(await ruleFor(layer).forward(contexts[i], layer), forward),
      backward: [],
    });
  }
  if (train) {
    for (let i = schedule.layers.length - 1; i >= 0; i--) {
      if (!flow.runs[i]) continue;
      const layer = schedule.layers[i];
      layerSteps[i].backward = take(await ruleFor(layer).backward(contexts[i], layer), backward);
    }
  }
  const out = schedule.output;
  let disposed = false;
  const scratchBytes = scratch.reduce((a, b) => a + b.size, 0);
  return {
    schedule,
    batchSize: batch,
    mode,
    memory,
    forward,
    backward,
    layerSteps,
    seed,
    input: slot("act:0"),
    logits: slot(`act:${out}`),
    dlogits: train ? slot(`grad:${out}`) : null,
    plannedBytes: memory.plannedBytes + scratchBytes,
    slots,
    dispose() {
      if (disposed) return;
      disposed = true;
      if (!rt.disposed) {
        for (const b of [...(given ? [] : slots), ...scratch]) {
          rt.pool.release(b);
        }
      }
    },
  };
}
