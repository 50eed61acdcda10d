/**
 * GPU memory: storage buffers rounded up to size classes and recycled.
 *
 * Size classes are 4 per power of two (…, 1, 1.25, 1.5, 1.75, 2, … × 2^k bytes, minimum 256), so a
 * recycled buffer wastes at most 25% while sizes that differ a little still share buffers.
 *
 * Frees are deferred: a released buffer may still be named by commands encoded but not yet
 * submitted, and `queue.writeBuffer` to a new owner would land before those commands run. So a
 * release waits in `pending` until the next `queue.submit` (after which queue order makes reuse
 * safe), and buffers are destroyed only in {@link BufferPool.trim}, after the GPU has finished.
 */

export const POOL_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

const MIN_CLASS = 256;

/** The size class (bytes actually allocated) for a request of `bytes`. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = pow / 4;
  return Math.ceil(bytes / step) * step;
}

/** What a runtime's buffer pool holds ({@link Runtime.pool}`.stats()`). */
export interface PoolStats {
  /** Bytes of every live GPU buffer the pool created. */
  allocatedBytes: number;
  /** Bytes of buffers currently handed out. */
  inUseBytes: number;
  /** Bytes released but waiting for a submit before reuse. */
  pendingBytes: number;
  /** Live GPU buffers. */
  buffers: number;
  /** GPU buffers created over the pool's life (a steady-state loop must not grow this). */
  created: number;
}

/** A buffer larger than the device allows; the message names the limit and suggests a smaller batch or input. */
export class BufferLimitError extends Error {
  /** The error for `what` needing `bytes` over the device's `limitName` of `limit`. */
  constructor(what: string, bytes: number, limitName: string, limit: number) {
    super(
      `${what} needs ${bytes} bytes, above this device's ${limitName} of ${limit} bytes; ` +
        "use a smaller batch or input size",
    );
    this.name = "BufferLimitError";
  }
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private inUse = new Set<GPUBuffer>();
  private live = new Set<GPUBuffer>();
  private createdCount = 0;

  constructor(
    private device: GPUDevice,
    private maxBindingSize: number,
    private maxBufferSize: number,
  ) {}

  /** A buffer of at least `bytes` bytes; contents are undefined (a recycled buffer keeps data). */
  acquire(bytes: number, label = "tensor"): GPUBuffer {
    if (!Number.isFinite(bytes) || bytes <= 0) {
      throw new RangeError(`${label}: cannot allocate ${bytes} bytes`);
    }
    const limit = Math.min(this.maxBindingSize, this.maxBufferSize);
    if (bytes > limit) {
      const name = this.maxBindingSize <= this.maxBufferSize
        ? "maxStorageBufferBindingSize"
        : "maxBufferSize";
      throw new BufferLimitError(label, bytes, name, limit);
    }
    // Round up, but never past the limit: a request just below it still fits.
    const size = Math.min(sizeClass(bytes), Math.floor(limit / 4) * 4);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size, usage: POOL_USAGE, label });
      this.live.add(buf);
      this.createdCount++;
    }
    this.inUse.add(buf);
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.inUse.delete(buf)) {
      throw new Error(`buffer '${buf.label}' released twice or not from this pool`);
    }
    this.pending.push(buf);
  }

  /** Called by the runtime right after `queue.submit`: pending buffers become reusable. */
  afterSubmit(): void {
    for (const b of this.pending) {
      const list = this.free.get(b.size);
      if (list) list.push(b);
      else this.free.set(b.size, [b]);
    }
    this.pending.length = 0;
  }

  /** Destroys idle buffers. The caller must have waited for the GPU (the runtime does). */
  trim(): number {
    let freed = 0;
    for (const list of this.free.values()) {
      for (const b of list) {
        freed += b.size;
        this.live.delete(b);
        b.destroy();
      }
    }
    this.free.clear();
    return freed;
  }

  /** Destroys every buffer, in use or free (the runtime's dispose: nothing may run after). */
  destroyAll(): void {
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.inUse.clear();
    this.free.clear();
    this.pending.length = 0;
  }

  stats(): PoolStats {
    let allocated = 0, inUse = 0, pending = 0;
    for (const b of this.live) allocated += b.size;
    for (const b of this.inUse) inUse += b.size;
    for (const b of this.pending) pending += b.size;
    return {
      allocatedBytes: allocated,
      inUseBytes: inUse,
      pendingBytes: pending,
      buffers: this.live.size,
      created: this.createdCount,
    };
  }
}
