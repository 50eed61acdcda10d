/**
 * Seeded deterministic PRNG (mulberry32) so that every test run, on every machine, sees the same
 * data; Math.random would make a failing case unreproducible.
 */
export class Rng {
  private state: number;

  constructor(seed = 1) {
    this.state = seed >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, hi). */
  int(hi: number): number {
    return Math.floor(this.next() * hi);
  }

  /** n floats uniform in [lo, hi). */
  uniform(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }

  /** n standard-normal floats (Box–Muller; 1 − u keeps the log argument in (0, 1]). */
  normal(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const u = 1 - this.next();
      const v = this.next();
      out[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
    return out;
  }

  /** A random permutation of 0..n-1 (Fisher–Yates); handy for tie-free maxpool inputs. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

/** Convenience: a fresh generator's uniform draw. */
export function uniform(n: number, lo = 0, hi = 1, seed = 1): Float32Array {
  return new Rng(seed).uniform(n, lo, hi);
}

/** Convenience: a fresh generator's normal draw. */
export function normal(n: number, seed = 1): Float32Array {
  return new Rng(seed).normal(n);
}
