/** The SVG plots of a run, redrawn from its metrics records after every epoch. */
import { layerNormChart, lineChart, type Point } from "./plots.ts";
import type { MetricsRecord } from "./metrics_log.ts";

function points(records: MetricsRecord[], type: string, field: string): Point[] {
  return records
    .filter((r) => r.type === type && typeof r[field] === "number")
    .map((r) => [r.step as number, r[field] as number]);
}

export async function writeRunPlots(out: string, records: MetricsRecord[]): Promise<void> {
  await Deno.writeTextFile(
    `${out}/loss.svg`,
    lineChart({
      title: "Loss",
      xLabel: "step",
      yLabel: "cross-entropy",
      logY: true,
      series: [
        { name: "train", points: points(records, "train", "loss") },
        { name: "test", points: points(records, "eval", "loss") },
      ],
    }),
  );
  const err = (p: Point[]): Point[] => p.map(([x, a]) => [x, 100 * (1 - a)]);
  await Deno.writeTextFile(
    `${out}/error.svg`,
    lineChart({
      title: "Error",
      xLabel: "step",
      yLabel: "error (%)",
      series: [
        { name: "train", points: err(points(records, "train", "accuracy")) },
        { name: "test", points: err(points(records, "eval", "accuracy")) },
      ],
    }),
  );
  const norms = records.filter((r) => r.type === "grad_norms");
  if (norms.length) {
    // First, middle and last capture: how the per-layer picture evolves.
    const picks = [...new Set([0, Math.floor((norms.length - 1) / 2), norms.length - 1])];
    await Deno.writeTextFile(
      `${out}/grad_norms.svg`,
      layerNormChart({
        title: "Gradient L2 norm per weight layer",
        series: picks.map((i) => ({
          name: `step ${norms[i].step}`,
          norms: norms[i].norms as number[],
        })),
      }),
    );
  }
}
