/** Fully connected layer, PyTorch layout (weight [out, in]). */
import { planLinearBackward, planLinearForward } from "../ops/linear.ts";
import type { LayerContext, LayerRule } from "./rule.ts";
import type { Layer } from "./layer.ts";

function linear(ctx: LayerContext, layer: Layer) {
  const node = layer.node;
  if (node.op !== "linear") throw new Error(`linear rule got ${node.op}`);
  const shape = {
    n: ctx.batch,
    inFeatures: ctx.shape(layer.inputs[0]).reduce((a, b) => a * b, 1),
    outFeatures: node.outFeatures,
  };
  return { node, shape };
}

export const linearRule: LayerRule = {
  // The weight gradient needs the input.
  backwardNeeds: () => ({ inputs: true, output: false }),
  // Frozen: dx = dy·W does not read x.
  keeps: (ctx) =>
    Promise.resolve(ctx.trains ? { savedBytes: 0 } : { savedBytes: 0, inputs: false }),
  forward(ctx, layer) {
    const { node, shape } = linear(ctx, layer);
    return planLinearForward(ctx.rt, shape, {
      x: ctx.act(layer.inputs[0]),
      weight: ctx.model.param(`${node.name}.weight`),
      bias: node.bias ? ctx.model.param(`${node.name}.bias`) : undefined,
      y: ctx.act(layer.output),
    });
  },
  backward(ctx, layer) {
    const { node, shape } = linear(ctx, layer);
    const x = layer.inputs[0];
    // Frozen weights get no gradient: only dx, when a layer below trains.
    return planLinearBackward(ctx.rt, shape, {
      dy: ctx.grad(layer.output)!,
      x: ctx.act(x),
      weight: ctx.model.param(`${node.name}.weight`),
      dx: ctx.grad(x) ?? undefined,
      dw: ctx.trains ? ctx.model.grad(`${node.name}.weight`) : undefined,
      db: ctx.trains && node.bias ? ctx.model.grad(`${node.name}.bias`) : undefined,
    }, { accumulateDx: ctx.accumulate(x) });
  },
};
