/**
 * A log-linear sketch for percentiles with a bounded relative error.
 *
 * A positive double's bits are sign(1) · exponent(11) · mantissa(52). Its top 17 bits
 * after the sign, `exponent · 2^6 + top 6 mantissa bits`, rise with the value, so they
 * index buckets that split every power of two into 64 equal parts. No `Math.log`: one
 * typed-array store and one load. A bucket spans at most 1/64 of its lower bound, so its
 * midpoint is within 1/128 (0.78%) of any value in it.
 */

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Index of the high 32-bit word of `f64[0]` in `u32`: 1 on little-endian machines. */
export const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

/** Mantissa bits kept per power of two: 2^6 = 64 buckets per octave. */
export const SUB_BITS = 6;
/** Right shift that turns the high word of a positive double into its bucket key. */
export const KEY_SHIFT = 20 - SUB_BITS;
/** Worst-case relative error of a bucket midpoint. */
export const RELATIVE_ERROR = 1 / (2 << SUB_BITS);

/** Bucket key of a positive finite value. */
export function keyOf(value: number): number {
  f64[0] = value;
  return (u32[HI] as number) >>> KEY_SHIFT;
}

/** Lowest value in bucket `key`. */
export function lowerBound(key: number): number {
  u32[HI] = key << KEY_SHIFT;
  u32[LO] = 0;
  return f64[0] as number;
}

/** Representative value of bucket `key`: its midpoint. */
export function midpoint(key: number): number {
  return (lowerBound(key) + lowerBound(key + 1)) / 2;
}

const EMPTY = new Uint32Array(0);
const FIRST_SIZE = 128;

/**
 * Most buckets one store keeps: 2048 = 32 powers of two at 64 per octave, so values from
 * the largest seen down to 2^-32 (about 2.3e-10) of it keep the 0.78% bound. A store
 * never holds more than 2048 four-byte counts (8 KiB), whatever it is fed; values below
 * the range it keeps collapse into its lowest bucket (see {@link LogStore.grow}).
 */
export const MAX_KEYS = 2048;

/**
 * Counts per bucket key over a dense range that grows (rarely) to fit new keys, up to
 * {@link MAX_KEYS} buckets; beyond that the lowest keys collapse into the lowest bucket,
 * so the largest values (the high percentiles) keep their accuracy.
 */
export class LogStore {
  /** Counts, `counts[i]` for key `offset + i`. Empty until the first value. */
  counts: Uint32Array = EMPTY;
  offset = 0;

  /**
   * Makes room for `key`; returns the index to count it at. Called only when `key` is
   * outside the current range; allocates only while the range grows below its cap.
   */
  grow(key: number): number {
    const counts = this.counts;
    const len = counts.length;
    if (len === 0) {
      this.counts = new Uint32Array(FIRST_SIZE);
      this.offset = Math.max(0, key - FIRST_SIZE / 2);
      return key - this.offset;
    }
    // Full, and already counting collapsed values in its lowest bucket: no scan.
    if (key < this.offset && len === MAX_KEYS && counts[0] !== 0) return 0;
    let lo = -1;
    let hi: number;
    for (let i = 0; i < len; i++) {
      if (counts[i] !== 0) {
        lo = this.offset + i;
        break;
      }
    }
    if (lo === -1) {
      // Empty (cleared): move the range to the key, keeping the memory.
      this.offset = Math.max(0, key - (len >> 1));
      return key - this.offset;
    }
    for (let i = len - 1; ; i--) {
      if (counts[i] !== 0) {
        hi = this.offset + i;
        break;
      }
    }
    lo = Math.min(lo, key);
    hi = Math.max(hi, key);
    if (hi - lo + 1 <= MAX_KEYS) {
      const size = Math.min(MAX_KEYS, Math.max(len * 2, hi - lo + 1));
      const offset = key < this.offset ? Math.max(0, hi - size + 1) : lo;
      const next = new Uint32Array(size);
      for (let i = 0; i < len; i++) if (counts[i] !== 0) next[this.offset + i - offset] = counts[i] as number;
      this.counts = next;
      this.offset = offset;
      return key - offset;
    }
    // Over the cap: keep the top MAX_KEYS keys; everything below lands in the lowest bucket.
    const offset = hi - MAX_KEYS + 1;
    const next = new Uint32Array(MAX_KEYS);
    for (let i = 0; i < len; i++) {
      const c = counts[i] as number;
      if (c !== 0) {
        const j = Math.max(this.offset + i, offset) - offset;
        next[j] = (next[j] as number) + c;
      }
    }
    this.counts = next;
    this.offset = offset;
    return Math.max(key, offset) - offset;
  }

  /** Zeroes the counts, keeping the memory for reuse. */
  clear(): void {
    this.counts.fill(0);
  }
}
