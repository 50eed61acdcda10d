/**
 * The paper's core experiment (§4.2, Figure 6): plain and residual nets (option A) of growing
 * depth trained with identical settings and seeds. Each run writes its own metrics.jsonl; the
 * study adds report.md, curves.svg (training error vs iteration) and gradients.svg (per-layer
 * gradient norm early in training, plain vs residual at the largest depth).
 */
import { type RunHooks, type RunSummary, type TrainConfig, trainRun } from "../app/run.ts";
import { readMetrics } from "../app/metrics_log.ts";
import { layerNormChart, lineChart, type Series, studyStyle } from "../app/plots.ts";
import { formatDuration, stdoutSink } from "../app/progress.ts";
import { checkSameSettings } from "../app/settings.ts";

/** He et al. 2015, Table 6: CIFAR-10 test error (%) of the residual nets, for reference. */
export const PAPER_RESNET_ERROR: Record<number, number> = {
  20: 8.75,
  32: 7.51,
  44: 7.17,
  56: 6.97,
  110: 6.43,
};

export const NETS = ["plain", "resnet"] as const;

export interface StudyConfig {
  data: string;
  depths: number[];
  epochs: number;
  subset?: number;
  testSubset?: number;
  batch: number;
  lr: number;
  seed: number;
  out: string;
  /** Gradient-norm capture interval (steps) for the gradient picture. */
  gradNormEvery: number;
  /**
   * Linear warm-up steps from lr/10 (the paper warms ResNet-110 up at 0.01 because 0.1 is too
   * large to start converging; deep nets on few steps need the same).
   */
  warmup: number;
  /**
   * Which nets to train at each depth (default both). Residual nets alone answer "does
   * ResNet-56 catch up with ResNet-20, and when?" in half the time of the full study.
   */
  nets?: readonly ("plain" | "resnet")[];
  /**
   * Continue a study in `out` that was interrupted: nets that finished are read back instead
   * of retrained, an unfinished one continues from its last checkpoint (the training job's
   * resume, which repeats the uninterrupted run exactly). Refused when a net's saved settings
   * differ from this study's.
   */
  resume?: boolean;
}

/** A study stopped by Ctrl-C (or a test's stop hook) after checkpointing the net it was training. */
export class StudyInterrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StudyInterrupted";
  }
}

export interface StudyHooks extends Pick<RunHooks, "runtime" | "sink" | "tty" | "handleSigint"> {
  /** Stop the named net after this many epochs, as Ctrl-C would (tests of resuming). */
  stopAt?: { net: string; epochs: number };
}

export interface StudyRun {
  depth: number;
  residual: boolean;
  name: string;
  summary: RunSummary;
  /** Training error (%) averaged over the last 10% of logged windows. */
  finalTrainError: number;
}

function runConfig(s: StudyConfig, model: string): TrainConfig {
  return {
    model,
    shortcut: model.startsWith("resnet") ? "A" : undefined,
    data: s.data,
    epochs: s.epochs,
    batch: s.batch,
    evalBatch: 250,
    optimizer: "sgd",
    lr: s.lr,
    momentum: 0.9,
    nesterov: false,
    wd: 1e-4, // the paper's CIFAR setting
    schedule: "step",
    warmup: s.warmup,
    subset: s.subset,
    testSubset: s.testSubset,
    seed: s.seed,
    out: `${s.out}/${model}`,
    evalEvery: 1,
    augment: true,
    logEvery: 10,
    gradNormEvery: s.gradNormEvery,
  };
}

type Rec = Record<string, unknown>;

function readJson(path: string): Rec | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/** Throws, naming the setting, when the run in `cfg.out` was made with other settings. */
function checkSavedSettings(cfg: TrainConfig): void {
  const saved = readJson(`${cfg.out}/config.json`);
  if (!saved) throw new Error(`${cfg.out}: no config.json, so it cannot be resumed`);
  checkSameSettings(
    saved,
    cfg as unknown as Record<string, unknown>,
    cfg.out,
    "resume with the same settings, or use another --out",
    { nowLabel: "this study" },
  );
}

/** With --resume: a finished net's summary, or the checkpoint an unfinished one continues from. */
function resumePoint(cfg: TrainConfig): { done: RunSummary } | { checkpoint?: string } {
  const summary = readJson(`${cfg.out}/summary.json`) as RunSummary | null;
  const checkpoint = `${cfg.out}/checkpoint.safetensors`;
  let hasCheckpoint = true;
  try {
    Deno.statSync(checkpoint);
  } catch {
    hasCheckpoint = false;
  }
  if (!summary && !hasCheckpoint) return {};
  checkSavedSettings(cfg);
  if (summary?.stopped === "finished") return { done: summary };
  return hasCheckpoint ? { checkpoint } : {};
}

function trainErrorSeries(out: string): [number, number][] {
  return readMetrics(`${out}/metrics.jsonl`)
    .filter((r: Rec) => r.type === "train")
    .map((r: Rec) => [r.step as number, 100 * (1 - (r.accuracy as number))]);
}

export async function runDegradationStudy(
  s: StudyConfig,
  hooks: StudyHooks = {},
): Promise<StudyRun[]> {
  await Deno.mkdir(s.out, { recursive: true });
  const runs: StudyRun[] = [];
  const kinds = [false, true].filter((res) => (s.nets ?? NETS).includes(res ? "resnet" : "plain"));
  if (!kinds.length) throw new Error("degradation: nets must name plain, resnet or both");
  const plan = s.depths.flatMap((depth) => kinds.map((residual) => ({ depth, residual })));
  const say = (m: string) => (hooks.sink ?? stdoutSink)(`study: ${m}\n`);
  // Study ETA: a net's time grows with its depth (same budget for all), so seconds per layer
  // measured on the nets trained so far, times the layers left.
  let trainedSeconds = 0, trainedLayers = 0;
  for (const [i, { depth, residual }] of plan.entries()) {
    const name = `${residual ? "resnet" : "plain"}${depth}`;
    say(`net ${i + 1}/${plan.length}: ${name}`);
    const t0 = performance.now();
    const cfg = runConfig(s, name);
    const from = s.resume ? resumePoint(cfg) : {};
    const { stopAt, ...runHooks } = hooks;
    const summary = "done" in from ? from.done : await trainRun({
      ...cfg,
      resume: from.checkpoint,
    }, { ...runHooks, stopAfterEpochs: stopAt?.net === name ? stopAt.epochs : undefined });
    if (summary.stopped === "interrupted") {
      throw new StudyInterrupted(
        `${name} stopped at step ${summary.steps} (checkpointed): run the same command with ` +
          "--resume to continue the study",
      );
    }
    if (!("done" in from)) {
      trainedSeconds += (performance.now() - t0) / 1000;
      trainedLayers += depth;
    }
    const left = plan.slice(i + 1).reduce((a, r) => a + r.depth, 0);
    if (left > 0 && trainedLayers > 0) {
      say(
        `${name} ${"done" in from ? "read back" : "done"}; about ` +
          `${formatDuration(trainedSeconds / trainedLayers * left)} left for ` +
          `${plan.length - i - 1} net(s)`,
      );
    }
    const errs = trainErrorSeries(summary.out).map(([, e]) => e);
    const tail = errs.slice(-Math.max(1, Math.ceil(errs.length / 10)));
    runs.push({
      depth,
      residual,
      name,
      summary,
      finalTrainError: tail.reduce((a, b) => a + b, 0) / tail.length,
    });
  }
  await writeStudyOutputs(s, runs);
  return runs;
}

async function writeStudyOutputs(s: StudyConfig, runs: StudyRun[]): Promise<void> {
  const series: Series[] = runs.map((r) => ({
    name: r.name,
    points: trainErrorSeries(r.summary.out),
    ...studyStyle(s.depths.indexOf(r.depth), r.residual),
  }));
  await Deno.writeTextFile(
    `${s.out}/curves.svg`,
    lineChart({
      title: `Training error on ${s.data}: plain (dashed) vs residual (solid)`,
      xLabel: "iteration",
      yLabel: "training error (%)",
      series,
    }),
  );

  const deepest = Math.max(...s.depths);
  const early = (r: StudyRun) => {
    const first = readMetrics(`${r.summary.out}/metrics.jsonl`).find((x: Rec) =>
      x.type === "grad_norms"
    );
    return first ? { step: first.step as number, norms: first.norms as number[] } : null;
  };
  const gradSeries = runs.filter((r) => r.depth === deepest).flatMap((r) => {
    const e = early(r);
    return e
      ? [{ name: `${r.name} (step ${e.step})`, norms: e.norms, ...studyStyle(0, r.residual) }]
      : [];
  });
  if (gradSeries.length) {
    await Deno.writeTextFile(
      `${s.out}/gradients.svg`,
      layerNormChart({
        title: `Gradient L2 norm per weight layer early in training, depth ${deepest}`,
        series: gradSeries,
      }),
    );
  }
  await Deno.writeTextFile(`${s.out}/report.md`, report(s, runs));
  await Deno.writeTextFile(
    `${s.out}/summary.json`,
    JSON.stringify(
      runs.map((r) => ({
        name: r.name,
        depth: r.depth,
        residual: r.residual,
        finalTrainError: r.finalTrainError,
        testError: 100 * (1 - r.summary.testAccuracy),
        parameters: r.summary.parameters,
        imagesPerSec: r.summary.imagesPerSec,
        steps: r.summary.steps,
      })),
      null,
      2,
    ) + "\n",
  );
}

function report(s: StudyConfig, runs: StudyRun[]): string {
  const pct = (v: number) => Number.isFinite(v) ? v.toFixed(2) : "–";
  const lines = [
    `# Degradation study on ${s.data}`,
    "",
    `Budget: ${s.epochs} epoch(s) of ${s.subset ?? "all"} training images, batch ${s.batch}, ` +
    `SGD lr ${s.lr} (×0.1 at 50% and 75%, linear warm-up over ${s.warmup} steps), momentum 0.9, ` +
    `weight decay 1e-4, seed ${s.seed}; ` +
    "residual nets use option-A shortcuts" +
    (s.nets && s.nets.length === 1 ? ` (${s.nets[0]} nets only, --nets)` : "") +
    ". Training error is the mean of the last 10% of " +
    "logged windows (each the running accuracy over 10 steps).",
    "",
    "| depth | plain train err % | residual train err % | plain test err % | residual test err % " +
    "| plain params | residual params | plain img/s | residual img/s | paper ResNet (CIFAR-10) test err % |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const testErr = (r?: StudyRun) => pct(r ? 100 * (1 - r.summary.testAccuracy) : NaN);
  const params = (r?: StudyRun) => r?.summary.parameters.toLocaleString("en") ?? "–";
  const speed = (r?: StudyRun) => r?.summary.imagesPerSec.toFixed(1) ?? "–";
  for (const d of s.depths) {
    // A net left out with --nets shows as "–".
    const p = runs.find((r) => r.depth === d && !r.residual);
    const r = runs.find((x) => x.depth === d && x.residual);
    lines.push(
      `| ${d} | ${pct(p?.finalTrainError ?? NaN)} | ${pct(r?.finalTrainError ?? NaN)} | ` +
        `${testErr(p)} | ${testErr(r)} | ${params(p)} | ${params(r)} | ${speed(p)} | ` +
        `${speed(r)} | ${PAPER_RESNET_ERROR[d] ?? "–"} |`,
    );
  }
  const [lo, hi] = [Math.min(...s.depths), Math.max(...s.depths)];
  const get = (d: number, res: boolean) =>
    runs.find((r) => r.depth === d && r.residual === res)?.finalTrainError ?? NaN;
  lines.push("", "## What this run shows", "");
  const trained = (res: boolean) => runs.some((r) => r.residual === res);
  if (lo !== hi && trained(false)) {
    lines.push(
      `- plain-${hi} vs plain-${lo} training error: ${pct(get(hi, false))}% vs ${
        pct(get(lo, false))
      }% — ${
        get(hi, false) > get(lo, false)
          ? "the deeper plain net trains worse (degradation)"
          : "no degradation at this budget"
      }.`,
    );
  }
  if (lo !== hi && trained(true)) {
    lines.push(
      `- resnet-${hi} vs resnet-${lo}: ${pct(get(hi, true))}% vs ${pct(get(lo, true))}% — ${
        get(hi, true) <= get(lo, true)
          ? "the deeper residual net trains at least as well"
          : "the deeper residual net has not caught up at this budget"
      }.`,
    );
  }
  lines.push(
    "",
    "The paper (Figure 6, CIFAR-10): plain nets' training error rises with depth (20 → 56), " +
      "residual nets' falls. Its ResNet test errors are listed for reference; they come from " +
      "64k iterations on CIFAR-10 and are not comparable to a short run on another data set.",
    "",
    "Pictures: `curves.svg` (training error vs iteration; plain dashed, residual solid, one " +
      "colour per depth) and `gradients.svg` (gradient norm per layer early in training).",
    "",
  );
  return lines.join("\n");
}
