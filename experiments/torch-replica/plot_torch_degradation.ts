/**
 * Draws curves.svg for a experiments/torch-replica/torch_degradation.py run in the study's own style (one colour per
 * depth, plain dashed, residual solid), so the PyTorch replica's curves read like resgpu's.
 *
 *   deno run --allow-read --allow-write experiments/torch-replica/plot_torch_degradation.ts DIR
 */
import { lineChart, type Series, studyStyle } from "../../src/app/plots.ts";

const dir = Deno.args[0];
if (!dir) {
  console.error(
    "usage: plot_torch_degradation.ts DIR (a experiments/torch-replica/torch_degradation.py --out)",
  );
  Deno.exit(2);
}
const results = JSON.parse(await Deno.readTextFile(`${dir}/results.json`));
const depths = [...new Set(results.runs.map((r: { depth: number }) => r.depth))] as number[];
const series: Series[] = [];
for (const run of results.runs as { net: string; depth: number; residual: boolean }[]) {
  const lines = (await Deno.readTextFile(`${dir}/${run.net}.jsonl`)).trim().split("\n");
  const points = lines.map((l) => JSON.parse(l)).filter((r) => "train_error" in r)
    .map((r) => [r.step, r.train_error] as const);
  series.push({ name: run.net, points, ...studyStyle(depths.indexOf(run.depth), run.residual) });
}
const iterations = Math.max(...results.runs.map((r: { iterations: number }) => r.iterations));
await Deno.writeTextFile(
  `${dir}/curves.svg`,
  lineChart({
    title: `PyTorch replica, Fashion-MNIST, ${iterations} iterations: training error`,
    xLabel: "iteration",
    yLabel: "training error (%)",
    series,
  }),
);
console.log(`${dir}/curves.svg`);
