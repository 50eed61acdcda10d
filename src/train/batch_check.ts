/** Validates a host batch against what a plan was built for, naming expected vs got. */
import type { Graph } from "../graph/ir.ts";

export function checkBatch(
  graph: Graph,
  batch: number,
  x: ArrayLike<number>,
  labels: ArrayLike<number> | null,
): void {
  const [c, h, w] = graph.inputShape;
  const want = batch * c * h * w;
  if (x.length !== want) {
    const per = x.length / batch;
    const hint = Number.isInteger(per)
      ? `${per} values per image; the model was built for ${c}×${h}×${w} = ${c * h * w}`
      : `not a whole number of images`;
    throw new RangeError(
      `input batch has ${x.length} values, expected ${batch}×${c}×${h}×${w} = ${want} (${hint})`,
    );
  }
  if (!labels) return;
  if (labels.length !== batch) {
    throw new RangeError(`got ${labels.length} labels for a batch of ${batch}`);
  }
  for (let i = 0; i < batch; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= graph.classes) {
      throw new RangeError(`label ${y} at index ${i} is outside 0…${graph.classes - 1}`);
    }
  }
}
