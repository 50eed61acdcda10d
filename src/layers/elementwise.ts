/** ReLU, the residual join relu(a + b) and the option-A shortcut: memory-bound elementwise ops. */
import { planReluBackward, planReluForward } from "../ops/activation.ts";
import { planAddReluBackward, planAddReluForward } from "../ops/residual.ts";
import { planShortcutABackward, planShortcutAForward } from "../ops/shortcut.ts";
import type { Planned } from "../gpu/plan.ts";
import type { LayerContext, LayerRule } from "./rule.ts";
import type { Layer } from "./layer.ts";

const none: Planned = { steps: [], scratch: [] };

function count(ctx: LayerContext, t: number): number {
  return ctx.batch * ctx.shape(t).reduce((a, b) => a * b, 1);
}

export const reluRule: LayerRule = {
  // The mask is the output's sign.
  backwardNeeds: () => ({ inputs: false, output: true }),
  forward(ctx, layer) {
    return planReluForward(ctx.rt, count(ctx, layer.output), {
      x: ctx.act(layer.inputs[0]),
      y: ctx.act(layer.output),
    });
  },
  backward(ctx, layer) {
    const x = layer.inputs[0], dx = ctx.grad(x);
    if (!dx) return Promise.resolve(none);
    return planReluBackward(ctx.rt, count(ctx, layer.output), {
      dy: ctx.grad(layer.output)!,
      y: ctx.act(layer.output),
      dx,
    }, { accumulate: ctx.accumulate(x) });
  },
};

/** The residual join: backward writes the masked gradient to both branches in one pass. */
export const addReluRule: LayerRule = {
  // The mask is the output's sign.
  backwardNeeds: () => ({ inputs: false, output: true }),
  forward(ctx, layer) {
    const [a, b] = layer.inputs;
    return planAddReluForward(ctx.rt, count(ctx, layer.output), {
      a: ctx.act(a),
      b: ctx.act(b),
      y: ctx.act(layer.output),
    });
  },
  backward(ctx, layer) {
    const [a, b] = layer.inputs;
    const da = ctx.grad(a), db = ctx.grad(b);
    // One branch below every training layer (or the network input): the join's gradient is the
    // ReLU's, into the other branch alone.
    if (!da || !db) {
      const [t, dt] = da ? [a, da] : [b, db!];
      return planReluBackward(ctx.rt, count(ctx, layer.output), {
        dy: ctx.grad(layer.output)!,
        y: ctx.act(layer.output),
        dx: dt,
      }, { accumulate: ctx.accumulate(t) });
    }
    return planAddReluBackward(ctx.rt, count(ctx, layer.output), {
      dy: ctx.grad(layer.output)!,
      y: ctx.act(layer.output),
      da,
      db,
    }, { accumulateA: ctx.accumulate(a), accumulateB: ctx.accumulate(b) });
  },
};

function shortcutShape(ctx: LayerContext, layer: Layer) {
  const node = layer.node;
  if (node.op !== "shortcut_a") throw new Error(`shortcut rule got ${node.op}`);
  const [c, h, w] = ctx.shape(layer.inputs[0]);
  return { n: ctx.batch, c, h, w, k: node.outChannels, stride: node.stride };
}

export const shortcutARule: LayerRule = {
  forward(ctx, layer) {
    return planShortcutAForward(ctx.rt, shortcutShape(ctx, layer), {
      x: ctx.act(layer.inputs[0]),
      y: ctx.act(layer.output),
    });
  },
  backward(ctx, layer) {
    const x = layer.inputs[0], dx = ctx.grad(x);
    if (!dx) return Promise.resolve(none);
    return planShortcutABackward(ctx.rt, shortcutShape(ctx, layer), {
      dy: ctx.grad(layer.output)!,
      dx,
    }, { accumulate: ctx.accumulate(x) });
  },
};
