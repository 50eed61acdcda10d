/**
 * Batch norm (optionally with its ReLU, or the residual join it feeds, fused): batch statistics
 * in training, running in eval.
 */
import { planAddReluBackward } from "../ops/residual.ts";
import { planReluBackward } from "../ops/activation.ts";
import {
  planBatchNormBackward,
  planBatchNormEvalBackward,
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
  // The op keeps its [C] mean/invstd itself. Scratch: a fused join's branch gradient, between the
  // join's backward and the batch norm's; or, for a training batch norm whose input needs no
  // gradient (every layer below is frozen), somewhere for the kernel's dx to go.
  keeps(ctx, layer) {
    const sink = !layer.fusedAdd && ctx.trains && !ctx.needsGrad(layer.inputs[0]);
    const scratch = layer.fusedAdd || sink ? elements(ctx, layer) * 4 : 0;
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
    if (ctx.mode === "eval" || ctx.frozenEval) {
      return planBatchNormEvalForward(ctx.rt, shapeOf(ctx, layer), common, opts);
    }
    const planned = await planBatchNormTrainForward(ctx.rt, shapeOf(ctx, layer), common, opts);
    ctx.stash.mean = planned.mean;
    ctx.stash.invstd = planned.invstd;
    return planned;
  },
  async backward(ctx, layer) {
    const node = bn(layer), m = ctx.model, p = node.name, x = layer.inputs[0];
    let dy = ctx.grad(layer.output)!;
    let dx = ctx.grad(x);
    const join: Planned[] = [];
    if (layer.fusedAdd) {
      // The join's one-pass backward: the skip branch's gradient where it belongs (when one
      // flows there), the batch norm's into scratch for the passes below.
      const skip = layer.inputs[1], dskip = ctx.grad(skip);
      const own = ctx.trains || dx !== null;
      const n = elements(ctx, layer), y = ctx.act(layer.output);
      const g = ctx.backwardScratch();
      if (dskip && own) {
        join.push(
          await planAddReluBackward(ctx.rt, n, { dy, y, da: g, db: dskip }, {
            accumulateB: ctx.accumulate(skip),
          }),
        );
      } else {
        join.push(
          await planReluBackward(ctx.rt, n, { dy, y, dx: own ? g : dskip! }, {
            accumulate: !own && ctx.accumulate(skip),
          }),
        );
      }
      if (!own) return join[0]; // frozen, and nothing below it trains: only the skip's gradient
      // The output gradient is spent once the join has run: it can take a dx nothing reads.
      dx ??= dy;
      dy = g;
    }
    let own: Planned;
    if (ctx.frozenEval) {
      own = await planBatchNormEvalBackward(ctx.rt, shapeOf(ctx, layer), {
        dy,
        x: ctx.act(x),
        runningMean: m.param(`${p}.running_mean`),
        runningVar: m.param(`${p}.running_var`),
        gamma: m.param(`${p}.weight`),
        beta: m.param(`${p}.bias`),
        dx: dx!,
      }, { eps: node.eps, relu: layer.fusedRelu, accumulate: ctx.accumulate(x) });
    } else {
      // A training batch norm over frozen layers: its dx goes to scratch, unread.
      const sink = dx === null;
      own = await planBatchNormBackward(ctx.rt, shapeOf(ctx, layer), {
        dy,
        x: ctx.act(x),
        gamma: m.param(`${p}.weight`),
        mean: ctx.stash.mean,
        invstd: ctx.stash.invstd,
        dx: dx ?? ctx.backwardScratch(),
        dgamma: m.grad(`${p}.weight`),
        dbeta: m.grad(`${p}.bias`),
        beta: layer.fusedRelu ? m.param(`${p}.bias`) : undefined,
      }, {
        relu: layer.fusedRelu,
        accumulate: !sink && ctx.grad(x) !== null && ctx.accumulate(x),
      });
    }
    return {
      steps: [...join.flatMap((j) => j.steps), ...own.steps],
      scratch: [...join.flatMap((j) => j.scratch), ...own.scratch],
    };
  },
};
