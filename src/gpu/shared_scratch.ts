/**
 * Grow-only scratch buffers shared by every plan of a runtime, one per key (packed conv weights,
 * NC4HW4 activation copies, Winograd's transformed tiles, packed GEMM operands). Plans replay one
 * after another, never with their steps interleaved, and each writes its part of a scratch
 * buffer before reading it, so one buffer per key serves them all instead of one per plan.
 *
 * A request larger than the current buffer replaces it; plans made earlier keep the smaller one
 * alive through their bind groups, so {@link SharedScratch.bytes} counts every buffer made —
 * what the runtime holds — and {@link SharedScratch.currentBytes} only the newest per key.
 */
import { BufferLimitError } from "./buffer_pool.ts";

export class SharedScratch {
  private buffers = new Map<string, GPUBuffer>();
  private made = 0;
  private count = 0;

  constructor(
    private device: GPUDevice,
    private maxBindingSize: number,
    private maxBufferSize: number,
  ) {}

  /**
   * The `key` buffer with at least `bytes` bytes and `usage` (a key always asks for the same
   * usage). Contents are whatever the last plan wrote.
   */
  get(key: string, bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    if (!Number.isFinite(bytes) || bytes <= 0) {
      throw new RangeError(`${key}: cannot allocate ${bytes} bytes of scratch`);
    }
    const old = this.buffers.get(key);
    if (old && old.usage !== usage) {
      throw new Error(`scratch '${key}' asked for usage ${usage}, made with ${old.usage}`);
    }
    if (old && old.size >= bytes) return old;
    const limit = Math.min(this.maxBindingSize, this.maxBufferSize);
    if (bytes > limit) {
      const name = this.maxBindingSize <= this.maxBufferSize
        ? "maxStorageBufferBindingSize"
        : "maxBufferSize";
      throw new BufferLimitError(key, bytes, name, limit);
    }
    const size = Math.ceil(bytes / 4) * 4;
    const b = this.device.createBuffer({ size, usage, label: key });
    this.buffers.set(key, b);
    this.made += size;
    this.count++;
    return b;
  }

  /** Destroys every scratch buffer (the runtime's dispose). */
  destroy(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
  }

  /** Bytes of every scratch buffer made, superseded ones included (earlier plans bind them). */
  get bytes(): number {
    return this.made;
  }

  /** Bytes of the newest buffer per key. */
  get currentBytes(): number {
    let sum = 0;
    for (const b of this.buffers.values()) sum += b.size;
    return sum;
  }

  /** GPU buffers made so far (a steady-state loop must not grow this). */
  get created(): number {
    return this.count;
  }
}
