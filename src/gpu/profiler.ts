/**
 * Timestamp queries around compute passes, for per-section GPU time (Runtime.startProfile /
 * section / endProfile).
 */
import { GpuError } from "./gpu_error.ts";

/** resolveQuerySet's destination offset must be a multiple of 256 bytes. */
export const RESOLVE_STRIDE = 256;

/** Timestamp query set for {@link Runtime.startProfile}: two timestamps per section. */
export class PassProfiler {
  readonly labels: string[] = [];
  /** Sections whose pass wrote their two timestamps (an empty section opens no pass). */
  readonly written: boolean[] = [];
  readonly querySet: GPUQuerySet;
  readonly resolved: GPUBuffer;
  used = 0;
  private pending = false;

  constructor(private device: GPUDevice, private capacity: number) {
    this.querySet = device.createQuerySet({ type: "timestamp", count: 2 * capacity });
    this.resolved = device.createBuffer({
      size: RESOLVE_STRIDE * capacity,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: "timestamps",
    });
  }

  label(label: string): void {
    if (this.labels.length >= this.capacity) throw new GpuError("more profile sections than asked");
    this.labels.push(label);
    this.pending = true;
  }

  /** Timestamp writes for the next pass: only the first pass of a section is timed. */
  nextPassWrites(): GPUComputePassTimestampWrites | undefined {
    if (!this.pending) return undefined;
    this.pending = false;
    const i = this.labels.length - 1;
    this.used = i + 1;
    this.written[i] = true;
    return {
      querySet: this.querySet,
      beginningOfPassWriteIndex: 2 * i,
      endOfPassWriteIndex: 2 * i + 1,
    };
  }

  /**
   * Resolves only the queries a pass wrote: resolving never-written ones is undefined in
   * Vulkan, and NVIDIA's driver waits on them forever (seen on an H100: the device hung).
   */
  resolve(enc: GPUCommandEncoder): void {
    for (let i = 0; i < this.used; i++) {
      if (this.written[i]) {
        enc.resolveQuerySet(this.querySet, 2 * i, 2, this.resolved, i * RESOLVE_STRIDE);
      }
    }
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
  }
}
