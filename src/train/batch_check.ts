/** Validates a host batch against what a plan was built for, naming expected vs got. */
import type { Graph } from "../graph/ir.ts";
import { checkFloat32, typeName } from "../util/typed.ts";

export function checkBatch(
  graph: Graph,
  batch: number,
  x: unknown,
  labels: ArrayLike<number> | null,
): void {
  // Copied to the GPU byte for byte: a Float64Array of the right length would overrun the input
  // buffer and train on stale data.
  checkFloat32(x, "input batch");
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
  if (typeof labels !== "object" || typeof labels.length !== "number") {
    throw new TypeError(`labels must be an array of class indices, got ${typeName(labels)}`);
  }
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
