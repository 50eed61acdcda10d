/**
 * Which backward work a training step needs when some parameters are frozen (fine-tuning).
 *
 * A layer *trains* when one of its trainable parameters is not frozen. The gradient of a tensor t
 * is needed exactly when some layer that produced t, or anything t was computed from, trains: it
 * *flows* through t. A layer's backward runs exactly when the gradient flows through its output
 * (it trains, or the gradient must pass through it to a training layer below); it computes its
 * parameters' gradients only when it trains, and an input's gradient only when that flows. So
 * below the lowest training layer no backward runs and no gradient buffer exists, and frozen
 * layers above it pass the gradient on without their weight gradients.
 */
import type { Schedule } from "./schedule.ts";
import type { Layer } from "../layers/layer.ts";
import type { Graph, ParamSpec } from "../graph/ir.ts";

export interface GradientFlow {
  /** Per layer: whether its parameters get gradients. */
  trains: readonly boolean[];
  /** Per layer: whether its backward runs. */
  runs: readonly boolean[];
  /** Whether the gradient of tensor t is needed. */
  flows(t: number): boolean;
}

/** Trainable (non-statistic) parameters of the graph node a layer runs. */
export function layerParams(graph: Graph, layer: Layer): ParamSpec[] {
  const name = layer.node.name;
  if (!name) return [];
  return graph.params.filter((p) =>
    p.name.startsWith(`${name}.`) && p.name.lastIndexOf(".") === name.length &&
    p.kind !== "running_mean" && p.kind !== "running_var"
  );
}

/** The flow for `frozen` parameter names (none frozen: every layer with parameters trains). */
export function gradientFlow(s: Schedule, frozen: ReadonlySet<string> = new Set()): GradientFlow {
  const trains = s.layers.map((l) => layerParams(s.graph, l).some((p) => !frozen.has(p.name)));
  const flowing = new Set<number>();
  const runs = s.layers.map((l, i) => {
    // Layers are in forward order: every input's producer was decided before.
    const run = trains[i] || l.inputs.some((t) => flowing.has(t));
    if (run) flowing.add(l.output);
    return run;
  });
  return { trains, runs, flows: (t) => flowing.has(t) };
}

/**
 * The parameter names `freeze` selects in `params`: a list of name prefixes at module boundaries
 * (`"layer1"` freezes `layer1.0.conv1.weight`, not `layer10…`; a full name freezes that one
 * parameter), or `{ except }` to freeze everything those prefixes do not select. BN running
 * statistics are not parameters and are never listed. Throws naming a prefix that selects
 * nothing.
 */
export function frozenNames(
  params: readonly ParamSpec[],
  freeze: readonly string[] | { except: readonly string[] },
  model = "the model",
): Set<string> {
  const except = !Array.isArray(freeze);
  const prefixes = except ? (freeze as { except: readonly string[] }).except : freeze as string[];
  if (!Array.isArray(prefixes) || !prefixes.every((p) => typeof p === "string" && p !== "")) {
    throw new TypeError(
      "freeze must be a list of parameter name prefixes or { except: [prefixes] }",
    );
  }
  const trainable = params.filter((p) => p.kind !== "running_mean" && p.kind !== "running_var");
  const selects = (prefix: string, name: string) =>
    name === prefix || name.startsWith(`${prefix}.`);
  for (const prefix of prefixes) {
    if (!trainable.some((p) => selects(prefix, p.name))) {
      const modules = [...new Set(trainable.map((p) => p.name.split(".")[0]))];
      throw new RangeError(
        `freeze: "${prefix}" selects no parameter of ${model} (its top-level modules: ` +
          `${modules.join(", ")})`,
      );
    }
  }
  return new Set(
    trainable.filter((p) => prefixes.some((prefix) => selects(prefix, p.name)) !== except)
      .map((p) => p.name),
  );
}
