/**
 * How an epoch of `count` samples splits into batches: one rule for every loader (data sets in
 * memory and image folders), so their step counts and last-batch sizes cannot drift apart.
 */

/** Batches per epoch and the size of the last one. */
export interface BatchGeometry {
  batchesPerEpoch: number;
  lastBatchSize: number;
}

/**
 * The batches of an epoch of `count` samples; with `dropLast` a partial last batch is left out.
 *
 * @throws {RangeError} a batch size that is not a positive integer, or (with `dropLast`) fewer
 * samples than one batch, naming `name`.
 */
export function batchGeometry(
  name: string,
  count: number,
  batchSize: number,
  dropLast: boolean,
): BatchGeometry {
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new RangeError(`batch size must be a positive integer: ${batchSize}`);
  }
  const batchesPerEpoch = dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
  if (batchesPerEpoch === 0) {
    throw new RangeError(`${name}: ${count} samples make no full batch of ${batchSize}`);
  }
  const lastBatchSize = dropLast ? batchSize : count - (batchesPerEpoch - 1) * batchSize;
  return { batchesPerEpoch, lastBatchSize };
}
