/**
 * A tensor is a typed view of a pooled GPU buffer: shape, dtype and memory layout.
 *
 * Layout is stated, not guessed: images are NCHW (batch, channel, row, column; column fastest),
 * feature matrices are NC, parameters keep PyTorch's layouts (conv OIHW, linear [out, in]).
 */
import type { Runtime } from "./gpu/runtime.ts";
import { DisposedError } from "./util/disposed.ts";

/** Element type of a {@link Tensor} (resgpu computes in f32). */
export type DType = "f32";
/** How a tensor's elements are ordered: images NCHW, feature matrices NC, conv weights OIHW, else flat. */
export type Layout = "NCHW" | "NC" | "OIHW" | "flat";

/**
 * Elements in a tensor of `shape` (the product of its dimensions).
 *
 * @example
 * ```ts
 * import { numel } from "@resgpu/resgpu";
 * console.log(numel([2, 3, 4])); // 24
 * ```
 *
 * @throws {RangeError} a dimension that is not a non-negative integer.
 */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad dimension ${d} in [${shape}]`);
    n *= d;
  }
  return n;
}

function defaultLayout(shape: readonly number[]): Layout {
  return shape.length === 4 ? "NCHW" : shape.length === 2 ? "NC" : "flat";
}

/**
 * An f32 array on the GPU: a pooled buffer with its shape and layout. It belongs to its runtime;
 * `dispose()` returns the buffer to the pool (or `using t = …`), and a tensor used after it or
 * after its runtime's dispose throws {@link DisposedError}.
 *
 * @example
 * ```ts
 * import { axpb, Runtime, Tensor } from "@resgpu/resgpu";
 * using rt = await Runtime.create();
 * using x = Tensor.fromArray(rt, [1, 2, 3], [3]);
 * using y = await axpb(rt, x, 2, 1);
 * console.log(await y.toArray()); // Float32Array [3, 5, 7]
 * ```
 */
export class Tensor {
  private disposed = false;

  private constructor(
    /** The runtime whose pool holds the data. */
    readonly rt: Runtime,
    /** The GPU buffer (a pool size class: may be larger than {@link Tensor.bytes}). */
    readonly buffer: GPUBuffer,
    /** Dimensions, outermost first. */
    readonly shape: readonly number[],
    /** Element type. */
    readonly dtype: DType,
    /** Element order. */
    readonly layout: Layout,
  ) {}

  /** Elements (the product of the shape). */
  get size(): number {
    return numel(this.shape);
  }

  /** Bytes of its data (4 per element). */
  get bytes(): number {
    return this.size * 4;
  }

  /** An uninitialized tensor from the pool. */
  static empty(
    rt: Runtime,
    shape: readonly number[],
    layout: Layout = defaultLayout(shape),
  ): Tensor {
    const n = numel(shape);
    const buf = rt.pool.acquire(Math.max(4, n * 4), `tensor[${shape}]`);
    return new Tensor(rt, buf, [...shape], "f32", layout);
  }

  /** A tensor of zeros from the pool. */
  static zeros(
    rt: Runtime,
    shape: readonly number[],
    layout: Layout = defaultLayout(shape),
  ): Tensor {
    const t = Tensor.empty(rt, shape, layout);
    rt.commands().clearBuffer(t.buffer, 0, Math.ceil(t.bytes / 4) * 4);
    return t;
  }

  /** A tensor holding `data` (as f32), which must have exactly `numel(shape)` elements. */
  static fromArray(
    rt: Runtime,
    data: ArrayLike<number>,
    shape: readonly number[],
    layout: Layout = defaultLayout(shape),
  ): Tensor {
    const n = numel(shape);
    if (data.length !== n) {
      throw new RangeError(`data has ${data.length} elements but shape [${shape}] needs ${n}`);
    }
    const t = Tensor.empty(rt, shape, layout);
    t.write(data);
    return t;
  }

  /** Overwrites the contents, in queue order (after work already submitted). */
  write(data: ArrayLike<number>): void {
    this.check();
    if (data.length !== this.size) {
      throw new RangeError(`write of ${data.length} elements into tensor [${this.shape}]`);
    }
    const f = (data instanceof Float32Array ? data : Float32Array.from(data)) as Float32Array<
      ArrayBuffer
    >;
    this.rt.device.queue.writeBuffer(this.buffer, 0, f);
  }

  /** Its contents, read back after the work submitted so far (waits for the GPU). */
  async toArray(): Promise<Float32Array> {
    this.check();
    return new Float32Array(await this.rt.read(this.buffer, this.bytes));
  }

  /** Returns the buffer to the pool. Idempotent; nothing to do after the runtime's dispose. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.rt.disposed) this.rt.pool.release(this.buffer);
  }

  /** {@link Tensor.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Throws {@link DisposedError} when this tensor or its runtime is disposed. */
  private check(): void {
    if (this.disposed) throw new DisposedError(`tensor [${this.shape}] used after dispose()`);
    this.rt.assertLive(`tensor [${this.shape}]`);
  }
}
