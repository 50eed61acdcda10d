/**
 * Batch norm (optionally with its ReLU, or the residual join it feeds, fused): batch statistics
 * in training, running in eval.
 */
import { planAddReluBackward } from "../ops/residual.ts";
import {
  planBatchNormBackward,
  planBatchNormEvalForward,
  planBatchNormTrainForward,
} from "../ops/batchnorm.ts";
import type { LayerRule, PlanningContext } from "./rule.ts";
import type { Planned } from "../gpu/plan.ts";
import type { Layer } from "./layer.ts";

function bn(layer: Layer) {
  if (layer.node.op !== "batchnorm") throw new Error(`batchnorm rule got ${layer.node.op}`);
  return layer.node;
}

function shapeOf(ctx: PlanningContext, layer: Layer) {
  const s = ctx.shape(layer.inputs[0]);
  return { n: ctx.batch, c: s[0], h: s[1] ?? 1, w: s[2] ?? 1 };
}

function elements(ctx: PlanningContext, layer: Layer): number {
  const s = shapeOf(ctx, layer);
  return s.n * s.c * s.h * s.w;
}

export const batchnormRule: LayerRule = {
  // Backward recomputes x̂ from x and the saved statistics, and the fused ReLU's mask from x, γ
  // and β: the output is not read. A fused join's mask is its output's sign, and its other branch
  // is not read.
  backwardNeeds: (layer) =>
    layer.fusedAdd
      ? { inputs: [true, false], output: true, late: [true, false] }
      : { inputs: true, output: false },
  // The op keeps its [C] mean/invstd itself; a fused join needs its branch's gradient between
  // the join's backward and the batch norm's.
  keeps(ctx, layer) {
    const scratch = layer.fusedAdd ? elements(ctx, layer) * 4 : 0;
    return Promise.resolve({ savedBytes: 0, backwardScratchBytes: scratch });
  },
  async forward(ctx, layer) {
    const node = bn(layer), m = ctx.model, p = node.name;
    const common = {
      x: ctx.act(layer.inputs[0]),
      gamma: m.param(`${p}.weight`),
      beta: m.param(`${p}.bias`),
      runningMean: m.param(`${p}.running_mean`),
      runningVar: m.param(`${p}.running_var`),
      y: ctx.act(layer.output),
      skip: layer.fusedAdd ? ctx.act(layer.inputs[1]) : undefined,
    };
    const opts = { eps: node.eps, momentum: node.momentum, relu: layer.fusedRelu };
    if (ctx.mode === "eval") {
      return planBatchNormEvalForward(ctx.rt, shapeOf(ctx, layer), common, opts);
    }
    const planned = await planBatchNormTrainForward(ctx.rt, shapeOf(ctx, layer), common, opts);
    ctx.stash.mean = planned.mean;
    ctx.stash.invstd = planned.invstd;
    return planned;
  },
  async backward(ctx, layer) {
    const node = bn(layer), m = ctx.model, p = node.name, x = layer.inputs[0];
    const dx = ctx.grad(x);
    if (!dx) throw new Error(`${p}: batch norm on the network input is not supported`);
    let dy = ctx.grad(layer.output)!;
    const join: Planned[] = [];
    if (layer.fusedAdd) {
      // The join's one-pass backward: the skip branch's gradient where it belongs, the batch
      // norm's into scratch for the two passes below.
      const skip = layer.inputs[1], dskip = ctx.grad(skip)!;
      const g = ctx.backwardScratch();
      join.push(
        await planAddReluBackward(ctx.rt, elements(ctx, layer), {
          dy,
          y: ctx.act(layer.output),
          da: g,
          db: dskip,
        }, { accumulateB: ctx.accumulate(skip) }),
      );
      dy = g;
    }
    const own = await planBatchNormBackward(ctx.rt, shapeOf(ctx, layer), {
      dy,
      x: ctx.act(x),
      gamma: m.param(`${p}.weight`),
      mean: ctx.stash.mean,
      invstd: ctx.stash.invstd,
      dx,
      dgamma: m.grad(`${p}.weight`),
      dbeta: m.grad(`${p}.bias`),
      beta: layer.fusedRelu ? m.param(`${p}.bias`) : undefined,
    }, { relu: layer.fusedRelu, accumulate: ctx.accumulate(x) });
    return {
      steps: [...join.flatMap((j) => j.steps), ...own.steps],
      scratch: [...join.flatMap((j) => j.scratch), ...own.scratch],
    };
  },
};
