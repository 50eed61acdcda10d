/** 2-D convolution (OIHW weights, optional bias): implicit-GEMM forward and GEMM backward. */
import {
  type Conv2dShape,
  planConv2dBackwardData,
  planConv2dBackwardWeight,
  planConv2dForward,
  plannedWinogradTile,
  tunedConvOptions,
  winogradInputBytes,
} from "../ops/conv2d/mod.ts";
import type { Planned } from "../gpu/plan.ts";
import type { LayerContext, LayerRule, PlanningContext } from "./rule.ts";
import type { Layer } from "./layer.ts";

function conv(ctx: PlanningContext, layer: Layer) {
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

/**
 * Bytes of the input transform this layer keeps from forward to filter gradient in training, or
 * 0: kept when the policy allows it and both directions plan the same Winograd tile. Forward,
 * backward and the memory plan all ask this, so they agree.
 */
async function keptTransformBytes(ctx: PlanningContext, shape: Conv2dShape): Promise<number> {
  const rt = ctx.rt;
  if (!rt.policy.winogradKeepInput) return 0;
  const fwd = plannedWinogradTile(
    rt,
    "forward",
    shape,
    await tunedConvOptions(rt, "forward", shape),
  );
  const dw = plannedWinogradTile(
    rt,
    "backward_weight",
    shape,
    await tunedConvOptions(rt, "backward_weight", shape),
  );
  return fwd && fwd === dw ? winogradInputBytes(shape, fwd) : 0;
}

/** The kept input transform's buffer (training, when one is kept), else undefined. */
async function keptTransform(ctx: LayerContext, shape: Conv2dShape) {
  if (ctx.mode !== "train" || !ctx.trains) return undefined;
  return await keptTransformBytes(ctx, shape) ? ctx.saved() : undefined;
}

export const conv2dRule: LayerRule = {
  // The weight gradient needs the input.
  backwardNeeds: () => ({ inputs: true, output: false }),
  async keeps(ctx, layer) {
    // Frozen: the backward only passes dy through the weights to dx, which does not read x.
    if (!ctx.trains) return { savedBytes: 0, inputs: false };
    const bytes = await keptTransformBytes(ctx, conv(ctx, layer).shape);
    // With the transform kept, the filter gradient no longer reads x.
    return bytes ? { savedBytes: bytes, inputs: false } : { savedBytes: 0 };
  },
  async forward(ctx, layer) {
    const { node, shape } = conv(ctx, layer);
    return planConv2dForward(ctx.rt, shape, {
      x: ctx.act(layer.inputs[0]),
      w: ctx.model.param(`${node.name}.weight`),
      bias: node.bias ? ctx.model.param(`${node.name}.bias`) : null,
      y: ctx.act(layer.output),
      winogradV: await keptTransform(ctx, shape),
    }, await tunedConvOptions(ctx.rt, "forward", shape));
  },
  async backward(ctx, layer) {
    const { node, shape } = conv(ctx, layer);
    const x = layer.inputs[0], dy = ctx.grad(layer.output)!;
    const v = await keptTransform(ctx, shape);
    // Frozen weights get no gradient: only dx, when a layer below trains.
    const weight = ctx.trains
      ? await planConv2dBackwardWeight(ctx.rt, shape, {
        // x's buffer may hold another tensor by now when the transform was kept.
        x: v ? null : ctx.act(x),
        dy,
        dw: ctx.model.grad(`${node.name}.weight`),
        db: node.bias ? ctx.model.grad(`${node.name}.bias`) : undefined,
        winogradV: v,
      }, await tunedConvOptions(ctx.rt, "backward_weight", shape))
      : null;
    const dx = ctx.grad(x);
    if (!dx) return weight ?? { steps: [], scratch: [] }; // no layer below trains
    const data: Planned = await planConv2dBackwardData(
      ctx.rt,
      shape,
      {
        dy,
        w: ctx.model.param(`${node.name}.weight`),
        dx,
        // The filter gradient's steps run just before these and leave dy packed: no second pack.
        dyC4: weight?.dyC4,
      },
      { accumulate: ctx.accumulate(x) },
      await tunedConvOptions(ctx.rt, "backward_data", shape),
    );
    return {
      steps: [...(weight?.steps ?? []), ...data.steps],
      scratch: [...(weight?.scratch ?? []), ...data.scratch],
    };
  },
};
