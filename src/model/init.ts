/**
 * Parameter initialization, as torchvision's ResNet does it: convolutions Kaiming-normal with
 * fan-out and ReLU gain (std = √(2 / (out·kh·kw))), conv biases zero, batch norm γ = 1, β = 0,
 * running mean 0 and variance 1, linear layers PyTorch's default (weights and bias uniform in
 * ±1/√fan_in). Deterministic from the seed and the parameter's name, so adding a layer does not
 * reshuffle the others.
 */
import type { Graph, ParamSpec } from "../graph/ir.ts";
import { Rng } from "../util/rng.ts";

function nameHash(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

export function initParameter(p: ParamSpec, graphParams: readonly ParamSpec[], seed: number) {
  const n = p.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const rng = new Rng(seed, nameHash(p.name));
  switch (p.kind) {
    case "bn_weight":
    case "running_var":
      out.fill(1);
      break;
    case "bn_bias":
    case "running_mean":
      break;
    case "weight": {
      if (p.shape.length === 4) {
        const [o, , kh, kw] = p.shape;
        const std = Math.sqrt(2 / (o * kh * kw));
        for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
      } else {
        const bound = 1 / Math.sqrt(p.shape[1]);
        for (let i = 0; i < n; i++) out[i] = rng.uniform(-bound, bound);
      }
      break;
    }
    case "bias": {
      const module = p.name.slice(0, p.name.lastIndexOf("."));
      const w = graphParams.find((q) => q.name === `${module}.weight`);
      if (w && w.shape.length === 2) {
        const bound = 1 / Math.sqrt(w.shape[1]);
        for (let i = 0; i < n; i++) out[i] = rng.uniform(-bound, bound);
      }
      break;
    }
  }
  return out;
}

/** Every parameter and BN buffer of `graph`, by torchvision name. */
export function initParameters(graph: Graph, seed: number): Map<string, Float32Array> {
  return new Map(graph.params.map((p) => [p.name, initParameter(p, graph.params, seed)]));
}
