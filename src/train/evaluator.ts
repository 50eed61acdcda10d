/**
 * Inference over a data set with a planned eval step (BN running statistics, no gradients):
 * loss and accuracy accumulate on the GPU and are read once at the end; per-class accuracy, when
 * asked for, reads each batch's logits.
 */
import type { Model } from "../model/model.ts";
import { buildStepPlan, type StepPlan } from "../scheduler/step_plan.ts";
import { planSoftmaxCrossEntropy, type SoftmaxXentPlan } from "../ops/loss.ts";
import { checkBatch } from "./batch_check.ts";
import { DisposedError } from "../util/disposed.ts";

/** What {@link Evaluator.run} measured. */
export interface EvalResult {
  /** Mean cross-entropy loss. */
  loss: number;
  /** Fraction classified correctly, in [0, 1]. */
  accuracy: number;
  /** Samples counted (padding rows excluded). */
  samples: number;
  /** Accuracy per class (NaN for a class with no samples), when requested. */
  perClass?: number[];
}

/** One batch for {@link Evaluator.run} (a {@link Batch} from a loader is one). */
export interface EvalBatch {
  /** Normalized NCHW f32 of exactly the evaluator's batch size (padding rows included). */
  x: Float32Array;
  /** Labels; rows past `size` are ignored (their label must be −1 or in range). */
  y: ArrayLike<number>;
  /** Real samples in the batch (rows past it are padding). */
  size: number;
}

/**
 * A model's loss and accuracy over a data set, in eval mode (BN running statistics, no
 * gradients): batches are run with one submit each and the totals are read once at the end. The
 * evaluator owns its plan and uses the model (the caller's); dispose it when done.
 *
 * @example
 * ```ts
 * import { BatchLoader, buildModel, computeChannelStats, Evaluator, Model, Runtime, syntheticDataset } from "@resgpu/resgpu";
 * using rt = await Runtime.create();
 * const { train, test } = syntheticDataset({ trainCount: 256, testCount: 200 });
 * using model = Model.create(rt, buildModel("resnet8", { inputShape: [1, 28, 28], classes: 10 }));
 * using evaluator = await Evaluator.create(model, { batchSize: 100 });
 * const batches = BatchLoader.test(test, { batchSize: 100, stats: computeChannelStats(train) });
 * const { loss, accuracy } = await evaluator.run(batches.epoch());
 * console.log(loss, accuracy); // an untrained model: about 10 % accuracy
 * ```
 */
export class Evaluator {
  private labelWords: Uint32Array<ArrayBuffer>;
  #disposed = false;

  private constructor(
    /** The model it runs (not owned). */
    readonly model: Model,
    /** Its eval-mode plan (owned). */
    readonly plan: StepPlan,
    private loss: SoftmaxXentPlan,
    private labels: GPUBuffer,
    private dlogits: GPUBuffer,
  ) {
    this.labelWords = new Uint32Array(plan.batchSize);
  }

  /**
   * Plans `model`'s eval step at `opts.batchSize`.
   *
   * @throws {DisposedError} the model or its runtime was disposed.
   */
  static async create(model: Model, opts: { batchSize: number }): Promise<Evaluator> {
    const batch = opts.batchSize;
    model.assertLive("Evaluator.create");
    const rt = model.rt;
    const plan = await buildStepPlan(model, { batchSize: batch, mode: "eval" });
    const labels = rt.pool.acquire(batch * 4, "eval labels");
    // The fused loss kernel always writes dlogits; eval discards them.
    const dlogits = rt.pool.acquire(batch * model.graph.classes * 4, "eval dlogits");
    const loss = await planSoftmaxCrossEntropy(rt, { n: batch, classes: model.graph.classes }, {
      logits: plan.logits,
      labels,
      dlogits,
    });
    return new Evaluator(model, plan, loss, labels, dlogits);
  }

  /** Runs the model over `batches`; padding rows (index ≥ size) do not count. */
  async run(
    batches: AsyncIterable<EvalBatch> | Iterable<EvalBatch>,
    opts: { perClass?: boolean } = {},
  ): Promise<EvalResult> {
    this.assertLive("Evaluator.run");
    const rt = this.model.rt,
      plan = this.plan,
      classes = this.model.graph.classes;
    this.loss.reset();
    const hits = new Float64Array(classes), totals = new Float64Array(classes);
    for await (const b of batches) {
      checkBatch(this.model.graph, plan.batchSize, b.x, null);
      for (let i = 0; i < plan.batchSize; i++) {
        // An out-of-range label is skipped by the loss kernel: that is how padding rows vanish.
        this.labelWords[i] = i < b.size ? b.y[i] : 0xffffffff;
        if (i < b.size && !(Number.isInteger(b.y[i]) && b.y[i] >= 0 && b.y[i] < classes)) {
          throw new RangeError(`label ${b.y[i]} at index ${i} is outside 0…${classes - 1}`);
        }
      }
      rt.write(plan.input, 0, b.x as Float32Array<ArrayBuffer>);
      rt.write(this.labels, 0, this.labelWords);
      rt.replay(plan.forward);
      rt.replay(this.loss.steps);
      rt.submit();
      if (opts.perClass) {
        const logits = new Float32Array(await rt.read(plan.logits, plan.batchSize * classes * 4));
        for (let i = 0; i < b.size; i++) {
          let best = 0;
          for (let k = 1; k < classes; k++) {
            if (logits[i * classes + k] > logits[i * classes + best]) best = k;
          }
          totals[b.y[i]]++;
          if (best === b.y[i]) hits[b.y[i]]++;
        }
      }
    }
    const m = await this.loss.readMetrics();
    const out: EvalResult = { loss: m.meanLoss, accuracy: m.accuracy, samples: m.samples };
    if (opts.perClass) out.perClass = Array.from(hits, (h, k) => h / totals[k]);
    return out;
  }

  /** Whether {@link dispose} ran, or the model or runtime this evaluator uses is gone. */
  get disposed(): boolean {
    return this.#disposed || this.model.disposed;
  }

  /** Throws {@link DisposedError} naming `user` when this evaluator, its model or runtime is gone. */
  private assertLive(user: string): void {
    if (this.#disposed) throw new DisposedError(`${user}: this evaluator was disposed`);
    this.model.assertLive(user);
  }

  /** Returns the evaluator's plan and buffers to the pool (the model stays). Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const rt = this.model.rt;
    this.plan.dispose();
    if (rt.disposed) return;
    for (const b of this.loss.scratch) rt.pool.release(b);
    rt.pool.release(this.labels);
    rt.pool.release(this.dlogits);
  }

  /** {@link Evaluator.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
