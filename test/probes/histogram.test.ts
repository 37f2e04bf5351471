import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';
import { percentileKey } from '../../src/probes/histogram.js';
import { keyOf, lowerBound, RELATIVE_ERROR } from '../../src/probes/sketch.js';

let p: Probe | undefined;
afterEach(() => p?.close());

/** Deterministic standard normal numbers (Box–Muller over an LCG). */
function normals(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** The exact nearest-rank percentile: the ⌈q·n⌉-th smallest value. */
function exactPercentile(sorted: Float64Array, q: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

describe('Histogram percentiles', () => {
  it('are within 1% of the exact percentiles on 10^6 lognormal samples', () => {
    p = createProbe({ clock: () => 0 });
    const qs = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999];
    const h = p.histogram({ name: 'latency', unit: 'ms', percentiles: qs });
    const next = normals(12345);
    const values = new Float64Array(1_000_000);
    for (let i = 0; i < values.length; i++) {
      const v = Math.exp(Math.log(20) + 1.5 * next()); // median 20 ms, long tail
      values[i] = v;
      h.observe(v);
    }
    const sorted = values.slice().sort();
    const got = h.val() as unknown as Record<string, number>;
    for (const q of qs) {
      const exact = exactPercentile(sorted, q);
      const estimate = got[percentileKey(q)] as number;
      expect(Math.abs(estimate - exact) / exact, `p${q}`).toBeLessThanOrEqual(0.01);
      expect(Math.abs(estimate - exact) / exact, `p${q}`).toBeLessThanOrEqual(RELATIVE_ERROR);
    }
    expect(got.min).toBe(sorted[0]);
    expect(got.max).toBe(sorted[sorted.length - 1]);
    expect(got.windowCount).toBe(1_000_000);
  });

  it('report exact min, max and mean of the window', () => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'h' });
    for (const v of [3, 1, 4, 1, 5, 9, 2, 6]) h.observe(v);
    const v = h.val();
    expect(v.min).toBe(1);
    expect(v.max).toBe(9);
    expect(v.mean).toBe(31 / 8);
    expect(v.count).toBe(8);
    expect(v.sum).toBe(31);
  });

  it('order zeros and negative values correctly', () => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'delta', percentiles: [0, 0.2, 0.4, 0.6, 1] });
    for (const v of [-100, -10, 0, 0, 10]) h.observe(v);
    const v = h.val() as unknown as Record<string, number>;
    expect(v.p0).toBe(-100);
    expect(Math.abs((v.p20 as number) + 100) / 100).toBeLessThanOrEqual(RELATIVE_ERROR);
    expect(Math.abs((v.p40 as number) + 10) / 10).toBeLessThanOrEqual(RELATIVE_ERROR);
    expect(v.p60).toBe(0);
    expect(v.p100).toBe(10);
  });

  it('are null, as are min, max and mean, while the window is empty', () => {
    p = createProbe({ clock: () => 0 });
    const v = p.histogram({ name: 'empty', percentiles: [0.5, 0.99] }).val();
    expect(v).toEqual({ count: 0, sum: 0, windowSeconds: 60, windowCount: 0, min: null, max: null, mean: null, p50: null, p99: null });
  });

  it('are keyed by the digits of the quantile', () => {
    expect([0.5, 0.95, 0.999, 0.1, 0.05, 0.25, 1, 0].map(percentileKey)).toEqual([
      'p50',
      'p95',
      'p999',
      'p10',
      'p05',
      'p25',
      'p100',
      'p0',
    ]);
  });
});

describe('Histogram window', () => {
  it('drops observations older than the timeframe but keeps count and sum cumulative', () => {
    let t = 0;
    p = createProbe({ clock: () => t });
    const h = p.histogram({ name: 'w', timeframe: 60 });
    h.observe(1000);
    t = 30_000;
    h.observe(1);
    expect(h.val().max).toBe(1000);
    t = 65_000; // the first observation's step (0–10 s) has left the window
    const v = h.val();
    expect(v.max).toBe(1);
    expect(v.windowCount).toBe(1);
    expect(v.count).toBe(2);
    expect(v.sum).toBe(1001);
    t = 200_000;
    expect(h.val().windowCount).toBe(0);
    expect(h.val().count).toBe(2);
  });

  it('covers between five and six of its six steps', () => {
    let t = 0;
    p = createProbe({ clock: () => t });
    const h = p.histogram({ name: 'steps', timeframe: 60 });
    t = 9_999;
    h.observe(7); // step 0: [0, 10 s)
    t = 59_999;
    expect(h.val().windowCount).toBe(1);
    t = 60_000; // step 6 replaces step 0
    expect(h.val().windowCount).toBe(0);
  });
});

describe('Histogram buckets', () => {
  it('are cumulative, with the +Inf bucket equal to the count', () => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'b', buckets: [1, 2, 5] });
    for (const v of [0.5, 1, 1.5, 2, 3, 5, 7, 100]) h.observe(v);
    expect(h.buckets()).toEqual({ bounds: [1, 2, 5], counts: [2, 4, 6, 8] });
  });

  it('find the right bucket with a binary search when there are many', () => {
    p = createProbe({ clock: () => 0 });
    const bounds = Array.from({ length: 100 }, (_, i) => i + 1);
    const h = p.histogram({ name: 'many', buckets: bounds });
    for (let v = 0.5; v <= 101; v += 0.5) h.observe(v);
    const { counts } = h.buckets();
    for (let i = 0; i < 100; i++) expect(counts[i]).toBe(2 * (i + 1));
    expect(counts[100]).toBe(h.val().count);
  });

  it('default to the Prometheus seconds buckets, scaled to a time unit', () => {
    p = createProbe({ clock: () => 0 });
    expect(p.histogram({ name: 's', unit: 's' }).buckets().bounds).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    expect(p.histogram({ name: 'ms', unit: 'ms' }).buckets().bounds).toEqual([5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);
    expect(p.histogram({ name: 'bytes', unit: 'bytes' }).buckets().bounds).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  });

  it('accept a trailing +Inf bound as implicit', () => {
    p = createProbe({ clock: () => 0 });
    expect(p.histogram({ name: 'inf', buckets: [1, 2, Infinity] }).buckets().bounds).toEqual([1, 2]);
  });
});

describe('Histogram timers and aliases', () => {
  it('observe the elapsed time in the histogram unit from the injected clock', () => {
    let t = 1000;
    p = createProbe({ clock: () => t });
    const ms = p.histogram({ name: 'ms', unit: 'ms' });
    const s = p.histogram({ name: 'sec', unit: 's' });
    const plain = p.histogram({ name: 'plain' });
    const a = ms.startTimer();
    const b = s.startTimer();
    const c = plain.startTimer();
    t += 250;
    expect(a.end()).toBe(250);
    expect(b.end()).toBe(0.25);
    expect(c.end()).toBe(0.25); // no time unit: seconds, the Prometheus base unit
    expect(a.end()).toBe(250); // a second end() only reports
    expect(ms.val().count).toBe(1);
    expect(ms.val().sum).toBe(250);
  });

  it('takes update() as the pmx name of observe()', () => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'pmx' });
    h.update(3);
    expect(h.val().sum).toBe(3);
  });
});

describe('Sketch keys', () => {
  it('rise with the value and bound it from below within 1/64 of an octave', () => {
    let previous = -1;
    for (let v = 1e-6; v < 1e9; v *= 1.013) {
      const key = keyOf(v);
      expect(key).toBeGreaterThanOrEqual(previous);
      previous = key;
      const lo = lowerBound(key);
      const hi = lowerBound(key + 1);
      expect(lo).toBeLessThanOrEqual(v);
      expect(hi).toBeGreaterThan(v);
      expect((hi - lo) / lo).toBeLessThanOrEqual(1 / 64 + 1e-15);
    }
  });
});

describe('Histogram bucket lookup', () => {
  const layouts: Array<[string, number[]]> = [
    ['the default seconds buckets', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]],
    ['bounds that sit exactly on sketch bucket edges', [0.5, 1, 2, 4, 1024]],
    ['two bounds inside one sketch bucket', [1, 1.001, 1.002, 3]],
    ['negative, zero and positive bounds', [-10, -1, 0, 1e-300, 1, 10]],
    ['only non-positive bounds', [-5, -1, 0]],
    ['a very wide range', [1e-200, 1e-10, 1, 1e10, 1e200]],
    ['a single bound', [42]],
  ];

  it.each(layouts)('counts exactly like a brute-force scan with %s', (_name, bounds) => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'lookup', buckets: bounds });
    const brute = new Array<number>(bounds.length + 1).fill(0);
    const next = normals(99);
    const values: number[] = [...bounds, ...bounds.map((b) => b * (1 + 1e-15)), ...bounds.map((b) => b * (1 - 1e-15)), 0, -0, 5e-324, -5e-324];
    for (let i = 0; i < 20_000; i++) values.push((i % 3 === 0 ? -1 : 1) * Math.exp(next() * 20));
    for (const v of values) {
      h.observe(v);
      let i = 0;
      while (i < bounds.length && v > (bounds[i] as number)) i++;
      brute[i] = (brute[i] as number) + 1;
    }
    let acc = 0;
    expect(h.buckets().counts).toEqual(brute.map((c) => (acc += c)));
  });
});
