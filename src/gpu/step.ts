/**
 * What planning produces and replay consumes: compiled kernels and the steps that record them.
 * Types only, so the runtime, the tuner and the ops can all name them without importing each
 * other.
 */
import type { Grid } from "./dispatch.ts";

/** A compiled compute entry point and the bind-group layout its bindings follow. */
export interface Kernel {
  /** Unique within its runtime (bind groups are cached by it). */
  readonly id: number;
  /** `family:entry`, as errors and profiles name the kernel. */
  readonly label: string;
  /** The compiled pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Its bind group 0 layout (bindings 0…n in order). */
  readonly layout: GPUBindGroupLayout;
}

/** One recorded GPU command of a plan: a dispatch of a kernel, or a buffer clear. */
export type Step =
  | { kind: "dispatch"; kernel: Kernel; bindGroup: GPUBindGroup; groups: number | Grid }
  /** Zero `size` bytes of `buffer` from `offset` (closes the compute pass; use sparingly). */
  | { kind: "clear"; buffer: GPUBuffer; offset: number; size: number };

/** An op's plan: its steps and the scratch buffers it owns. */
export interface Planned {
  /** Run in order by `Runtime.replay`. */
  steps: Step[];
  /** Buffers the op took from the pool for its own use; the plan owner releases them. */
  scratch: GPUBuffer[];
}
