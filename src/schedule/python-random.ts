/**
 * The pseudo-random numbers of CPython's `random.Random`, as far as backy
 * 2.x used them: seeding with an integer and `randint`. A job's spread must
 * come out exactly as the original computed it, or every migrated job would
 * run at another time of day; so this follows CPython's Mersenne Twister
 * (MT19937) bit for bit, including how it turns a big integer into a seed
 * and how `randint` rejects draws.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class PythonRandom {
  private readonly state = new Uint32Array(N);
  private index = N;

  /** `random.Random(seed)` for a non-negative integer seed. */
  constructor(seed: bigint) {
    if (seed < 0n) throw new RangeError('the seed must not be negative');
    this.seedByArray(seedWords(seed));
  }

  /** `randint(low, high)`: an integer in [low, high], both ends included. */
  randint(low: number, high: number): number {
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || high < low) {
      throw new RangeError(`randint needs integers low <= high, not ${low} and ${high}`);
    }
    return low + this.randbelow(high - low + 1);
  }

  /**
   * An integer in [0, n): draws of n's bit length until one is below n
   * (CPython's `_randbelow_with_getrandbits`).
   */
  randbelow(n: number): number {
    const bits = bitLength(n);
    let draw = this.getrandbits(bits);
    while (draw >= n) draw = this.getrandbits(bits);
    return draw;
  }

  /** `getrandbits(k)` for k up to 53, so the result stays exact in a number. */
  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 1 || k > 53) throw new RangeError(`getrandbits supports 1 to 53 bits, not ${k}`);
    if (k <= 32) return this.nextUint32() >>> (32 - k);
    // 32-bit words from the least significant up; the last one keeps its high bits.
    const low = this.nextUint32();
    const high = this.nextUint32() >>> (64 - k);
    return high * 2 ** 32 + low;
  }

  private nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.state;
    for (let i = 0; i < N; i++) {
      const y = (mt[i]! & UPPER_MASK) | (mt[(i + 1) % N]! & LOWER_MASK);
      mt[i] = mt[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.index = 0;
  }

  /** MT19937's `init_genrand`; the Uint32Array keeps every value modulo 2^32. */
  private seedWithInteger(seed: number): void {
    const mt = this.state;
    mt[0] = seed;
    for (let i = 1; i < N; i++) {
      const previous = mt[i - 1]!;
      mt[i] = Math.imul(1812433253, previous ^ (previous >>> 30)) + i;
    }
    this.index = N;
  }

  /** MT19937's `init_by_array`, which CPython uses for every integer seed. */
  private seedByArray(key: readonly number[]): void {
    const mt = this.state;
    this.seedWithInteger(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const previous = mt[i - 1]!;
      mt[i] = (mt[i]! ^ Math.imul(previous ^ (previous >>> 30), 1664525)) + key[j]! + j;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const previous = mt[i - 1]!;
      mt[i] = (mt[i]! ^ Math.imul(previous ^ (previous >>> 30), 1566083941)) - i;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
    this.index = N;
  }
}

/** The seed's 32-bit words, least significant first, as many as its bit length needs (at least one). */
function seedWords(seed: bigint): number[] {
  const words: number[] = [];
  for (let rest = seed; rest > 0n; rest >>= 32n) words.push(Number(rest & 0xffffffffn));
  return words.length > 0 ? words : [0];
}

function bitLength(n: number): number {
  let bits = 0;
  for (let rest = n; rest >= 1; rest = Math.floor(rest / 2)) bits++;
  return bits;
}
