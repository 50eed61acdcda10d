/**
 * A model on the GPU: its graph and one buffer per parameter and BN statistic, named as
 * torchvision names them. Gradient buffers exist only once a training plan asks for them.
 */
import type { Graph, ParamSpec } from "../graph/ir.ts";
import type { Runtime } from "../gpu/runtime.ts";
import { initParameters } from "./init.ts";
import { numel } from "../tensor.ts";
import { DisposedError } from "../util/disposed.ts";
import {
  type AppliedState,
  applyState,
  type ApplyStateOptions,
  type StateEntries,
  type StateEntry,
} from "./state.ts";
import {
  checkPreprocessing,
  identityNormalization,
  type Normalization,
  type Preprocessing,
} from "./preprocessing.ts";

/** Whether the optimizer updates `p` (weights and biases do; BN running statistics do not). */
export function isTrainable(p: ParamSpec): boolean {
  return p.kind !== "running_mean" && p.kind !== "running_var";
}

/**
 * A network on the GPU: its {@link Graph} and one buffer per parameter and batch-norm statistic,
 * by torchvision's names. A model belongs to its runtime and is shared by the trainers,
 * evaluators and plans made for it (they do not dispose it); `dispose()` frees its buffers, and
 * anything using it afterwards throws {@link DisposedError}.
 *
 * @example
 * ```ts
 * import { buildModel, Model, Runtime } from "@resgpu/resgpu";
 * using rt = await Runtime.create();
 * using model = Model.create(rt, buildModel("resnet20"), { name: "resnet20", seed: 0 });
 * console.log(model.trainableNames().length, model.parameterBytes());
 * ```
 */
export class Model {
  /** Parameter and BN-statistic buffers by name (f32, PyTorch layouts). */
  readonly params: Map<string, GPUBuffer> = new Map();
  /** Gradient buffers by trainable parameter name, made when a training plan asks for them. */
  readonly grads: Map<string, GPUBuffer> = new Map();
  /** Each parameter's name, shape and kind. */
  readonly specs: Map<string, ParamSpec>;
  #disposed = false;
  #normalization: Normalization;
  #classNames: readonly string[] | undefined;

  private constructor(
    /** The runtime holding the buffers. */
    readonly rt: Runtime,
    /** The network. */
    readonly graph: Graph,
    /** Names the model in messages. */
    readonly name: string,
    /** The seed its parameters were initialized from (re-initialized heads use it too). */
    readonly seed: number,
  ) {
    this.specs = new Map(graph.params.map((p) => [p.name, p]));
    this.#normalization = identityNormalization(graph.inputShape[0]);
  }

  /**
   * Builds the model with freshly initialized parameters (see init.ts). Its preprocessing starts
   * as `opts.preprocessing`, else mean 0 and std 1 per channel and no class names.
   */
  static create(
    rt: Runtime,
    graph: Graph,
    opts: {
      name?: string;
      seed?: number;
      preprocessing?: Partial<Normalization & { classNames: readonly string[] }>;
    } = {},
  ): Model {
    rt.assertLive("Model.create");
    const m = new Model(rt, graph, opts.name ?? "model", opts.seed ?? 0);
    if (opts.preprocessing) m.setPreprocessing(opts.preprocessing);
    const values = initParameters(graph, m.seed);
    const entries = new Map<string, StateEntry>();
    for (const p of graph.params) {
      const data = values.get(p.name)!;
      m.params.set(p.name, rt.pool.acquire(data.byteLength, p.name));
      entries.set(p.name, { shape: p.shape, data });
    }
    m.loadStateDict(entries);
    return m;
  }

  /** Whether this model, or the runtime it lives on, was disposed. */
  get disposed(): boolean {
    return this.#disposed || this.rt.disposed;
  }

  /** Throws a {@link DisposedError} naming `user` when this model or its runtime is gone. */
  assertLive(user = `model ${this.name}`): void {
    if (this.#disposed) throw new DisposedError(`${user}: model ${this.name} was disposed`);
    this.rt.assertLive(user);
  }

  /**
   * What the model expects of its input: normalization (mean, std per channel), input shape,
   * classes and class names when known. Stored in checkpoints and weights files; applied to raw
   * pixels by {@link Predictor}.
   */
  get preprocessing(): Preprocessing {
    const [c, h, w] = this.graph.inputShape;
    return {
      mean: [...this.#normalization.mean],
      std: [...this.#normalization.std],
      inputShape: [c, h, w],
      classes: this.graph.classes,
      ...(this.#classNames ? { classNames: [...this.#classNames] } : {}),
    };
  }

  /**
   * Sets the normalization and/or class names (fields left out keep their value; `classNames:
   * null` forgets them). Input shape and classes, when given, must match the graph.
   */
  setPreprocessing(
    p: Partial<Omit<Preprocessing, "classNames">> & { classNames?: readonly string[] | null },
  ): void {
    const { classNames, ...rest } = p;
    checkPreprocessing(
      { ...rest, ...(classNames ? { classNames } : {}) },
      this.graph.inputShape,
      this.graph.classes,
      `${this.name} preprocessing`,
    );
    this.#normalization = {
      mean: p.mean ? Array.from(p.mean) : this.#normalization.mean,
      std: p.std ? Array.from(p.std) : this.#normalization.std,
    };
    if (classNames === null) this.#classNames = undefined;
    else if (classNames) this.#classNames = [...classNames];
  }

  /**
   * The buffer of parameter `name`.
   *
   * @throws {Error} no such parameter.
   */
  param(name: string): GPUBuffer {
    this.assertLive();
    const b = this.params.get(name);
    if (!b) throw new Error(`${this.name} has no parameter ${name}`);
    return b;
  }

  /** The gradient buffer of a trainable parameter, created on first request. */
  grad(name: string): GPUBuffer {
    this.assertLive();
    let g = this.grads.get(name);
    if (!g) {
      const spec = this.specs.get(name);
      if (!spec || !isTrainable(spec)) throw new Error(`${name} is not a trainable parameter`);
      g = this.rt.pool.acquire(numel(spec.shape) * 4, `grad:${name}`);
      this.rt.commands().clearBuffer(g, 0, numel(spec.shape) * 4);
      this.grads.set(name, g);
    }
    return g;
  }

  /** Names of the parameters an optimizer updates, in graph order. */
  trainableNames(): string[] {
    return this.graph.params.filter(isTrainable).map((p) => p.name);
  }

  /**
   * Loads tensors by torchvision name: strict and atomic (see {@link applyState}: every name,
   * shape and value is checked before anything is written; a `StateDictError` lists what
   * did not fit).
   *
   * ```ts
   * import type { Model } from "@resgpu/resgpu";
   * declare const model: Model;
   * const fc = { shape: [10], data: new Float32Array(10) };
   * model.loadStateDict(new Map([["fc.bias", fc]]), { strict: false });
   * ```
   */
  loadStateDict(entries: StateEntries, opts: ApplyStateOptions = {}): AppliedState {
    return applyState(this, entries, opts);
  }

  /** Reads every parameter and BN statistic back, gathered into one readback. */
  async stateDict(): Promise<Map<string, Float32Array>> {
    this.assertLive(`${this.name}.stateDict`);
    return await gatherRead(
      this.rt,
      this.graph.params.map((p) => [p.name, this.param(p.name), numel(p.shape)]),
    );
  }

  /**
   * Returns parameter and gradient buffers to the pool. Trainers, evaluators and plans made from
   * this model become unusable (their calls throw {@link DisposedError}). Idempotent.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    // After the runtime's dispose the pool has destroyed every buffer already.
    if (!this.rt.disposed) {
      for (const b of [...this.params.values(), ...this.grads.values()]) this.rt.pool.release(b);
    }
    this.params.clear();
    this.grads.clear();
  }

  /** {@link Model.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Bytes of every parameter and statistic. */
  parameterBytes(): number {
    return this.graph.params.reduce((a, p) => a + numel(p.shape) * 4, 0);
  }
}

/**
 * Reads many buffers with one map: each is copied into a gather buffer (chunked below the
 * binding limit) so a checkpoint costs one or a few ≥10 ms waits instead of one per tensor.
 */
export async function gatherRead(
  rt: Runtime,
  items: [string, GPUBuffer, number][],
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
  let i = 0;
  while (i < items.length) {
    const chunk: [string, number, number][] = [];
    let bytes = 0;
    for (; i < items.length && (chunk.length === 0 || bytes + items[i][2] * 4 <= limit); i++) {
      chunk.push([items[i][0], bytes, items[i][2]]);
      bytes += items[i][2] * 4;
    }
    const gather = rt.pool.acquire(bytes, "gather");
    const enc = rt.commands();
    chunk.forEach(([, off, n], k) => {
      if (n > 0) enc.copyBufferToBuffer(items[i - chunk.length + k][1], 0, gather, off, n * 4);
    });
    const data = new Float32Array(await rt.read(gather, bytes));
    rt.pool.release(gather);
    for (const [name, off, n] of chunk) out.set(name, data.slice(off / 4, off / 4 + n));
  }
  return out;
}
