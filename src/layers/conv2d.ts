/** 2-D convolution (OIHW weights, optional bias): implicit-GEMM forward and GEMM backward. */
import {
  planConv2dBackwardData,
  planConv2dBackwardWeight,
  planConv2dForward,
  tunedConvOptions,
} from "../ops/conv2d.ts";
import type { Planned } from "../ops/plan.ts";
import type { LayerContext, LayerRule } from "./rule.ts";
import type { Layer } from "../scheduler/schedule.ts";

function conv(ctx: LayerContext, layer: Layer) {
  const node = layer.node;
  if (node.op !== "conv2d") throw new Error(`conv2d rule got ${node.op}`);
  const [c, h, w] = ctx.shape(layer.inputs[0]);
  const shape = {
    n: ctx.batch,
    c,
    h,
    w,
    k: node.outChannels,
    kh: node.kernel,
    kw: node.kernel,
    stride: node.stride,
    padding: node.padding,
  };
  return { node, shape };
}

export const conv2dRule: LayerRule = {
  savedBytes: () => 0,
  async forward(ctx, layer) {
    const { node, shape } = conv(ctx, layer);
    return planConv2dForward(ctx.rt, shape, {
      x: ctx.act(layer.inputs[0]),
      w: ctx.model.param(`${node.name}.weight`),
      bias: node.bias ? ctx.model.param(`${node.name}.bias`) : null,
      y: ctx.act(layer.output),
    }, await tunedConvOptions(ctx.rt, "forward", shape));
  },
  async backward(ctx, layer) {
    const { node, shape } = conv(ctx, layer);
    const x = layer.inputs[0], dy = ctx.grad(layer.output)!;
    const weight = await planConv2dBackwardWeight(ctx.rt, shape, {
      x: ctx.act(x),
      dy,
      dw: ctx.model.grad(`${node.name}.weight`),
      db: node.bias ? ctx.model.grad(`${node.name}.bias`) : undefined,
    }, await tunedConvOptions(ctx.rt, "backward_weight", shape));
    const dx = ctx.grad(x);
    if (!dx) return weight; // the network's input needs no gradient
    const data: Planned = await planConv2dBackwardData(
      ctx.rt,
      shape,
      {
        dy,
        w: ctx.model.param(`${node.name}.weight`),
        dx,
        // The filter gradient's steps run just before these and leave dy packed: no second pack.
        dyC4: weight.dyC4,
      },
      { accumulate: ctx.accumulate(x) },
      await tunedConvOptions(ctx.rt, "backward_data", shape),
    );
    return {
      steps: [...weight.steps, ...data.steps],
      scratch: [...weight.scratch, ...data.scratch],
    };
  },
};
