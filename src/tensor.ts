/**
 * A tensor is a typed view of a pooled GPU buffer: shape, dtype and memory layout.
 *
 * Layout is stated, not guessed: images are NCHW (batch, channel, row, column; column fastest),
 * feature matrices are NC, parameters keep PyTorch's layouts (conv OIHW, linear [out, in]).
 */
import type { Runtime } from "./gpu/runtime.ts";
import { DisposedError } from "./util/disposed.ts";

export type DType = "f32";
export type Layout = "NCHW" | "NC" | "OIHW" | "flat";

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

export class Tensor {
  private disposed = false;

  private constructor(
    readonly rt: Runtime,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly layout: Layout,
  ) {}

  get size(): number {
    return numel(this.shape);
  }

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

  static zeros(
    rt: Runtime,
    shape: readonly number[],
    layout: Layout = defaultLayout(shape),
  ): Tensor {
    const t = Tensor.empty(rt, shape, layout);
    rt.commands().clearBuffer(t.buffer, 0, Math.ceil(t.bytes / 4) * 4);
    return t;
  }

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

  [Symbol.dispose](): void {
    this.dispose();
  }

  private check(): void {
    if (this.disposed) throw new DisposedError(`tensor [${this.shape}] used after dispose()`);
    this.rt.assertLive(`tensor [${this.shape}]`);
  }
}
