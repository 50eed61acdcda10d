/**
 * Training and inference throughput of one model on one runtime: first step (plan + compile +
 * run) timed apart, then the median of several timed windows of steady-state steps, each window
 * ending in one wait for the GPU.
 */
import { median } from "./stats.ts";
import type { Runtime } from "../src/gpu/runtime.ts";
import { buildModel, type ModelOptions } from "../src/zoo/registry.ts";
import { Model } from "../src/model/model.ts";
import { Trainer } from "../src/train/trainer.ts";
import { buildStepPlan } from "../src/scheduler/step_plan.ts";

export interface ThroughputResult {
  model: string;
  input: string;
  batch: number;
  firstStepMs: number;
  trainImagesPerSec: number;
  trainStepMsMin: number;
  forwardImagesPerSec: number;
  plannedTrainBytes: number;
  plannedInferBytes: number;
  /** The runtime's shared scratch (packed operands, Winograd tiles) after planning, all models so far. */
  sharedScratchBytes: number;
  parameterBytes: number;
}

/** A window this long makes the one completion wait that ends it (≥ 10 ms in Deno) noise. */
const WINDOW_TARGET_MS = 1000;

/**
 * Per-step milliseconds of `windows` timed windows, each ending in one `wait`. Unless `per` is
 * given, the first window runs 2 steps and sizes the rest to about WINDOW_TARGET_MS, so a fast
 * GPU is not timed by Deno's completion latency and a software one is not kept for minutes.
 */
async function timeWindows(
  windows: number,
  per: number | undefined,
  step: () => void,
  wait: () => Promise<unknown>,
): Promise<number[]> {
  const ms: number[] = [];
  let n = per ?? 2;
  for (let wdx = 0; wdx < windows; wdx++) {
    const s = performance.now();
    for (let i = 0; i < n; i++) step();
    await wait();
    ms.push((performance.now() - s) / n);
    if (per === undefined) n = Math.min(256, Math.max(2, Math.ceil(WINDOW_TARGET_MS / ms[0])));
  }
  return ms;
}

export async function measureThroughput(
  rt: Runtime,
  name: string,
  opts: ModelOptions & { batch: number; windows?: number; stepsPerWindow?: number },
): Promise<ThroughputResult> {
  const graph = buildModel(name, opts);
  const [c, h, w] = graph.inputShape;
  const model = Model.create(rt, graph, { seed: 1 });
  const x = Float32Array.from({ length: opts.batch * c * h * w }, (_, i) => Math.sin(i) * 0.5);
  const y = Array.from({ length: opts.batch }, (_, i) => i % graph.classes);
  const windows = opts.windows ?? 3;

  const t0 = performance.now();
  const trainer = await Trainer.create(model, {
    batchSize: opts.batch,
    optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  });
  trainer.step(x, y, 0.01);
  await trainer.readMetrics();
  const firstStepMs = performance.now() - t0;

  const stepMs = await timeWindows(
    windows,
    opts.stepsPerWindow,
    () => trainer.step(x, y, 0.01),
    () => trainer.readMetrics(),
  );
  const plannedTrainBytes = trainer.plan.plannedBytes;
  // The runtime's shared scratch after planning this model (grow-only, so earlier models' too).
  const sharedScratchBytes = rt.scratch.bytes;
  trainer.dispose();

  const infer = await buildStepPlan(model, { batchSize: opts.batch, mode: "eval" });
  rt.write(infer.input, 0, x);
  rt.replay(infer.forward);
  await rt.sync();
  const fwdMs = await timeWindows(windows, opts.stepsPerWindow, () => {
    rt.replay(infer.forward);
    rt.submit();
  }, () => rt.sync());
  const plannedInferBytes = infer.plannedBytes;
  infer.dispose();
  const result: ThroughputResult = {
    model: name,
    input: `${c}×${h}×${w}`,
    batch: opts.batch,
    firstStepMs: Math.round(firstStepMs),
    trainImagesPerSec: +(opts.batch / (median(stepMs) / 1000)).toFixed(2),
    trainStepMsMin: +Math.min(...stepMs).toFixed(1),
    forwardImagesPerSec: +(opts.batch / (median(fwdMs) / 1000)).toFixed(2),
    plannedTrainBytes,
    plannedInferBytes,
    sharedScratchBytes,
    parameterBytes: model.parameterBytes(),
  };
  model.dispose();
  return result;
}
