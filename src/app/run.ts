/**
 * One training run end to end: data, model, planned step, schedule, progress, evaluation,
 * metrics.jsonl, SVG plots and checkpoints. `deno task train` and the degradation study both
 * call {@link trainRun}.
 */
import { Runtime } from "../gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../host/deno_env.ts";
import { buildModel, type ShortcutOption } from "../zoo/registry.ts";
import { Model } from "../model/model.ts";
import { countParameters } from "../graph/ir.ts";
import { type ImageDataConfig, openTrainData } from "./data_source.ts";
import { Trainer } from "../train/trainer.ts";
import { Evaluator } from "../train/evaluator.ts";
import { makeSchedule } from "../train/lr_schedule.ts";
import { ProgressReporter, type Sink } from "./progress.ts";
import { MetricsLog, type MetricsRecord } from "./metrics_log.ts";
import { readCheckpoint, saveCheckpoint } from "../train/checkpoint_file.ts";
import { applyCheckpoint, type Checkpoint, NonFiniteStateError } from "../train/checkpoint.ts";
import { removeStaleTemps } from "../io/safetensors_file.ts";
import { writeRunPlots } from "./run_plots.ts";
import { checkSameSettings } from "./settings.ts";
import { carryRecords, dirOf, earlierSeconds, summarizeRecords } from "./resume.ts";
import { type FinetuneConfig, openPretrained } from "./pretrained.ts";
import { DivergedError } from "./diverged_error.ts";

/**
 * A training run's settings: the `deno task train` command line as an object, field for flag
 * (`--batch` is `batch`, `--wd` is `wd`, `--test-subset` is `testSubset`). It keeps the flags'
 * spelling on purpose, because it is the record of a command (config.json, checkpoints) and
 * should read like the command that made it; the library's classes say `batchSize` and
 * `weightDecay`. `deno task train --help` gives each flag's default.
 */
export interface TrainConfig extends FinetuneConfig {
  /** A zoo name ({@link listModels}) or `resnetN`/`plainN` for a CIFAR depth N = 6n+2. */
  model: string;
  /** Where shapes change: A zero-pad, B projection, C projection everywhere. */
  shortcut?: ShortcutOption;
  /** Multiplies every layer's channel count. */
  width?: number;
  /** `fashion-mnist`, `mnist`, `cifar10`, `synthetic` or a folder of IDX / CIFAR-10 files. */
  data: string;
  /** Passes over the training set. */
  epochs: number;
  /** Training images per step (`--batch`). */
  batch: number;
  /** Test images per evaluation batch. */
  evalBatch: number;
  /** SGD with momentum, or AdamW. */
  optimizer: "sgd" | "adamw";
  /** Peak learning rate. */
  lr: number;
  /** SGD momentum. */
  momentum: number;
  /** Nesterov momentum (SGD). */
  nesterov: boolean;
  /** Weight decay. */
  wd: number;
  /** Learning-rate schedule after the warm-up. */
  schedule: "step" | "cosine" | "constant";
  /** Linear warm-up steps. */
  warmup: number;
  /** Train on the first N training images only. */
  subset?: number;
  /** Test on the first N test images only. */
  testSubset?: number;
  /** Seeds initialization, shuffling, augmentation and the synthetic set. */
  seed: number;
  /** Run folder: config.json, metrics.jsonl, plots, checkpoint, summary.json. */
  out: string;
  /** A checkpoint to continue from. */
  resume?: string;
  /** Evaluate on the test set every N epochs (and after the last). */
  evalEvery: number;
  /** Clip the global gradient norm to this (off when absent). */
  clipGradNorm?: number;
  /** The paper's pad-4 crop + flip; unset: augmentsByDefault(data). */
  augment?: boolean;
  /** Read loss/accuracy from the GPU every N steps. */
  logEvery: number;
  /** Capture per-layer gradient norms every N steps (0: never). */
  gradNormEvery: number;
  /** Image-folder settings (used when `data` is a folder of class subfolders). */
  image?: ImageDataConfig;
}

/** What {@link trainRun} returns (and writes to summary.json). */
export interface RunSummary {
  /** The run folder. */
  out: string;
  /** The model's name. */
  model: string;
  /** Trainable parameters. */
  parameters: number;
  /** Training steps taken. */
  steps: number;
  /** Epochs completed. */
  epochs: number;
  /** Mean training loss of the last logged window. */
  trainLoss: number;
  /** Training accuracy of the last logged window, in [0, 1]. */
  trainAccuracy: number;
  /** Test loss of the last evaluation. */
  testLoss: number;
  /** Test accuracy of the last evaluation, in [0, 1]. */
  testAccuracy: number;
  /** Test accuracy per class. */
  perClass: number[];
  /** Training images per second over every logged window of the run, resumed sessions included
   * (evaluation excluded). */
  imagesPerSec: number;
  /** Wall time of this session plus the sessions before a resume that wrote a summary. */
  seconds: number;
  /** Why the run ended. */
  stopped: "finished" | "interrupted" | "diverged";
  /** Mean time a training step waited for its batch, in ms (0 when decoding kept ahead). */
  loaderWaitMs: number;
  /** Image files skipped because they failed to decode (image folders), with why. */
  skippedImages?: { path: string; message: string }[];
}

/** How {@link trainRun} talks to its host (all optional). */
export interface RunHooks {
  /** Where progress lines go (default stdout). */
  sink?: Sink;
  /** Whether the sink is a terminal (a live line) or a log (plain lines); default: stdout's. */
  tty?: boolean;
  /** Shared runtime (the degradation study trains many models on one device). */
  runtime?: Runtime;
  /** Handle Ctrl-C by checkpointing and stopping (the CLI sets it). */
  handleSigint?: boolean;
  /** Stop (as if interrupted) once this many epochs are complete: tests of resuming. */
  stopAfterEpochs?: number;
}

const CHECKPOINT = "checkpoint.safetensors";

/**
 * The whole `deno task train` job as a function: loads the data set, builds and trains the model,
 * evaluates every `evalEvery` epochs, writes the run folder (config.json, metrics.jsonl, plots,
 * checkpoints every epoch, summary.json) and returns the summary. Resumes from `cfg.resume`.
 *
 * @example
 * ```ts
 * import { trainRun } from "@resgpu/resgpu/files";
 * const s = await trainRun({
 *   model: "resnet8", data: "synthetic", subset: 256, testSubset: 128, epochs: 1, batch: 32,
 *   evalBatch: 64, optimizer: "sgd", lr: 0.1, momentum: 0.9, nesterov: false, wd: 5e-4,
 *   schedule: "cosine", warmup: 0, seed: 0, out: "runs/example", evalEvery: 1, logEvery: 4,
 *   gradNormEvery: 0,
 * });
 * console.log(s.testAccuracy, s.imagesPerSec);
 * ```
 *
 * @throws {DivergedError} a step, the loss or the test loss became NaN or infinite (no update was
 * made from it, and the last good checkpoint is kept).
 */
export async function trainRun(cfg: TrainConfig, hooks: RunHooks = {}): Promise<RunSummary> {
  const t0 = performance.now();
  // Fine-tuning: the weights file's header first (its normalization feeds the data).
  const finetune = await openPretrained(cfg);
  const data = await openTrainData(cfg, finetune?.normalization);
  // A checkpoint is read and its settings compared before any model or file is made.
  let resumed: Checkpoint | null = null;
  if (cfg.resume) {
    try {
      resumed = await readCheckpoint(cfg.resume);
      if (resumed.meta.model !== cfg.model) {
        throw new Error(`${cfg.resume} holds a ${resumed.meta.model}, not a ${cfg.model}`);
      }
      checkSameSettings(
        resumed.meta.config,
        { ...cfg, ...data.meta },
        cfg.resume,
        "resume with the same settings (only --out may differ), or start a new run",
      );
    } catch (e) {
      data.dispose();
      throw e;
    }
  }
  let graph, plan;
  try {
    graph = buildModel(cfg.model, {
      inputShape: data.inputShape,
      classes: data.classes,
      shortcut: cfg.shortcut,
      width: cfg.width,
      stem: finetune?.stem,
    });
    // Every fine-tuning decision (prefixes, head) is checked before a model or file is made.
    plan = finetune?.plan(graph, data.classNames);
  } catch (e) {
    data.dispose();
    throw e;
  }
  const rt = hooks.runtime ?? await Runtime.create(runtimeOptionsFromEnv());
  const model = Model.create(rt, graph, { name: cfg.model, seed: cfg.seed });
  // A resumed run's weights come from its checkpoint; a new one's from --weights.
  const loadedNote = plan && !cfg.resume
    ? await plan.load(model).catch((e) => {
      [model, ...(hooks.runtime ? [] : [rt]), data].forEach((o) => o.dispose());
      throw e;
    })
    : null;
  const trainer = await Trainer.create(model, {
    freeze: plan?.freeze,
    frozenBatchNormEval: cfg.frozenBn !== "train",
    batchSize: cfg.batch,
    optimizer: {
      kind: cfg.optimizer,
      lr: cfg.lr,
      momentum: cfg.momentum,
      nesterov: cfg.nesterov,
      weightDecay: cfg.wd,
    },
    clipGradNorm: cfg.clipGradNorm,
  });
  const evaluator = await Evaluator.create(model, {
    batchSize: Math.min(cfg.evalBatch, data.testCount),
  });
  // The checkpoint carries what the model expects, so it alone suffices for prediction.
  model.setPreprocessing({
    ...data.normalization,
    ...(data.classNames?.length === graph.classes ? { classNames: data.classNames } : {}),
  });
  const augment = data.meta.augment;
  const trainLoader = data.train;
  const perEpoch = trainLoader.batchesPerEpoch;
  const totalSteps = perEpoch * cfg.epochs;
  const lrAt = makeSchedule({
    kind: cfg.schedule,
    lr: cfg.lr,
    totalSteps,
    stepsPerEpoch: perEpoch,
    // A warm-up longer than a short run would leave no run: cap it at a quarter.
    warmupSteps: Math.min(cfg.warmup, Math.floor(totalSteps / 4)),
  });

  await Deno.mkdir(cfg.out, { recursive: true });
  const ckptPath = `${cfg.out}/${CHECKPOINT}`;
  // Writes a kill interrupted left their temporary files; nothing else writes here now.
  removeStaleTemps(ckptPath);
  // The whole run's records: those before the checkpoint, then this session's.
  const records: MetricsRecord[] = [];
  let priorSeconds = 0;
  if (resumed && cfg.resume) {
    const meta = applyCheckpoint(resumed, model, trainer);
    trainer.steps = meta.step;
    trainLoader.restore(meta.loader);
    records.push(...carryRecords(dirOf(cfg.resume), cfg.out, meta.step));
    priorSeconds = earlierSeconds(dirOf(cfg.resume), meta.step);
  }
  await Deno.writeTextFile(
    `${cfg.out}/config.json`,
    JSON.stringify(
      {
        ...cfg,
        augment,
        // The model's normalization, input shape, classes and class names: what prediction
        // needs (the checkpoint's metadata holds the same).
        modelPreprocessing: model.preprocessing,
        adapter: rt.report.description,
        backend: rt.report.backend,
        parameters: countParameters(graph),
        plannedActivationBytes: trainer.plan.plannedBytes,
        // Packed operands and transformed tiles, shared by all plans (src/gpu/shared_scratch.ts).
        sharedScratchBytes: rt.scratch.bytes,
        trainSamples: data.trainCount,
        testSamples: data.testCount,
        ...data.meta,
      },
      null,
      2,
    ) + "\n",
  );
  const log = MetricsLog.open(`${cfg.out}/metrics.jsonl`, { append: !!cfg.resume });
  const record = (r: MetricsRecord) => {
    log.write(r);
    records.push(r);
  };
  const progress = new ProgressReporter({
    epochs: cfg.epochs,
    totalSteps,
    sink: hooks.sink,
    tty: hooks.tty,
    every: cfg.logEvery * 10,
  });
  const say = (m: string) => progress.log(m);
  say(
    `${cfg.model}: ${countParameters(graph).toLocaleString("en")} parameters, ${data.name} ` +
      `${data.trainCount}/${data.testCount} images ${data.inputShape.join("×")}, ` +
      `batch ${cfg.batch}, ${totalSteps} steps on ${rt.report.description}`,
  );
  if (loadedNote) say(loadedNote);

  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  if (hooks.handleSigint) Deno.addSignalListener("SIGINT", onSigint);

  let last = { loss: NaN, accuracy: NaN };
  let stopped: RunSummary["stopped"] = "finished";
  let windowStart = performance.now(),
    windowSteps = 0,
    windowWait = 0,
    totalWait = 0,
    stepsHere = 0;
  const position = () => ({
    epoch: trainLoader.state.epoch,
    step: trainer.steps,
    loader: trainLoader.state,
  });
  // The checkpoint that really exists: the one resumed from until this run writes its own.
  let lastGood: string | null = cfg.resume ?? null;
  const kept = () =>
    lastGood ? `the last good checkpoint is ${lastGood}` : "no checkpoint had been written yet";
  const checkpoint = async () => {
    try {
      await saveCheckpoint(ckptPath, model, trainer, {
        ...position(),
        model: cfg.model,
        // The class names and preprocessing travel with the weights, so the checkpoint alone
        // can serve predictions.
        config: { ...cfg, ...data.meta },
      });
    } catch (e) {
      if (!(e instanceof NonFiniteStateError)) throw e;
      throw new DivergedError(`step ${trainer.steps}: ${e.message}; stopping: ${kept()}`);
    }
    lastGood = ckptPath;
  };

  const flush = async (epoch: number) => {
    if (windowSteps === 0) return;
    const m = await trainer.readMetrics();
    const dt = (performance.now() - windowStart) / 1000;
    if (!Number.isFinite(m.meanLoss) || m.skipped > 0) {
      // The trainer made no update from a non-finite step (src/train/trainer.ts), so no weight
      // is poisoned; the run stops at the first window that had one.
      const first = m.skipped > 0
        ? `; step ${m.firstSkippedStep} was not finite (${m.nonFinite.join(", ")}) and made no ` +
          "update"
        : "";
      const what = Number.isFinite(m.meanLoss)
        ? `${m.skipped} step(s) became non-finite by step ${trainer.steps}`
        : `loss became ${m.meanLoss} by step ${trainer.steps}`;
      throw new DivergedError(
        `${what} (lr ${lrAt(trainer.steps - 1)})${first}; stopping: ${kept()}. ` +
          (m.nonFinite.includes("input")
            ? "Check the input data for NaN or infinite pixels"
            : "Try a lower --lr, a longer --warmup or --clip-grad-norm"),
      );
    }
    last = { loss: m.meanLoss, accuracy: m.accuracy };
    record({
      type: "train",
      epoch,
      step: trainer.steps,
      loss: m.meanLoss,
      accuracy: m.accuracy,
      lr: lrAt(trainer.steps - 1),
      images_per_s: windowSteps * cfg.batch / dt,
      // Time a step waited for its batch (decoding behind the GPU), mean over the window.
      loader_wait_ms: windowWait / windowSteps,
    });
    progress.update({
      epoch: epoch + 1,
      step: trainer.steps,
      loss: m.meanLoss,
      accuracy: m.accuracy,
      images: windowSteps * cfg.batch,
    });
    windowStart = performance.now();
    windowSteps = 0;
    windowWait = 0;
  };

  const evaluate = async (epoch: number, perClass: boolean) => {
    const r = await evaluator.run(data.evalPass(evaluator.plan.batchSize), { perClass });
    if (!Number.isFinite(r.loss)) {
      throw new DivergedError(
        `test loss became ${r.loss} after epoch ${epoch + 1} (step ${trainer.steps}); the ` +
          `weights it came from are not checkpointed; stopping: ${kept()}. ` +
          "Try a lower --lr, a longer --warmup or --clip-grad-norm",
      );
    }
    record({
      type: "eval",
      epoch,
      step: trainer.steps,
      loss: r.loss,
      accuracy: r.accuracy,
      ...(perClass ? { per_class: r.perClass } : {}),
    });
    say(
      `epoch ${epoch + 1}/${cfg.epochs}: train loss ${last.loss.toFixed(4)} acc ${
        (100 * last.accuracy).toFixed(2)
      }% · ` +
        `test loss ${r.loss.toFixed(4)} acc ${(100 * r.accuracy).toFixed(2)}%`,
    );
  };

  try {
    progress.resume(trainer.steps);
    if (trainLoader.state.epoch >= cfg.epochs) {
      say(`${cfg.resume} finished all ${cfg.epochs} epoch(s): nothing left to train`);
    }
    while (trainLoader.state.epoch < cfg.epochs && !interrupted) {
      const epoch = trainLoader.state.epoch;
      windowStart = performance.now();
      for (;;) {
        const tWait = performance.now();
        const b = await trainLoader.next();
        windowWait += performance.now() - tWait;
        totalWait += performance.now() - tWait;
        stepsHere++;
        const capture = cfg.gradNormEvery > 0 && trainer.steps % cfg.gradNormEvery === 0;
        if (capture) trainer.captureGradNorms();
        trainer.step(b.x, b.y, lrAt(trainer.steps));
        windowSteps++;
        progress.tick(trainer.steps, epoch + 1); // off a terminal: a line at least every 30 s
        if (capture) {
          const norms = await trainer.readGradNorms();
          record({
            type: "grad_norms",
            epoch,
            step: trainer.steps,
            names: norms.map((n) => n.name),
            norms: norms.map((n) => n.norm),
          });
        }
        if (trainer.steps % cfg.logEvery === 0 || b.last) await flush(epoch);
        if (b.last || interrupted) break;
      }
      if (interrupted) break;
      const lastEpoch = epoch + 1 === cfg.epochs;
      if ((epoch + 1) % cfg.evalEvery === 0 || lastEpoch) await evaluate(epoch, lastEpoch);
      await checkpoint();
      await writeRunPlots(cfg.out, records);
      progress.resume(trainer.steps);
      if (hooks.stopAfterEpochs !== undefined && epoch + 1 >= hooks.stopAfterEpochs) {
        interrupted = true;
      }
    }
    if (interrupted) {
      await flush(trainLoader.state.epoch);
      await checkpoint();
      stopped = "interrupted";
      say(`interrupted at step ${trainer.steps}: checkpoint ${ckptPath} (resume with --resume)`);
    }
  } catch (e) {
    if (e instanceof DivergedError) {
      stopped = "diverged";
      say(`error: ${e.message}`);
      throw e;
    }
    throw e;
  } finally {
    progress.finish();
    if (hooks.handleSigint) Deno.removeSignalListener("SIGINT", onSigint);
    log.close();
    await writeRunPlots(cfg.out, records).catch(() => {});
    trainer.dispose();
    evaluator.dispose();
    model.dispose();
    data.dispose();
    if (!hooks.runtime) rt.dispose();
  }
  const skipped = data.skipped();
  if (skipped.length > 0) {
    say(
      `skipped ${skipped.length} image${skipped.length > 1 ? "s" : ""} that failed to decode: ` +
        skipped.slice(0, 3).map((s) => `${s.path} (${s.message})`).join("; ") +
        (skipped.length > 3 ? `; ... (all in summary.json)` : ""),
    );
  }
  // From the whole run's records, so a resumed (even an already finished) run reports all of it.
  const whole = summarizeRecords(records, cfg.batch);
  const summary: RunSummary = {
    out: cfg.out,
    model: cfg.model,
    parameters: countParameters(graph),
    steps: trainer.steps,
    epochs: trainLoader.state.epoch,
    ...whole,
    seconds: priorSeconds + (performance.now() - t0) / 1000,
    stopped,
    loaderWaitMs: stepsHere > 0 ? totalWait / stepsHere : 0,
    ...(skipped.length > 0 ? { skippedImages: skipped } : {}),
  };
  await Deno.writeTextFile(`${cfg.out}/summary.json`, JSON.stringify(summary, null, 2) + "\n");
  return summary;
}
