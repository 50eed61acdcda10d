/**
 * The reliability fuzzer's driver: `deno run --allow-read tests/reliability/fuzz/driver.ts
 * [--seed N] [--scale F]` runs every target of ./targets.ts for its number of cases (times F),
 * each case a seeded mutation of a valid file, and prints one JSON summary: per target the
 * cases, correct loads, clear errors, failures (with the seed and mutation to replay them) and
 * milliseconds, and the process's peak resident memory. tests/reliability/fuzz.test.ts runs it
 * in a fresh process so that peak is the fuzzer's own.
 */
import { Rng } from "../../../src/util/rng.ts";
import { FUZZ_TARGETS, type FuzzTarget } from "./targets.ts";

const arg = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
};
const SEED = arg("--seed", 26);
const SCALE = arg("--scale", 1);
const TIMEOUT_MS = 10_000;

type Mutation = (b: Uint8Array, rng: Rng, t: FuzzTarget) => Uint8Array;

const BOUNDARY = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];

const MUTATIONS: [string, Mutation][] = [
  ["none", (b) => b],
  ["truncate", (b, rng) => b.slice(0, rng.int(b.length))],
  ["bit flips", (b, rng) => {
    const out = b.slice();
    for (let k = 1 + rng.int(8); k > 0 && out.length; k--) {
      out[rng.int(out.length)] ^= 1 << rng.int(8);
    }
    return out;
  }],
  ["boundary bytes", (b, rng) => {
    const out = b.slice();
    for (let k = 1 + rng.int(4); k > 0 && out.length; k--) {
      out[rng.int(out.length)] = BOUNDARY[rng.int(BOUNDARY.length)];
    }
    return out;
  }],
  ["lying length", (b, rng, t) => {
    const fields = t.lengthFields?.(b) ?? [];
    if (!fields.length) return b;
    const f = fields[rng.int(fields.length)];
    const out = b.slice();
    const v = new DataView(out.buffer);
    const le = !f.bigEndian;
    if (f.width === 8) {
      const old = v.getBigUint64(f.at, le);
      const lies = [
        0n,
        1n,
        old + 1n,
        old - 1n,
        2n ** 64n - 1n,
        2n ** 63n,
        BigInt(out.length),
        2n ** 32n,
      ];
      v.setBigUint64(f.at, BigInt.asUintN(64, lies[rng.int(lies.length)]), le);
    } else if (f.width === 4) {
      const old = v.getUint32(f.at, le);
      const lies = [0, 1, old + 1, old - 1, 0xffffffff, 0x7fffffff, 65536, old * 1000];
      v.setUint32(f.at, lies[rng.int(lies.length)] >>> 0, le);
    } else if (f.width === 2) v.setUint16(f.at, rng.int(65536), le);
    else out[f.at] = rng.int(256);
    return out;
  }],
  ["append", (b, rng) => {
    const extra = new Uint8Array(1 + rng.int(1000)).map(() => rng.int(256));
    const out = new Uint8Array(b.length + extra.length);
    out.set(b);
    out.set(extra, b.length);
    return out;
  }],
  ["repeat", (b, rng) => {
    if (!b.length) return b;
    const from = rng.int(b.length), len = 1 + rng.int(Math.min(512, b.length - from));
    const at = rng.int(b.length);
    const out = new Uint8Array(b.length + len);
    out.set(b.subarray(0, at));
    out.set(b.subarray(from, from + len), at);
    out.set(b.subarray(at), at + len);
    return out;
  }],
  ["format-aware", (b, rng, t) => {
    // Stacked after another mutation the input may no longer be in the format: leave it be.
    try {
      return t.mutate ? t.mutate(b, rng) : b;
    } catch {
      return b;
    }
  }],
];

/** Bytes a result holds in typed arrays (each buffer counted once). */
function resultBytes(r: unknown, seen = new Set<ArrayBufferLike>(), depth = 0): number {
  if (depth > 6 || r === null || typeof r !== "object") return 0;
  if (ArrayBuffer.isView(r)) {
    if (seen.has(r.buffer)) return 0;
    seen.add(r.buffer);
    return r.byteLength;
  }
  let n = 0;
  for (const v of r instanceof Map ? r.values() : Object.values(r)) {
    n += resultBytes(v, seen, depth + 1);
  }
  return n;
}

/** What a clear error is: an Error naming the file, not one an engine raised in passing. */
function unclear(e: unknown, file: string): string | null {
  if (!(e instanceof Error)) return `threw a non-Error: ${String(e)}`;
  if (!e.message.includes(file)) return `${e.name} without the file's name: ${e.message}`;
  if (e.message.length > 2000) return `a ${e.message.length}-character message`;
  return null;
}

async function withTimeout<T>(p: Promise<T> | T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve(p),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("TIMEOUT")), TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const summary = [];
for (const [ti, t] of FUZZ_TARGETS.entries()) {
  const t0 = performance.now();
  let loads = 0, errors = 0;
  const failures: { case: number; mutation: string; problem: string }[] = [];
  const cases = Math.max(1, Math.round(t.cases * SCALE));
  for (let i = 0; i < cases; i++) {
    const rng = new Rng(SEED, ti, i);
    const valid = await t.valid(rng);
    // Mostly one mutation, sometimes two stacked.
    const picks = [MUTATIONS[i % MUTATIONS.length]];
    if (i % 5 === 4) picks.push(MUTATIONS[1 + rng.int(MUTATIONS.length - 1)]);
    let bytes = valid;
    for (const [, m] of picks) bytes = m(bytes, rng, t);
    const file = `fuzz/${t.name}/${SEED}-${i}`;
    const mutation = picks.map(([n]) => n).join(" + ");
    try {
      const r = await withTimeout(t.parse(bytes, file));
      t.check(r);
      const held = resultBytes(r);
      if (held > Math.max(t.limitBytes, 2 * bytes.length)) {
        failures.push({ case: i, mutation, problem: `holds ${held} bytes past the limit` });
      }
      loads++;
    } catch (e) {
      if ((e as Error)?.message === "TIMEOUT") {
        failures.push({ case: i, mutation, problem: `no answer in ${TIMEOUT_MS} ms` });
        continue;
      }
      if (mutation === "none") {
        failures.push({ case: i, mutation, problem: `a valid file was refused: ${e}` });
        continue;
      }
      const problem = unclear(e, file);
      if (problem) failures.push({ case: i, mutation, problem });
      else errors++;
    }
  }
  summary.push({
    target: t.name,
    cases,
    loads,
    errors,
    failures,
    ms: Math.round(performance.now() - t0),
  });
}
let peakKb = NaN;
try {
  peakKb = Number(Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+)/)![1]);
} catch {
  // not Linux: no peak to report
}
console.log(JSON.stringify({ seed: SEED, targets: summary, peakKb }));
