/**
 * A model's training step, planned once and replayed: forward, loss, backward, optional gradient
 * clipping, optimizer update, and optionally per-layer gradient norms — all recorded into one
 * submit. The host writes the batch with queue writes; nothing waits on the GPU except
 * {@link Trainer.readMetrics} and {@link Trainer.readGradNorms}, which callers run every N steps.
 *
 * Non-finite values are caught on the GPU, with no readback of their own: a step whose input,
 * loss or gradients hold NaN or ±Inf does not update the weights, the optimizer state or the
 * BN running statistics — it is skipped, as mixed-precision loss scalers skip an overflowing
 * step — and readMetrics reports how many steps were skipped, why, and the first one. A skipped
 * step still counts in {@link Trainer.steps} (the learning-rate schedule moves on). The training
 * application (trainRun) stops at the first skipped step instead.
 */
import type { Model } from "../model/model.ts";
import { isTrainable } from "../model/model.ts";
import { buildStepPlan, type StepPlan } from "../scheduler/step_plan.ts";
import { planSoftmaxCrossEntropy, type SoftmaxXentPlan, type XentMetrics } from "../ops/loss.ts";
import { type OptimizerPlan, planAdamW, planSgd } from "../ops/optimizer.ts";
import { type ClipPlan, type NormsPlan, planClipGradNorm, planNorms } from "../ops/norms.ts";
import { createGuardFlag, GUARD_BITS, planGuardFinish, planNonFiniteCheck } from "../ops/guard.ts";
import type { Step } from "../gpu/plan.ts";
import { numel } from "../tensor.ts";
import { checkBatch } from "./batch_check.ts";
import { frozenNames } from "../scheduler/freeze.ts";
import { DisposedError } from "../util/disposed.ts";

/** The optimizer of a {@link Trainer}: SGD (torch.optim.SGD's semantics) or AdamW. */
export interface OptimizerConfig {
  /** Which optimizer. */
  kind: "sgd" | "adamw";
  /** Learning rate until {@link Trainer.step} passes another. */
  lr: number;
  /** SGD momentum (default 0). */
  momentum?: number;
  /** SGD: Nesterov momentum. */
  nesterov?: boolean;
  /** Weight decay (default 0; AdamW's torch default is 0.01). */
  weightDecay?: number;
  /** SGD only: decoupled (AdamW-style) instead of torch's coupled L2 decay. */
  decoupledWeightDecay?: boolean;
  /** L1 penalty on the weights (default 0). */
  l1?: number;
}

/** Options of {@link Trainer.create}. */
export interface TrainerOptions {
  /** Images per step; every {@link Trainer.step} takes exactly this many. */
  batchSize: number;
  /** The optimizer and its settings. */
  optimizer: OptimizerConfig;
  /** clip_grad_norm_ max norm, computed on the GPU; off when absent. */
  clipGradNorm?: number;
  /**
   * Fine-tuning: parameters that stay as they are, by name prefix at module boundaries
   * (`["conv1", "bn1", "layer1"]`), or `{ except: ["layer4", "fc"] }` to freeze all the others.
   * Frozen parameters get no optimizer update and no gradient kernels (a frozen batch norm whose
   * gradient passes through still computes its dγ/dβ, a by-product of its dx), and no backward
   * runs below the lowest layer that trains.
   */
  freeze?: readonly string[] | { except: readonly string[] };
  /**
   * Batch norms whose parameters are all frozen normalize with their running statistics and keep
   * them (eval mode), as torchvision fine-tuning recipes do; default false (batch statistics,
   * running statistics updated, as in PyTorch's `model.train()`).
   */
  frozenBatchNormEval?: boolean;
}

/** Loss and accuracy since the last read, and the steps the non-finite guard skipped. */
export interface TrainMetrics extends XentMetrics {
  /** The first skipped step, numbered as {@link Trainer.steps} counts (0: none skipped). */
  firstSkippedStep: number;
}

/** The guard's steps: checks before the forward, after the loss and after the backward. */
interface GuardSteps {
  flag: GPUBuffer;
  input: Step[];
  loss: Step[];
  gradients: Step[];
  finish: Step[];
}

/** One weight layer's gradient L2 norm (from {@link Trainer.readGradNorms}). */
export interface GradNorm {
  /** Weight name, e.g. `layer1.0.conv1.weight`, from the input side to the output side. */
  name: string;
  /** ‖∇w‖₂ of the step that captured it. */
  norm: number;
}

/**
 * A model's training step, planned once and replayed: forward, loss, backward, optional gradient
 * clipping, the optimizer update (and, when asked, per-layer gradient norms), recorded into one
 * submit per {@link Trainer.step}, which never waits for the GPU. The trainer owns its plan and
 * optimizer state and uses the model, which stays the caller's: dispose the trainer when done
 * with it; after the model's or the runtime's dispose its calls throw {@link DisposedError}.
 *
 * @example
 * ```ts
 * import { BatchLoader, buildModel, computeChannelStats, Model, Runtime, syntheticDataset, Trainer } from "@resgpu/resgpu";
 * using rt = await Runtime.create();
 * const { train } = syntheticDataset({ trainCount: 512 });
 * using model = Model.create(rt, buildModel("resnet8", { inputShape: [1, 28, 28], classes: 10 }));
 * using trainer = await Trainer.create(model, {
 *   batchSize: 64,
 *   optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
 * });
 * const loader = BatchLoader.train(train, { batchSize: 64, stats: computeChannelStats(train) });
 * for await (const b of loader.epoch()) trainer.step(b.x, b.y, 0.1); // records and submits
 * const { meanLoss, accuracy } = await trainer.readMetrics(); // one readback for the epoch
 * console.log(meanLoss, accuracy);
 * ```
 */
export class Trainer {
  /** Steps taken (the optimizer's 1-based step of the next update is `steps + 1`). */
  steps = 0;
  private captureNext = false;
  #disposed = false;
  private labelWords: Uint32Array<ArrayBuffer>;
  private seedWord = new Uint32Array(1);

  private constructor(
    /** The model it trains (not owned). */
    readonly model: Model,
    /** Its forward and backward plan (owned). */
    readonly plan: StepPlan,
    /**
     * The loss kernels and their metrics.
     * @ignore
     */
    readonly loss: SoftmaxXentPlan,
    /**
     * The optimizer kernels and state.
     * @ignore
     */
    readonly optimizer: OptimizerPlan,
    /** The parameters the optimizer updates, in its order. */
    readonly optimizerNames: string[],
    private labels: GPUBuffer,
    private clip: ClipPlan | null,
    private norms: NormsPlan,
    /** The weight layers {@link Trainer.readGradNorms} reports, input side first. */
    readonly normNames: string[],
    private guard: GuardSteps,
  ) {
    this.labelWords = new Uint32Array(plan.batchSize);
  }

  /**
   * Plans the training step of `model` at `opts.batchSize`: compiles every kernel and places every
   * buffer, so steps allocate and compile nothing.
   *
   * @throws {DisposedError} the model or its runtime was disposed.
   */
  static async create(model: Model, opts: TrainerOptions): Promise<Trainer> {
    model.assertLive("Trainer.create");
    const rt = model.rt;
    const frozen = opts.freeze
      ? frozenNames(model.graph.params, opts.freeze, `model ${model.name}`)
      : new Set<string>();
    const plan = await buildStepPlan(model, {
      batchSize: opts.batchSize,
      mode: "train",
      frozen,
      frozenBatchNormEval: opts.frozenBatchNormEval,
    });
    const labels = rt.pool.acquire(opts.batchSize * 4, "labels");
    const loss = await planSoftmaxCrossEntropy(rt, {
      n: opts.batchSize,
      classes: model.graph.classes,
    }, { logits: plan.logits, labels, dlogits: plan.dlogits! });

    const names = model.trainableNames().filter((n) => !frozen.has(n));
    const sizes = names.map((n) => numel(model.specs.get(n)!.shape));
    const grads = names.map((n) => model.grad(n));
    const clip = opts.clipGradNorm
      ? await planClipGradNorm(rt, sizes, grads, { maxNorm: opts.clipGradNorm })
      : null;
    // Non-finite input, loss or gradients skip the step's update (see ../ops/guard.ts).
    const flag = createGuardFlag(rt, "step guard");
    const [ch, h, w] = model.graph.inputShape;
    const guard: GuardSteps = {
      flag,
      input: await planNonFiniteCheck(
        rt,
        [[plan.input, opts.batchSize * ch * h * w]],
        flag,
        GUARD_BITS.input,
      ),
      loss: await planNonFiniteCheck(rt, [[loss.rows, opts.batchSize * 2]], flag, GUARD_BITS.loss),
      gradients: await planNonFiniteCheck(
        rt,
        grads.map((g, i) => [g, sizes[i]] as const),
        flag,
        GUARD_BITS.gradients,
      ),
      finish: [await planGuardFinish(rt, flag, loss.metrics)],
    };
    const buf = {
      params: names.map((n) => model.param(n)),
      grads,
      clipScale: clip?.clip,
      guard: flag,
    };
    const o = opts.optimizer;
    const optimizer = o.kind === "sgd"
      ? await planSgd(rt, sizes, buf, {
        lr: o.lr,
        momentum: o.momentum ?? 0,
        nesterov: o.nesterov,
        weightDecay: o.weightDecay ?? 0,
        decoupledWeightDecay: o.decoupledWeightDecay,
        l1: o.l1,
      })
      : await planAdamW(rt, sizes, buf, { lr: o.lr, weightDecay: o.weightDecay, l1: o.l1 });

    // Gradient norms of the weight layers (conv and linear), input side first.
    const normNames = model.graph.params
      .filter((p) => isTrainable(p) && p.kind === "weight" && !frozen.has(p.name))
      .map((p) => p.name);
    const norms = await planNorms(
      rt,
      normNames.map((n) => numel(model.specs.get(n)!.shape)),
      normNames.map((n) => model.grad(n)),
    );
    return new Trainer(model, plan, loss, optimizer, names, labels, clip, norms, normNames, guard);
  }

  /** Images every step takes. */
  get batchSize(): number {
    return this.plan.batchSize;
  }

  /** Ask the next step to also compute per-layer gradient norms (read with readGradNorms). */
  captureGradNorms(): void {
    this.assertLive("Trainer.captureGradNorms");
    this.captureNext = true;
  }

  /**
   * One training step on `x` (NCHW f32, exactly the planned batch) and integer `labels`, with
   * learning rate `lr`. Records and submits; returns without waiting for the GPU.
   */
  step(x: Float32Array, labels: ArrayLike<number>, lr: number): void {
    this.assertLive("Trainer.step");
    const rt = this.model.rt, plan = this.plan;
    checkBatch(this.model.graph, plan.batchSize, x, labels);
    if (!Number.isFinite(lr) || lr < 0) throw new RangeError(`learning rate ${lr} is not valid`);
    for (let i = 0; i < plan.batchSize; i++) this.labelWords[i] = labels[i];
    rt.write(plan.input, 0, x as Float32Array<ArrayBuffer>);
    rt.write(this.labels, 0, this.labelWords);
    this.steps++;
    this.seedWord[0] = this.steps;
    rt.write(plan.seed, 0, this.seedWord);
    this.optimizer.setStepAndRate(this.steps, lr);
    const guard = this.guard;
    rt.replay(guard.input);
    rt.replay(plan.forward);
    rt.replay(this.loss.steps);
    rt.replay(guard.loss);
    rt.replay(plan.backward);
    if (this.captureNext) {
      rt.replay(this.norms.steps);
      this.captureNext = false;
    }
    rt.replay(guard.gradients);
    if (this.clip) rt.replay(this.clip.steps);
    rt.replay(this.optimizer.steps);
    rt.replay(guard.finish);
    rt.submit();
  }

  /**
   * Loss and accuracy accumulated on the GPU since the last read, and how many steps the
   * non-finite guard skipped and why (one readback).
   */
  async readMetrics(reset = true): Promise<TrainMetrics> {
    this.assertLive("Trainer.readMetrics");
    const m = await this.loss.readMetrics();
    if (reset) this.loss.reset();
    const first = m.firstSkippedInWindow;
    return { ...m, firstSkippedStep: first ? this.steps - m.steps + first : 0 };
  }

  /** Norms captured by the last step that had {@link captureGradNorms} set. */
  async readGradNorms(): Promise<GradNorm[]> {
    this.assertLive("Trainer.readGradNorms");
    const v = await this.norms.read();
    return this.normNames.map((name, i) => ({ name, norm: v[i] }));
  }

  /** The clip factor and total norm of the last step (clipping on only). */
  async readClip(): Promise<{ scale: number; totalNorm: number } | null> {
    this.assertLive("Trainer.readClip");
    return this.clip ? await this.clip.readClip() : null;
  }

  /** Optimizer state by name (`<param>.momentum_buffer`, `.exp_avg`, `.exp_avg_sq`). */
  optimizerState(): [string, GPUBuffer, number][] {
    this.assertLive("Trainer.optimizerState");
    const suffixes = this.optimizer.state[0]?.length === 2
      ? ["exp_avg", "exp_avg_sq"]
      : ["momentum_buffer"];
    const out: [string, GPUBuffer, number][] = [];
    this.optimizerNames.forEach((name, i) => {
      const n = numel(this.model.specs.get(name)!.shape);
      this.optimizer.state[i].forEach((b, k) => out.push([`${name}.${suffixes[k]}`, b, n]));
    });
    return out;
  }

  /** Whether {@link dispose} ran, or the model or runtime this trainer uses is gone. */
  get disposed(): boolean {
    return this.#disposed || this.model.disposed;
  }

  /** Throws {@link DisposedError} naming `user` when this trainer, its model or runtime is gone. */
  private assertLive(user: string): void {
    if (this.#disposed) throw new DisposedError(`${user}: this trainer was disposed`);
    this.model.assertLive(user);
  }

  /**
   * Returns the trainer's plan, optimizer state and scratch to the pool. The model stays usable
   * (it is the caller's to dispose). Idempotent.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const rt = this.model.rt;
    this.plan.dispose();
    if (rt.disposed) return;
    for (const b of [...this.loss.scratch, ...this.optimizer.scratch, ...this.norms.scratch]) {
      rt.pool.release(b);
    }
    if (this.clip) { for (const b of this.clip.scratch) rt.pool.release(b); }
    this.optimizer.dispose();
    rt.pool.release(this.labels);
    rt.pool.release(this.guard.flag);
  }

  /** {@link Trainer.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
