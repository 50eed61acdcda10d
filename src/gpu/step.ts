/**
 * What planning produces and replay consumes: compiled kernels and the steps that record them.
 * Types only, so the runtime, the tuner and the ops can all name them without importing each
 * other.
 */
import type { Grid } from "./dispatch.ts";

/** A compiled compute entry point and the bind-group layout its bindings follow. */
export interface Kernel {
  readonly id: number;
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

export type Step =
  | { kind: "dispatch"; kernel: Kernel; bindGroup: GPUBindGroup; groups: number | Grid }
  /** Zero `size` bytes of `buffer` from `offset` (closes the compute pass; use sparingly). */
  | { kind: "clear"; buffer: GPUBuffer; offset: number; size: number };

export interface Planned {
  steps: Step[];
  /** Buffers the op took from the pool for its own use; the plan owner releases them. */
  scratch: GPUBuffer[];
}
