/** Dropout in training (eval mode makes it a view; see schedule.ts). */
import { planDropout } from "../ops/dropout.ts";
import type { LayerContext, LayerRule } from "./rule.ts";
import type { Layer } from "./layer.ts";

function args(ctx: LayerContext, layer: Layer) {
  if (layer.node.op !== "dropout") throw new Error(`dropout rule got ${layer.node.op}`);
  const n = ctx.batch * ctx.shape(layer.output).reduce((a, b) => a * b, 1);
  const seed = ctx.stepSeed();
  return { n, p: layer.node.p, seed, salt: layer.node.id };
}

export const dropoutRule: LayerRule = {
  forward(ctx, layer) {
    const { n, p, seed, salt } = args(ctx, layer);
    return planDropout(ctx.rt, n, p, salt, {
      seed,
      src: ctx.act(layer.inputs[0]),
      dst: ctx.act(layer.output),
    });
  },
  backward(ctx, layer) {
    const { n, p, seed, salt } = args(ctx, layer);
    const x = layer.inputs[0], dx = ctx.grad(x);
    if (!dx) return Promise.resolve({ steps: [], scratch: [] });
    if (ctx.accumulate(x)) throw new Error(`${layer.node.name}: dropout input with two consumers`);
    return planDropout(ctx.rt, n, p, salt, { seed, src: ctx.grad(layer.output)!, dst: dx });
  },
};
