/** Batch norm (optionally with its ReLU fused): batch statistics in training, running in eval. */
import {
  planBatchNormBackward,
  planBatchNormEvalForward,
  planBatchNormTrainForward,
} from "../ops/batchnorm.ts";
import type { LayerRule } from "./rule.ts";
import type { Layer } from "../scheduler/schedule.ts";
import type { LayerContext } from "./rule.ts";

function bn(layer: Layer) {
  if (layer.node.op !== "batchnorm") throw new Error(`batchnorm rule got ${layer.node.op}`);
  return layer.node;
}

function shapeOf(ctx: LayerContext, layer: Layer) {
  const s = ctx.shape(layer.inputs[0]);
  return { n: ctx.batch, c: s[0], h: s[1] ?? 1, w: s[2] ?? 1 };
}

export const batchnormRule: LayerRule = {
  // The op keeps its [C] mean/invstd itself.
  async forward(ctx, layer) {
    const node = bn(layer), m = ctx.model, p = node.name;
    const common = {
      x: ctx.act(layer.inputs[0]),
      gamma: m.param(`${p}.weight`),
      beta: m.param(`${p}.bias`),
      runningMean: m.param(`${p}.running_mean`),
      runningVar: m.param(`${p}.running_var`),
      y: ctx.act(layer.output),
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
  backward(ctx, layer) {
    const node = bn(layer), m = ctx.model, p = node.name, x = layer.inputs[0];
    const dx = ctx.grad(x);
    if (!dx) throw new Error(`${p}: batch norm on the network input is not supported`);
    return planBatchNormBackward(ctx.rt, shapeOf(ctx, layer), {
      dy: ctx.grad(layer.output)!,
      x: ctx.act(x),
      gamma: m.param(`${p}.weight`),
      mean: ctx.stash.mean,
      invstd: ctx.stash.invstd,
      dx,
      dgamma: m.grad(`${p}.weight`),
      dbeta: m.grad(`${p}.bias`),
      beta: layer.fusedRelu ? m.param(`${p}.bias`) : undefined,
    }, { relu: layer.fusedRelu, accumulate: ctx.accumulate(x) });
  },
};
