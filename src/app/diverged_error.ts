/**
 * A training step, the training loss or the test loss became NaN or infinite (or a checkpoint
 * would have held such values): the message names the step, why, and the last good checkpoint.
 */
export class DivergedError extends Error {
  /** The error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "DivergedError";
  }
}
