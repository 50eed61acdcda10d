/**
 * A runtime's bind groups and uniform buffers, made at plan time and reused: a bind group per
 * (kernel, bound buffer windows), a uniform buffer per distinct parameter bytes (shape parameters
 * repeat across layers and steps). Steady-state steps create neither.
 */
import type { Kernel } from "./step.ts";

/** A buffer, or a window of one, bound at consecutive binding indices from 0. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** What the caches count (the runtime's counters). */
export interface BindingCounters {
  bindGroupsCreated: number;
  buffersCreated: number;
}

/** The bind-group and uniform-buffer caches of one runtime on one device. */
export class BindingCache {
  private bindGroups = new Map<string, GPUBindGroup>();
  private uniforms = new Map<string, GPUBuffer>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;

  constructor(private device: GPUDevice, private counters: BindingCounters) {}

  /** A small stable id per buffer, for bind group cache keys. */
  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  /**
   * A bind group for `kernel` over `bindings` (binding i = bindings[i]; null leaves index i out,
   * for entry points that do not declare it), reused when seen before.
   */
  bindGroup(kernel: Kernel, bindings: (Binding | null)[]): GPUBindGroup {
    let key = `${kernel.id}`;
    for (const b of bindings) {
      if (b === null) {
        key += "|-";
        continue;
      }
      const r = b instanceof GPUBuffer ? { buffer: b } : b;
      key += `|${this.bufferId(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    let g = this.bindGroups.get(key);
    if (!g) {
      const entries: GPUBindGroupEntry[] = [];
      bindings.forEach((b, i) => {
        if (b !== null) {
          entries.push({ binding: i, resource: b instanceof GPUBuffer ? { buffer: b } : b });
        }
      });
      g = this.device.createBindGroup({ label: kernel.label, layout: kernel.layout, entries });
      this.bindGroups.set(key, g);
      this.counters.bindGroupsCreated++;
    }
    return g;
  }

  /** A uniform buffer holding `data` (padded to 16 bytes), shared by every caller of the same bytes. */
  uniform(data: ArrayBufferView | ArrayBuffer): GPUBuffer {
    const bytes = data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = new Uint8Array(Math.max(16, Math.ceil(bytes.length / 16) * 16));
    padded.set(bytes);
    let key = "";
    for (let i = 0; i < padded.length; i += 4) {
      key += String.fromCharCode(
        padded[i] | padded[i + 1] << 8,
        padded[i + 2] | padded[i + 3] << 8,
      );
    }
    let buf = this.uniforms.get(key);
    if (!buf) {
      buf = this.device.createBuffer({
        size: padded.length,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: "params",
      });
      this.device.queue.writeBuffer(buf, 0, padded);
      this.uniforms.set(key, buf);
      this.counters.buffersCreated++;
    }
    return buf;
  }

  /** Forgets every bind group (they may name buffers about to be freed). */
  forgetBindGroups(): void {
    this.bindGroups.clear();
  }

  /** Destroys the uniform buffers and forgets everything. */
  destroy(): void {
    for (const b of this.uniforms.values()) b.destroy();
    this.uniforms.clear();
    this.bindGroups.clear();
  }
}
