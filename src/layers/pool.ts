/** Max, average, global-average and adaptive-average pooling. */
import {
  planAdaptiveAvgPool2dBackward,
  planAdaptiveAvgPool2dForward,
  planAvgPool2dBackward,
  planAvgPool2dForward,
  planGlobalAvgPoolBackward,
  planGlobalAvgPoolForward,
  planMaxPool2dBackward,
  planMaxPool2dForward,
} from "../ops/pool.ts";
import type { Planned } from "../gpu/plan.ts";
import type { LayerContext, LayerRule } from "./rule.ts";
import type { Layer } from "./layer.ts";

function plane(ctx: LayerContext, layer: Layer) {
  const [c, h, w] = ctx.shape(layer.inputs[0]);
  return { n: ctx.batch, c, h, w };
}

function windowShape(ctx: LayerContext, layer: Layer) {
  const node = layer.node;
  if (node.op !== "maxpool" && node.op !== "avgpool") throw new Error(`not a pool: ${node.op}`);
  return { ...plane(ctx, layer), kernel: node.kernel, stride: node.stride, padding: node.padding };
}

/** Both directions' buffers: the rule decides which op family handles the node. */
function io(ctx: LayerContext, layer: Layer) {
  const x = layer.inputs[0];
  return {
    x: ctx.act(x),
    y: ctx.act(layer.output),
    dy: () => ctx.grad(layer.output)!,
    dx: ctx.grad(x),
    accumulate: ctx.accumulate(x),
  };
}

const none: Planned = { steps: [], scratch: [] };

export const maxpoolRule: LayerRule = {
  // The op owns its argmax buffer.
  async forward(ctx, layer) {
    const b = io(ctx, layer);
    const p = await planMaxPool2dForward(ctx.rt, windowShape(ctx, layer), { x: b.x, y: b.y });
    ctx.stash.argmax = p.argmax;
    return p;
  },
  backward(ctx, layer) {
    const b = io(ctx, layer);
    if (!b.dx) return Promise.resolve(none);
    return planMaxPool2dBackward(ctx.rt, windowShape(ctx, layer), {
      dy: b.dy(),
      argmax: ctx.stash.argmax,
      dx: b.dx,
    }, { accumulate: b.accumulate });
  },
};

export const avgpoolRule: LayerRule = {
  forward(ctx, layer) {
    const b = io(ctx, layer);
    return planAvgPool2dForward(ctx.rt, windowShape(ctx, layer), { x: b.x, y: b.y });
  },
  backward(ctx, layer) {
    const b = io(ctx, layer);
    if (!b.dx) return Promise.resolve(none);
    return planAvgPool2dBackward(ctx.rt, windowShape(ctx, layer), { dy: b.dy(), dx: b.dx }, {
      accumulate: b.accumulate,
    });
  },
};

/** Adaptive pooling; the 1×1 case (ResNet's head) uses the global-average kernels. */
export const adaptiveAvgpoolRule: LayerRule = {
  forward(ctx, layer) {
    const node = layer.node, b = io(ctx, layer);
    if (node.op !== "adaptive_avgpool") throw new Error(`not adaptive: ${node.op}`);
    if (node.outH === 1 && node.outW === 1) {
      return planGlobalAvgPoolForward(ctx.rt, plane(ctx, layer), { x: b.x, y: b.y });
    }
    return planAdaptiveAvgPool2dForward(ctx.rt, {
      ...plane(ctx, layer),
      oh: node.outH,
      ow: node.outW,
    }, { x: b.x, y: b.y });
  },
  backward(ctx, layer) {
    const node = layer.node, b = io(ctx, layer);
    if (node.op !== "adaptive_avgpool") throw new Error(`not adaptive: ${node.op}`);
    if (!b.dx) return Promise.resolve(none);
    const opts = { accumulate: b.accumulate };
    if (node.outH === 1 && node.outW === 1) {
      return planGlobalAvgPoolBackward(ctx.rt, plane(ctx, layer), { dy: b.dy(), dx: b.dx }, opts);
    }
    return planAdaptiveAvgPool2dBackward(
      ctx.rt,
      {
        ...plane(ctx, layer),
        oh: node.outH,
        ow: node.outW,
      },
      { dy: b.dy(), dx: b.dx },
      opts,
    );
  },
};
