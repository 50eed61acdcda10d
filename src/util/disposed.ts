/**
 * Use after dispose: every object that owns GPU memory, or uses memory another object owns,
 * throws this instead of reading freed buffers or surfacing a WebGPU validation error later.
 */
export class DisposedError extends Error {
  /** The error, its message naming what was disposed and who used it. */
  constructor(message: string) {
    super(message);
    this.name = "DisposedError";
  }
}
