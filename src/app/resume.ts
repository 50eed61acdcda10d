/**
 * What a resumed run carries over, so its metrics, plots and summary cover the whole run and not
 * only the part after the last checkpoint: the records logged up to the checkpoint's step (from
 * the checkpoint's run directory, wherever the run now writes) and the wall time already spent.
 */
import { dropRecordsAfter, linesUpTo, type MetricsRecord, readMetrics } from "./metrics_log.ts";

/** The directory of a file path (`.` for a bare name). */
export function dirOf(path: string): string {
  const slash = path.replace(/\/+$/, "").lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
}

/** Same directory, compared by real path when both exist. */
function sameDir(a: string, b: string): boolean {
  try {
    return Deno.realPathSync(a) === Deno.realPathSync(b);
  } catch {
    return a.replace(/\/+$/, "") === b.replace(/\/+$/, "");
  }
}

/**
 * Prepares `out`/metrics.jsonl for a run resumed at `step` from a checkpoint in `from` and returns
 * the records it now holds: in the same directory, records past the step (logged after the
 * checkpoint by a run that was then killed) are dropped; in another directory, the records up to
 * the step are copied from `from`, so the new log is the whole run's.
 */
export function carryRecords(from: string, out: string, step: number): MetricsRecord[] {
  const path = `${out}/metrics.jsonl`;
  if (sameDir(from, out)) {
    dropRecordsAfter(path, step);
  } else {
    let earlier = "";
    try {
      earlier = Deno.readTextFileSync(`${from}/metrics.jsonl`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    // A partial last line (a kill mid-write) is not a record.
    const whole = earlier.slice(0, earlier.lastIndexOf("\n") + 1);
    Deno.writeTextFileSync(path, linesUpTo(whole, step, `${from}/metrics.jsonl`));
  }
  try {
    return readMetrics(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** Seconds spent by the sessions before a resume, from the summary beside the checkpoint. */
export function earlierSeconds(from: string, step: number): number {
  try {
    const s = JSON.parse(Deno.readTextFileSync(`${from}/summary.json`));
    return typeof s.seconds === "number" && typeof s.steps === "number" && s.steps <= step
      ? s.seconds
      : 0;
  } catch {
    return 0;
  }
}

/** What the summary reports of the whole run, read from its records. */
export interface RecordsSummary {
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  perClass: number[];
  /** Images per second over every logged training window (NaN before the first). */
  imagesPerSec: number;
}

/** The last training window, the last evaluation and the throughput over all windows. */
export function summarizeRecords(records: MetricsRecord[], batch: number): RecordsSummary {
  const num = (v: unknown) => (typeof v === "number" ? v : NaN);
  const train = records.filter((r) => r.type === "train");
  const evals = records.filter((r) => r.type === "eval");
  const lastTrain = train.at(-1), lastEval = evals.at(-1);
  let images = 0, seconds = 0, prev = 0;
  for (const r of train) {
    const step = num(r.step), rate = num(r.images_per_s);
    const n = (step - prev) * batch;
    prev = step;
    if (n > 0 && rate > 0) {
      images += n;
      seconds += n / rate;
    }
  }
  return {
    trainLoss: num(lastTrain?.loss),
    trainAccuracy: num(lastTrain?.accuracy),
    testLoss: num(lastEval?.loss),
    testAccuracy: num(lastEval?.accuracy),
    perClass: Array.isArray(lastEval?.per_class) ? (lastEval.per_class as number[]).map(num) : [],
    imagesPerSec: seconds > 0 ? images / seconds : NaN,
  };
}
