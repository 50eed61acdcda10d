/**
 * `runs/NAME/metrics.jsonl`: one JSON object per line, written synchronously per record so a
 * crash or kill loses at most the record being written, and appended to on resume. JSON has no
 * NaN/Infinity, and JSON.stringify would silently turn them into null, hiding a diverged run; so
 * they are written as null *and* listed under `"nonfinite"`, which makes divergence visible.
 */

export type MetricsRecord = Record<string, unknown>;

export function metricsPath(runName: string, root = "runs"): string {
  // A run name is one directory, not a path: "../x" or "a/b" would write outside runs/.
  if (!/^[\w.-]+$/.test(runName) || runName === "." || runName === "..") {
    throw new Error(`invalid run name "${runName}": use letters, digits, '.', '_' and '-'`);
  }
  return `${root}/${runName}/metrics.jsonl`;
}

/** Replaces non-finite numbers (at any depth) by null; returns the dotted paths replaced. */
function sanitize(value: unknown, path: string, found: string[]): unknown {
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    found.push(path);
    return null;
  }
  if (Array.isArray(value)) return value.map((v, i) => sanitize(v, `${path}.${i}`, found));
  if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = sanitize(v, path ? `${path}.${k}` : k, found);
    }
    return out;
  }
  // Typed arrays (e.g. per-layer norms) serialise as {"0": ...} by default; write them as lists.
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return sanitize(Array.from(value as unknown as ArrayLike<number>), path, found);
  }
  return value;
}

/** The JSON line (without newline) for a record. */
export function encodeRecord(record: MetricsRecord): string {
  if ("nonfinite" in record) throw new Error(`"nonfinite" is reserved in metrics records`);
  const found: string[] = [];
  const clean = sanitize(record, "", found) as MetricsRecord;
  if (found.length > 0) clean.nonfinite = found;
  return JSON.stringify(clean);
}

const encoder = new TextEncoder();

export class MetricsLog {
  #file: Deno.FsFile | undefined;

  private constructor(readonly path: string, file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Opens for appending (resume) or, with `append: false`, truncates. Creates parent dirs.
   * A partial last line left by a crash is cut off first; otherwise the next record would be
   * glued onto it and both lines lost.
   */
  static open(path: string, opts: { append?: boolean } = {}): MetricsLog {
    const append = opts.append ?? true;
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir) Deno.mkdirSync(dir, { recursive: true });
    if (append) dropPartialTail(path);
    const file = Deno.openSync(path, {
      write: true,
      create: true,
      append,
      truncate: !append,
    });
    return new MetricsLog(path, file);
  }

  write(record: MetricsRecord): void {
    if (this.#file === undefined) throw new Error(`metrics log ${this.path} is closed`);
    // One writeSync per line where possible; loop because a write may be partial.
    const bytes = encoder.encode(encodeRecord(record) + "\n");
    for (let off = 0; off < bytes.length;) off += this.#file.writeSync(bytes.subarray(off));
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The log's bytes, or null when it does not exist (yet). */
function readLog(path: string): Uint8Array | null {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Bytes of the log's whole lines: a partial last line (a crash mid-write) is not one. */
function wholeLines(bytes: Uint8Array): number {
  return bytes.lastIndexOf(0x0a) + 1;
}

function dropPartialTail(path: string): void {
  const bytes = readLog(path);
  if (bytes && wholeLines(bytes) < bytes.length) Deno.truncateSync(path, wholeLines(bytes));
}

/**
 * Keeps the records of the log at `path` (if any) whose step is at most `step`, plus those
 * without one; a partial last line is dropped first. Kept lines are written back as they were
 * (re-encoding would trip over the `nonfinite` list a record already carries).
 */
export function dropRecordsAfter(path: string, step: number): void {
  const bytes = readLog(path);
  if (!bytes) return;
  const text = new TextDecoder().decode(bytes.subarray(0, wholeLines(bytes)));
  Deno.writeTextFileSync(path, linesUpTo(text, step, path));
}

/** The lines of a metrics log whose record's step is at most `step` (or that have none). */
export function linesUpTo(text: string, step: number, source = "<metrics>"): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const records = parseMetrics(lines.join("\n"), source);
  return lines
    .filter((_, i) => typeof records[i].step !== "number" || (records[i].step as number) <= step)
    .map((l) => l + "\n")
    .join("");
}

/** Parses a metrics file; a bad line throws with `path:line`. Blank lines are skipped. */
export function readMetrics(path: string): MetricsRecord[] {
  return parseMetrics(Deno.readTextFileSync(path), path);
}

export function parseMetrics(text: string, source = "<metrics>"): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`${source}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw new Error(`${source}:${i + 1}: expected a JSON object, got ${line.slice(0, 40)}`);
    }
    out.push(v as MetricsRecord);
  }
  return out;
}
