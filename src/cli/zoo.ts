/**
 * `deno task zoo [--json]`: size and cost of every registered model at its default input, so
 * budgets (memory, step time) can be estimated before anything runs on a GPU.
 */

import { countMacs, countParameters } from "../graph/ir.ts";
import {
  buildModel,
  countMainPathLayers,
  countProjectionLayers,
  listModels,
  modelInfo,
} from "../zoo/registry.ts";

export interface ZooRow {
  name: string;
  family: string;
  inputShape: number[];
  classes: number;
  params: number;
  /** Main-path weight layers, the paper's depth. */
  weightLayers: number;
  /** 1×1 projection-shortcut convs, not counted in the depth. */
  projections: number;
  macs: number;
}

export function zooRows(): ZooRow[] {
  return listModels().map((name) => {
    const info = modelInfo(name), g = buildModel(name);
    return {
      name,
      family: info.family,
      inputShape: [...info.inputShape],
      classes: info.classes,
      params: countParameters(g),
      weightLayers: countMainPathLayers(g),
      projections: countProjectionLayers(g),
      macs: countMacs(g),
    };
  });
}

const group = (n: number) => n.toLocaleString("en-US");

export function formatTable(rows: ZooRow[]): string {
  const header = ["model", "family", "input", "classes", "params", "layers", "proj", "GMACs"];
  const cells = rows.map((r) => [
    r.name,
    r.family,
    r.inputShape.join("×"),
    String(r.classes),
    group(r.params),
    String(r.weightLayers),
    String(r.projections),
    (r.macs / 1e9).toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  // Text columns read left to right; numbers line up on their last digit.
  const line = (c: string[]) =>
    c.map((s, i) => i < 3 ? s.padEnd(widths[i]) : s.padStart(widths[i])).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...cells.map(line)].join("\n");
}

if (import.meta.main) {
  const args = Deno.args;
  const unknown = args.filter((a) => a !== "--json");
  if (unknown.length > 0) {
    console.error(`unknown argument ${unknown[0]}\nusage: deno task zoo [--json]`);
    Deno.exit(2);
  }
  const rows = zooRows();
  console.log(args.includes("--json") ? JSON.stringify(rows, null, 2) : formatTable(rows));
}
