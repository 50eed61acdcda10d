/**
 * A small autotuner: for one op at one shape, plan each candidate variant, time it on this
 * adapter and keep the fastest. Choices are cached per adapter (description, backend, kernel
 * policy) in memory and, when a {@link TuneCache} is given, in it (a file for Deno programs:
 * `tuneCacheFile` in files.ts), so a second run plans with no timing at all. Opt-in
 * (`Runtime.create({ tune: … })`, `RESGPU_TUNE`, `train --tune`): timing costs seconds on a GPU
 * and minutes on a software adapter. The tuner itself touches no file: the cache is an object the
 * host provides, so it runs in a browser too.
 *
 * Candidates run on the tuner's own scratch buffers, never on a model's tensors, so tuning has
 * no effect on values: every variant computes the same function and is tested for it.
 */
import type { Planned, Step } from "./step.ts";

/** What the tuner needs of the runtime that owns it (a Runtime is one). */
export interface TuningHost {
  /** Adapter description, backend and kernel policy: choices are cached under it. */
  readonly adapterKey: string;
  replay(steps: readonly Step[]): void;
  /** Waits until the GPU has finished the submitted work. */
  sync(): Promise<void>;
  readonly pool: { release(buffer: GPUBuffer): void };
}

export interface Candidate<T> {
  /** Stable name, stored in the cache (e.g. `storage/wg64`). */
  name: string;
  opts: T;
}

export interface TuneRecord {
  op: string;
  shape: string;
  chosen: string;
  /** Milliseconds per run of each candidate that planned (absent: cache hit). */
  ms?: Record<string, number>;
}

/**
 * Where a tuner keeps its choices between runs: the host's storage (a file for Deno programs,
 * `localStorage` or nothing in a browser). Text in, text out; the tuner owns the format.
 *
 * @example A cache in memory (what `tune: true` does without one)
 * ```ts
 * import type { TuneCache } from "@resgpu/resgpu";
 * let text: string | null = null;
 * const cache: TuneCache = { name: "memory", read: () => text, write: (t) => text = t };
 * ```
 */
export interface TuneCache {
  /** Names the store in errors (a file path, a storage key). */
  readonly name: string;
  /** The stored text, or null when nothing is stored yet. */
  read(): string | null;
  /** Replaces the stored text; should be atomic (a reader never sees half of it). */
  write(text: string): void;
}

/** Cache file format: adapter key → "op|shape" → candidate name. */
type CacheFile = { version: 1; adapters: Record<string, Record<string, string>> };

/** GPU work per timed window: long against timer noise, short against the tuning budget. */
const MIN_WORK_MS = 20;
const MAX_REPS = 512;

export class Tuner {
  private readonly adapterKey: string;
  private cache: Record<string, string> = {};
  private file: CacheFile = { version: 1, adapters: {} };
  /** Every decision this tuner made or read, in order (for logs and benchmarks). */
  readonly records: TuneRecord[] = [];

  constructor(private readonly host: TuningHost, private readonly store?: TuneCache) {
    this.adapterKey = host.adapterKey;
    if (store) {
      try {
        const text = store.read();
        const parsed = text === null ? null : JSON.parse(text) as CacheFile;
        if (parsed?.version === 1 && parsed.adapters) this.file = parsed;
      } catch (e) {
        throw new Error(`tuner cache ${store.name} is unreadable (${e}); delete it to retune`);
      }
      this.cache = this.file.adapters[this.adapterKey] ??= {};
    }
  }

  /**
   * The fastest candidate's options. `plan` builds a candidate on scratch buffers; it may throw
   * for a candidate that does not apply to the shape (it is then skipped).
   */
  async choose<T>(
    op: string,
    shape: string,
    candidates: Candidate<T>[],
    plan: (opts: T) => Promise<Planned>,
  ): Promise<T> {
    if (candidates.length === 1) return candidates[0].opts;
    const key = `${op}|${shape}`;
    const hit = candidates.find((c) => c.name === this.cache[key]);
    if (hit) {
      this.records.push({ op, shape, chosen: hit.name });
      return hit.opts;
    }
    const ms: Record<string, number> = {};
    let best: Candidate<T> | null = null;
    for (const c of candidates) {
      let planned: Planned;
      try {
        planned = await plan(c.opts);
      } catch (e) {
        if (e instanceof RangeError) continue; // the variant does not fit this shape
        throw e;
      }
      ms[c.name] = await this.time(planned);
      for (const b of planned.scratch) this.host.pool.release(b);
      if (!best || ms[c.name] < ms[best.name]) best = c;
    }
    if (!best) throw new Error(`tuner: no candidate of ${op} plans at ${shape}`);
    this.cache[key] = best.name;
    this.records.push({ op, shape, chosen: best.name, ms });
    this.save();
    return best.opts;
  }

  /** Deno's completion wait alone (a poll loop: ≥ 10 ms), subtracted from every window. */
  private latencyMs: number | null = null;

  /**
   * Milliseconds per replay: a warm-up run sizes one timed window to about MIN_WORK_MS of GPU
   * work, so a candidate costs two completion waits whatever its speed.
   */
  private async time(planned: Planned): Promise<number> {
    if (this.latencyMs === null) {
      let min = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await this.host.sync();
        min = Math.min(min, performance.now() - t0);
      }
      this.latencyMs = min;
    }
    const latency = this.latencyMs;
    const w0 = performance.now();
    this.host.replay(planned.steps); // also pays lazily-built driver state
    await this.host.sync();
    const warm = Math.max(performance.now() - w0 - latency, 0.005);
    const reps = Math.min(MAX_REPS, Math.max(1, Math.ceil(MIN_WORK_MS / warm)));
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) this.host.replay(planned.steps);
    await this.host.sync();
    const ms = performance.now() - t0;
    return Math.max(ms - latency, ms / 2) / reps;
  }

  private save(): void {
    this.store?.write(JSON.stringify(this.file, null, 1) + "\n");
  }
}
