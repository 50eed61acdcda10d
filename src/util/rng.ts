/**
 * The seeded PRNG every random choice in resgpu draws from: data order, augmentation, synthetic
 * images and parameter initialization.
 */

/**
 * sfc32: small, fast, and its whole state is four u32s, so a training checkpoint can store it
 * and resume the exact same stream.
 */
export class Rng {
  #s = new Uint32Array(4);

  /** Seeds from any number of integers (e.g. seed, epoch, batch) mixed with splitmix32. */
  constructor(...seed: number[]) {
    this.seed(...seed);
  }

  /** Re-seeds in place, so per-batch streams need no new object. */
  seed(...seed: number[]): this {
    let h = 0x9e3779b9;
    for (const part of seed.length ? seed : [0]) {
      h = splitmix32(h ^ (part >>> 0)) ^ splitmix32(Math.floor(part / 2 ** 32) + 0x632be5ab);
    }
    for (let i = 0; i < 4; i++) this.#s[i] = h = splitmix32(h + i);
    // sfc32's first outputs are correlated with the seed; burn them.
    for (let i = 0; i < 12; i++) this.nextU32();
    return this;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.#s;
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal via Box–Muller (one value per call; simplicity over speed). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** In-place Fisher–Yates. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** The four state words, to store and resume the stream. */
  getState(): number[] {
    return Array.from(this.#s);
  }

  /** Restores a state from getState(). */
  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error(`Rng state must have 4 words, got ${state.length}`);
    for (let i = 0; i < 4; i++) this.#s[i] = state[i] >>> 0;
  }
}

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}
