import type { Family, LabelValues } from './family.js';
import { HI, KEY_SHIFT, keyOf, LogStore, lowerBound, MAX_KEYS, midpoint } from './sketch.js';
import { Tap } from './tap.js';
import { ringIndex, type TimeSource } from './time.js';
import type { HistogramValue } from './types.js';
import { msPerUnit } from '../util/units.js';

/** How finely a histogram's window is cut: this many steps per `timeframe`. */
export const HISTOGRAM_STEPS = 6;

/** prom-client's and the Prometheus clients' default buckets, in seconds. */
export const DEFAULT_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Default percentiles reported by `val()`. */
export const DEFAULT_PERCENTILES: readonly number[] = [0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

/** `0.5` → `p50`, `0.999` → `p999`, `0.1` → `p10`, `0.05` → `p05`, `1` → `p100`. */
export function percentileKey(q: number): string {
  if (q === 1) return 'p100';
  if (q === 0) return 'p0';
  const digits = String(q).slice(2);
  return `p${digits.length < 2 ? digits.padEnd(2, '0') : digits}`;
}

/** One step of the window. */
class WindowStep {
  sum = 0;
  min = Infinity;
  max = -Infinity;
  zeros = 0;
  readonly pos = new LogStore();
  /** Magnitudes of negative observations; rare. */
  readonly neg = new LogStore();

  /** True when nothing was observed in this step (every observation lowers `min`). */
  get empty(): boolean {
    return this.min === Infinity;
  }

  clear(): void {
    if (this.empty) return;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.zeros = 0;
    this.pos.clear();
    this.neg.clear();
  }

  /** Records a value that is zero, negative or subnormal (off the fast path). */
  addOther(v: number): void {
    if (v === 0) {
      this.zeros++;
      return;
    }
    f64[0] = v < 0 ? -v : v;
    const key = (u32[HI] as number) >>> KEY_SHIFT;
    const store = v < 0 ? this.neg : this.pos;
    let i = key - store.offset;
    if (i >>> 0 >= store.counts.length) i = store.grow(key);
    (store.counts[i] as number)++;
  }
}

// Scratch views for the sketch key; module-level so the hot path loads no property.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI_WORD = HI;

/** Smallest positive normal double; below it the float-bits key is not logarithmic. */
const SMALLEST_NORMAL = 2.2250738585072014e-308;

/** Table entry for a sketch key whose range holds a bound: compare against the bounds. */
const STRADDLES = 0xffff;

/**
 * Prometheus bucket bounds plus a table from sketch key to bucket index, built once per
 * family. A key whose value range holds no bound maps every value in it to one bucket;
 * the few keys that hold a bound are marked {@link STRADDLES}. The table spans the
 * positive bounds' keys; keys below it land after the non-positive bounds, keys above
 * it in +Inf.
 */
export class BucketLayout {
  readonly bounds: Float64Array;
  readonly table: Uint16Array;
  readonly offset: number;
  /** Bucket of positive values below the table: the first bucket above every non-positive bound. */
  readonly below: number;

  constructor(bounds: readonly number[]) {
    this.bounds = Float64Array.from(bounds);
    const firstPositive = bounds.findIndex((b) => b >= SMALLEST_NORMAL);
    this.below = firstPositive === -1 ? bounds.length : firstPositive;
    if (firstPositive === -1) {
      this.table = new Uint16Array(0);
      this.offset = 0;
      return;
    }
    const first = keyOf(bounds[firstPositive] as number);
    const last = keyOf(bounds[bounds.length - 1] as number);
    this.offset = first;
    this.table = new Uint16Array(last - first + 1);
    for (let key = first; key <= last; key++) {
      const lo = lowerBound(key);
      const i = bucketIndex(this.bounds, lo);
      const straddles = i < bounds.length && (bounds[i] as number) < lowerBound(key + 1);
      this.table[key - first] = straddles ? STRADDLES : i;
    }
  }
}

/** First index whose bound is >= v (bounds.length when none): the Prometheus `le` bucket. */
function bucketIndex(bounds: Float64Array, v: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v > (bounds[mid] as number)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}


/**
 * Distribution of observed values: cumulative Prometheus buckets, count and sum, plus
 * min/max/mean and percentiles over a sliding window (default the last 60 s, advanced
 * in six steps, so it covers between 50 and 60 s).
 *
 * Percentiles come from a log-linear sketch and are within 0.78% of the exact ones.
 *
 * @example
 * const latency = probe.histogram({ name: 'http_request_duration', unit: 'ms' });
 * const timer = latency.startTimer();
 * // ... handle the request ...
 * timer.end(); // observes the elapsed milliseconds
 * latency.val().p99;
 */
export class Histogram<L extends string = string> {
  /** @internal */ _count = 0;
  /** @internal True once a negative value was observed (OpenMetrics then carries no `_sum`). */
  _negative = false;
  /** @internal */ _sum = 0;
  /** @internal Upper bounds (`le`) and the key → bucket table, shared by the family. */
  readonly _layout: BucketLayout;
  /** @internal Per-bucket (non-cumulative) counts; the last entry is the +Inf bucket. */
  readonly _counts: Float64Array;
  /** @internal */ _seen: number;
  /** @internal */ _step: number;
  /** @internal */ _win: WindowStep;
  /** @internal */ readonly _steps: WindowStep[];
  /** @internal */ readonly _stepMs: number;
  /** @internal */ readonly _time: TimeSource;
  /** @internal */ readonly _percentiles: readonly number[];
  /** @internal */ readonly _percentileKeys: readonly string[];
  /** @internal Each percentile as an exact fraction, for exact ranks. */
  readonly _ranks: readonly Fraction[];
  /** @internal */ readonly _timerScale: number;
  /** @internal */ readonly _family: Family<Histogram<L>>;
  /** @internal Raw observations for an exporter that sends each value (StatsD); usually none. */
  _tap: Tap | undefined;
  /** Label values of this series; `{}` for the unlabelled series. */
  readonly labelValues: LabelValues<L>;

  /** @internal Created by `probe.histogram()` and `labels()`, not directly. */
  constructor(
    family: Family<Histogram<L>>,
    labelValues: LabelValues,
    layout: BucketLayout,
    percentiles: readonly number[],
    timeframe: number,
    time: TimeSource = family.owner.time,
  ) {
    this._family = family;
    this.labelValues = labelValues as LabelValues<L>;
    this._time = time;
    this._layout = layout;
    this._counts = new Float64Array(layout.bounds.length + 1);
    this._percentiles = percentiles;
    this._percentileKeys = percentiles.map(percentileKey);
    this._ranks = percentiles.map(exactFraction);
    this._timerScale = 1 / (msPerUnit(family.unit) ?? 1000);
    this._stepMs = (timeframe * 1000) / HISTOGRAM_STEPS;
    this._steps = Array.from({ length: HISTOGRAM_STEPS }, () => new WindowStep());
    this._step = Math.floor(this._time.now() / this._stepMs);
    this._win = this._steps[ringIndex(this._step, HISTOGRAM_STEPS)] as WindowStep;
    this._seen = this._time.tick;
    this._tap = family.tap === undefined ? undefined : new Tap(family.tap);
  }

  /**
   * Records one observation. NaN, ±Infinity, a non-number, or a value that would take the
   * sum past `Number.MAX_VALUE` is dropped and counted in `probekit_dropped_values_total`.
   */
  observe(v: number): void {
    if (typeof v !== 'number') {
      this._family.drop();
      return;
    }
    if (this._time.tick !== this._seen) this._sync(this._time.now());
    const w = this._win;
    // `x - x` is 0 only for finite x: one check each covers a NaN or infinite `v` and a
    // sum (all-time or this window step's) that would overflow past Number.MAX_VALUE.
    const sum = this._sum + v;
    const stepSum = w.sum + v;
    if (sum - sum !== 0 || stepSum - stepSum !== 0) {
      this._family.drop();
      return;
    }
    this._count++;
    this._sum = sum;
    w.sum = stepSum;
    let i: number;
    if (v >= SMALLEST_NORMAL) {
      // The sketch key comes from the float's bits (see sketch.ts), no Math.log, and the
      // same key finds the Prometheus bucket in a table: no branchy scan over the bounds.
      f64[0] = v;
      const key = (u32[HI_WORD] as number) >>> KEY_SHIFT;
      const store = w.pos;
      let j = key - store.offset;
      if (j >>> 0 >= store.counts.length) j = store.grow(key); // replaces store.counts: index it after
      (store.counts[j] as number)++;
      const layout = this._layout;
      const t = key - layout.offset;
      if (t >>> 0 < layout.table.length) {
        i = layout.table[t] as number;
        if (i === STRADDLES) i = bucketIndex(layout.bounds, v);
      } else {
        i = t < 0 ? layout.below : layout.bounds.length;
      }
    } else {
      if (v < 0) this._negative = true;
      w.addOther(v);
      i = bucketIndex(this._layout.bounds, v);
    }
    if (v < w.min) w.min = v;
    if (v > w.max) w.max = v;
    const tap = this._tap;
    if (tap !== undefined) tap.add(v);
    (this._counts[i] as number)++;
  }

  /** pmx's name for {@link Histogram.observe}. */
  update(v: number): void {
    this.observe(v);
  }

  /**
   * Starts a timer; `end()` observes the elapsed time in the histogram's unit (`ms`,
   * `s`, `us`, `ns`, `min`; seconds when the unit is not a time unit) and returns it.
   */
  startTimer(): HistogramTimer {
    return new HistogramTimer(this);
  }

  /** Cumulative count and sum, and the window's min, max, mean and percentiles. */
  val(): HistogramValue {
    this._sync(this._time.now());
    const steps = this._steps;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const s of steps) {
      sum += s.sum;
      if (s.min < min) min = s.min;
      if (s.max > max) max = s.max;
    }
    const pos = merge(steps, 'pos');
    const neg = merge(steps, 'neg');
    let zeros = 0;
    for (const s of steps) zeros += s.zeros;
    const count = pos.total + neg.total + zeros;
    const out: Record<string, number | null> = {
      count: this._count,
      sum: this._sum,
      windowSeconds: (this._stepMs * HISTOGRAM_STEPS) / 1000,
      windowCount: count,
      min: count === 0 ? null : min,
      max: count === 0 ? null : max,
      mean: count === 0 ? null : mean(steps, sum, count),
    };
    const values = count === 0 ? undefined : quantiles(pos, neg, zeros, count, this._ranks, min, max);
    for (let i = 0; i < this._percentileKeys.length; i++) {
      out[this._percentileKeys[i] as string] = values === undefined ? null : (values[i] as number);
    }
    return out as unknown as HistogramValue;
  }

  /** Cumulative bucket counts, one per bound plus the final +Inf bucket. */
  buckets(): { readonly bounds: readonly number[]; readonly counts: readonly number[] } {
    const counts: number[] = [];
    let acc = 0;
    for (const c of this._counts) counts.push((acc += c));
    return { bounds: Array.from(this._layout.bounds), counts };
  }

  /** The child series for these label values (cached): hold it to make `observe()` as cheap as an unlabelled one. */
  labels(values: LabelValues<L>): Histogram<L> {
    return this._family.child(values);
  }

  /** @internal Moves the window to `now`, clearing the steps it moves into. */
  _sync(now: number): void {
    this._seen = this._time.tick;
    const step = Math.floor(now / this._stepMs);
    const gap = step - this._step;
    if (gap <= 0) return;
    const n = HISTOGRAM_STEPS;
    for (let k = 1; k <= Math.min(gap, n); k++) (this._steps[ringIndex(this._step + k, n)] as WindowStep).clear();
    this._step = step;
    this._win = this._steps[ringIndex(step, n)] as WindowStep;
  }
}

/** Times one operation for a histogram; see {@link Histogram.startTimer}. */
export class HistogramTimer {
  private readonly histogram: Histogram<string>;
  private readonly start: number;
  private ended = false;

  /** @internal */
  constructor(histogram: Histogram<string>) {
    this.histogram = histogram;
    this.start = histogram._time.precise();
  }

  /** Observes and returns the elapsed time in the histogram's unit; later calls only return it. */
  end(): number {
    const elapsed = (this.histogram._time.precise() - this.start) * this.histogram._timerScale;
    if (!this.ended) {
      this.ended = true;
      this.histogram.observe(elapsed);
    }
    return elapsed;
  }
}

/** A percentile as the exact decimal it was written as: `0.07` is 7/100, not the double nearest it. */
export interface Fraction {
  readonly num: bigint;
  readonly den: bigint;
}

/**
 * `q` as the fraction of its shortest decimal form (the digits JavaScript prints, so
 * `0.07` → 7/100 and `1e-7` → 1/10000000). Nearest ranks computed from it are exact;
 * `Math.ceil(0.07 * 100)` is 8 in floating point.
 */
export function exactFraction(q: number): Fraction {
  const [mantissa = '0', exponent = '0'] = String(q).split('e');
  const [whole = '0', frac = ''] = mantissa.split('.');
  let num = BigInt(whole + frac);
  let den = 10n ** BigInt(frac.length);
  const e = Number(exponent);
  if (e > 0) num *= 10n ** BigInt(e);
  else den *= 10n ** BigInt(-e);
  return { num, den };
}

/** The nearest rank ⌈q·n⌉ of fraction `q` among `n` values, exactly, clamped to [1, n]. */
export function nearestRank(q: Fraction, n: number): number {
  const big = BigInt(n);
  const rank = Number((q.num * big + q.den - 1n) / q.den);
  return rank < 1 ? 1 : rank > n ? n : rank;
}

/** The window's mean; when the steps' sums add past Number.MAX_VALUE, summed as sum/count per step. */
function mean(steps: readonly WindowStep[], sum: number, count: number): number {
  if (sum - sum === 0) return sum / count;
  let out = 0;
  for (const s of steps) out += s.sum / count;
  return out;
}

/**
 * Nearest-rank percentiles (exact rank ⌈q·n⌉) over the merged window: negatives from the
 * most negative up, then zeros, then positives; each reported as its bucket's midpoint,
 * clamped to the window's exact min and max. Rank 1 is the exact min, rank n the exact max.
 */
function quantiles(pos: Merged, neg: Merged, zeros: number, count: number, ranks: readonly Fraction[], min: number, max: number): number[] {
  const out: number[] = [];
  for (const q of ranks) {
    const rank = nearestRank(q, count);
    if (rank === 1) out.push(min);
    else if (rank === count) out.push(max);
    else out.push(Math.min(max, Math.max(min, valueAtRank(rank, pos, neg, zeros))));
  }
  return out;
}

interface Merged {
  readonly counts: Float64Array;
  readonly offset: number;
  readonly total: number;
}

/**
 * One side's counts over every step of the window, capped like a store at
 * {@link MAX_KEYS} buckets below the highest key (keys under that fold into the lowest
 * bucket), so a read allocates at most 16 KiB per side whatever the steps hold.
 */
function merge(steps: readonly WindowStep[], side: 'pos' | 'neg'): Merged {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of steps) {
    const store = s[side];
    if (s.empty || store.counts.length === 0) continue;
    lo = Math.min(lo, store.offset);
    hi = Math.max(hi, store.offset + store.counts.length - 1);
  }
  if (lo === Infinity) return { counts: new Float64Array(0), offset: 0, total: 0 };
  lo = Math.max(lo, hi - MAX_KEYS + 1);
  const counts = new Float64Array(hi - lo + 1);
  let total = 0;
  for (const s of steps) {
    const store = s[side];
    if (s.empty) continue;
    for (let i = 0; i < store.counts.length; i++) {
      const c = store.counts[i] as number;
      if (c !== 0) {
        const j = Math.max(store.offset + i, lo) - lo;
        counts[j] = (counts[j] as number) + c;
        total += c;
      }
    }
  }
  return { counts, offset: lo, total };
}

function valueAtRank(rank: number, pos: Merged, neg: Merged, zeros: number): number {
  let seen = 0;
  // Negative values ascend as their magnitude's key descends.
  for (let i = neg.counts.length - 1; i >= 0; i--) {
    seen += neg.counts[i] as number;
    if (seen >= rank) return -midpoint(neg.offset + i);
  }
  seen += zeros;
  if (seen >= rank) return 0;
  for (let i = 0; i < pos.counts.length; i++) {
    seen += pos.counts[i] as number;
    if (seen >= rank) return midpoint(pos.offset + i);
  }
  /* c8 ignore next */
  return lowerBound(pos.offset + pos.counts.length);
}
