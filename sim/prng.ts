/**
 * The crash lab's seeded pseudo-random generator (SPEC 5.6: never Math.random in sim/).
 * sfc32 seeded through splitmix32: small, fast, and the same sequence on every machine.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in [0, bound); bound a positive integer <= 2^53. */
  below(bound: number): number {
    if (bound <= 0x1_0000_0000) return Math.floor((this.nextU32() / 0x1_0000_0000) * bound);
    const high = this.nextU32() * 0x20_0000 + (this.nextU32() >>> 11); // 53 random bits
    return Math.floor((high / 2 ** 53) * bound);
  }

  /** A seed for a derived generator (so that sub-explorations do not share one stream). */
  fork(): number {
    return this.nextU32();
  }
}

/** Mixes a few integers into one 32-bit seed (deterministic, order-sensitive). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x01000193);
    h = Math.imul(h ^ Math.floor(part / 0x1_0000_0000), 0x01000193);
    h ^= h >>> 15;
  }
  return h >>> 0;
}
