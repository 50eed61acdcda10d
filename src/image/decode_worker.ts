/**
 * A decode worker of the image loader (src/image/loader.ts): takes a run of samples, returns their
 * normalized float32 pixels (transferred, not copied) and which ones failed and why.
 */
import { Rng } from "../util/rng.ts";
import type { DecodeLimits } from "./header.ts";
import type { ImageTransform } from "./transforms.ts";
import { type CacheBudget, loadSample, type SampleKey } from "./sample.ts";

export interface WorkerJob {
  id: number;
  files: string[];
  /** Key of the first sample; sample j has index key[3] + j. */
  key: SampleKey;
  transform: ImageTransform;
  limits: DecodeLimits;
}
export interface WorkerInit {
  init: true;
  cache?: CacheBudget;
}
export interface WorkerResult {
  id: number;
  x: Float32Array;
  failed: { j: number; message: string }[];
  ms: number;
}

/** The worker's global scope, typed here (a lib directive would change the package's globals). */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<WorkerJob | WorkerInit>) => void) | null;
  postMessage(message: WorkerResult, transfer: Transferable[]): void;
};

let cache: CacheBudget | undefined;
const rng = new Rng();

scope.onmessage = (e) => {
  const m = e.data;
  if ("init" in m) {
    cache = m.cache;
    return;
  }
  const t0 = performance.now();
  const per = m.transform.mean.length * m.transform.size * m.transform.size;
  const x = new Float32Array(per * m.files.length);
  const failed: WorkerResult["failed"] = [];
  for (let j = 0; j < m.files.length; j++) {
    try {
      const [seed, epoch, batch, index] = m.key;
      loadSample(
        m.files[j],
        [seed, epoch, batch, index + j],
        m.transform,
        m.limits,
        x,
        j * per,
        rng,
        cache,
      );
    } catch (err) {
      failed.push({ j, message: err instanceof Error ? err.message : String(err) });
    }
  }
  const result: WorkerResult = { id: m.id, x, failed, ms: performance.now() - t0 };
  scope.postMessage(result, [x.buffer]);
};
