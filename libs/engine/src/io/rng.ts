// Seeded PRNG (mulberry32) used for data order and initialisation: pure 32-bit integer math,
// so the same seed gives the same stream on every platform, thread and process.

/** JSON-serialisable generator state; restore it with `setState` to continue the same stream. */
export interface RngState {
  a: number;
  /** Second Box–Muller value waiting to be returned by `normal()`. */
  spare: number | null;
}

function mix32(x: number): number {
  // splitmix32 finaliser: spreads nearby seeds (0, 1, 2...) over unrelated streams.
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private spare: number | null = null;

  /** @param seed any safe integer (negative and > 2^32 are fine: all bits are used). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new Error(`Rng: seed must be a safe integer, got ${seed}; round it or hash your seed string to an integer first`);
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    this.a = mix32(lo ^ mix32(hi));
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Gaussian sample (Box–Muller); values come in pairs, the second is kept in the state. */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + std * z;
    }
    const u1 = 1 - this.next(); // (0, 1]: log(0) would be -Infinity
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return mean + std * r * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  getState(): RngState {
    return { a: this.a, spare: this.spare };
  }

  setState(state: RngState): void {
    if (!state || !Number.isInteger(state.a) || (state.spare !== null && !Number.isFinite(state.spare))) {
      throw new Error(`Rng.setState: invalid state ${JSON.stringify(state)}; pass an object returned by getState()`);
    }
    this.a = state.a | 0;
    this.spare = state.spare;
  }
}
