/** The rule for each op: where the scheduler finds how a layer runs forward and backward. */
import type { OpName } from "../graph/ir.ts";
import { type BackwardNeeds, type Layer, READS_NOTHING } from "./layer.ts";
import type { LayerRule } from "./rule.ts";
import { conv2dRule } from "./conv2d.ts";
import { batchnormRule } from "./batchnorm.ts";
import { adaptiveAvgpoolRule, avgpoolRule, maxpoolRule } from "./pool.ts";
import { linearRule } from "./linear.ts";
import { addReluRule, reluRule, shortcutARule } from "./elementwise.ts";
import { dropoutRule } from "./dropout.ts";

const RULES: Partial<Record<OpName, LayerRule>> = {
  conv2d: conv2dRule,
  batchnorm: batchnormRule,
  maxpool: maxpoolRule,
  avgpool: avgpoolRule,
  adaptive_avgpool: adaptiveAvgpoolRule,
  linear: linearRule,
  relu: reluRule,
  add_relu: addReluRule,
  shortcut_a: shortcutARule,
  dropout: dropoutRule,
};

export function ruleFor(layer: Layer): LayerRule {
  const r = RULES[layer.node.op];
  // input and flatten never reach here: the schedule removes them.
  if (!r) throw new Error(`no GPU rule for op ${layer.node.op} (${layer.node.name})`);
  return r;
}

/** What `layer`'s backward reads besides its output gradient, as its rule declares. */
export function backwardNeeds(layer: Layer): BackwardNeeds {
  return ruleFor(layer).backwardNeeds?.(layer) ?? READS_NOTHING;
}
