/** An error the GPU layer raises: a failed compile, a validation error, a lost device. */
export class GpuError extends Error {
  /** The error, its message naming the kernel or buffer involved. */
  constructor(message: string) {
    super(message);
    this.name = "GpuError";
  }
}
