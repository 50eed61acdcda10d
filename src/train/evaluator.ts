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

export interface EvalResult {
  loss: number;
  accuracy: number;
  samples: number;
  /** Accuracy per class (NaN for a class with no samples), when requested. */
  perClass?: number[];
}

export interface EvalBatch {
  x: Float32Array;
  /** Labels; rows past `size` are ignored (their label must be −1 or in range). */
  y: ArrayLike<number>;
  size: number;
}

export class Evaluator {
  private labelWords: Uint32Array<ArrayBuffer>;
  #disposed = false;

  private constructor(
    readonly model: Model,
    readonly plan: StepPlan,
    private loss: SoftmaxXentPlan,
    private labels: GPUBuffer,
    private dlogits: GPUBuffer,
  ) {
    this.labelWords = new Uint32Array(plan.batchSize);
  }

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

  [Symbol.dispose](): void {
    this.dispose();
  }
}
