import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, prometheus, type Probe, type Snapshot } from '../../src/index.js';
import { MAX_KEYS } from '../../src/probes/sketch.js';

let p: Probe | undefined;
afterEach(() => p?.close());

function selfCount(s: Snapshot, exportName: string, metric: string): number | undefined {
  const family = s.metrics.find((f) => f.exportName === exportName);
  if (family === undefined || family.kind !== 'counter') throw new Error(`no counter family ${exportName}`);
  return family.series.find((x) => x.labels.metric === metric)?.value;
}

const throwingProxy = (): object =>
  new Proxy(
    {},
    {
      get: () => {
        throw new Error('get trap');
      },
      getPrototypeOf: () => {
        throw new Error('getPrototypeOf trap');
      },
      has: () => {
        throw new Error('has trap');
      },
      ownKeys: () => {
        throw new Error('ownKeys trap');
      },
    },
  );

/** Value functions that each go wrong differently; none may take a read, a snapshot or a scrape down. */
const hostile: Array<[string, () => unknown]> = [
  ['returns a Promise that rejects', () => Promise.reject(new Error('async failure'))],
  ['returns a Promise that resolves', () => Promise.resolve(1)],
  ['returns a thenable whose then throws', () => ({ then: () => { throw new Error('then'); } })],
  ['returns a null-prototype object', () => Object.create(null) as object],
  ['returns a Proxy whose traps throw', throwingProxy],
  ['throws a non-Error', () => { throw 'plain string'; }],
  ['throws null', () => { throw null; }],
  ['throws a null-prototype object', () => { throw Object.create(null); }],
  ['throws a Proxy whose traps throw', () => { throw throwingProxy(); }],
];

describe('A hostile metric value function', () => {
  it.each(hostile)('that %s is read as failed and counted, and the other probes are still read', async (_what, fn) => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => {
      rejections.push(reason);
    };
    process.on('unhandledRejection', onRejection);
    try {
      p = createProbe();
      const bad = p.metric({ name: 'bad', value: fn as () => number });
      p.counter({ name: 'good' }).inc(7);
      expect(bad.val()).toBeUndefined();
      const snapshot = p.snapshot();
      const family = snapshot.metrics.find((f) => f.name === 'bad');
      expect(family?.kind === 'metric' && family.series[0]?.type).toBe('failed');
      expect(snapshot.metrics.find((f) => f.name === 'good')?.series).toEqual([{ labels: {}, value: 7 }]);
      const text = await prometheus.text({ registry: p });
      expect(text).toContain('good 7\n');
      expect(text).not.toMatch(/^bad /m);
      const om = await prometheus.text({ registry: p, openMetrics: true });
      expect(om).toContain('good 7\n');
      // val(), snapshot() and two scrapes: four failed reads.
      expect(selfCount(p.snapshot(), 'probekit_failed_reads', 'bad')).toBe(5);
      // Let any rejection surface: a rejecting Promise left unhandled would arrive here.
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('names the reason of a Promise in the failed series', () => {
    p = createProbe();
    p.metric({ name: 'async', value: (() => Promise.resolve(1)) as unknown as () => number });
    const family = p.snapshot().metrics.find((f) => f.name === 'async');
    expect(family?.series).toEqual([
      { labels: {}, type: 'failed', error: 'value function returned a Promise; value functions must return a value synchronously' },
    ]);
  });
});

describe('metric.set() with a hostile value', () => {
  it.each([
    ['a Proxy whose traps throw', throwingProxy()],
    ['a null-prototype object', Object.create(null) as object],
    ['an object posing as a Date', Object.create(Date.prototype) as object],
    ['a revoked Proxy', (() => { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; })()],
  ])('does not throw for %s, keeps the previous value and counts a drop', (_what, value) => {
    p = createProbe();
    const m = p.metric({ name: 'm', value: 1 });
    expect(() => m.set(value as never)).not.toThrow();
    expect(m.val()).toBe(1);
    expect(selfCount(p.snapshot(), 'probekit_dropped_values', 'm')).toBe(1);
  });

  it('keeps a copy of a Date taken at set(), so a later change to the caller’s Date does not change it', () => {
    p = createProbe();
    const when = new Date(1_000);
    const m = p.metric({ name: 'when' });
    m.set(when);
    when.setTime(2_000);
    expect(m.val()).toEqual(new Date(1_000));
  });
});

describe('Values that would overflow past Number.MAX_VALUE', () => {
  const big = Number.MAX_VALUE;

  it('are dropped and counted by counter.inc() and counter.dec(), and the count stays finite', () => {
    p = createProbe();
    const c = p.counter({ name: 'c' });
    c.inc(big);
    c.inc(big);
    expect(c.val()).toBe(big);
    c.dec(big);
    c.dec(big);
    c.dec(big);
    expect(c.val()).toBe(-big);
    expect(selfCount(p.snapshot(), 'probekit_dropped_values', 'c')).toBe(2);
  });

  it('are dropped and counted by meter.mark(), and the total and rate stay finite', () => {
    p = createProbe({ clock: () => 0 });
    const m = p.meter({ name: 'm' });
    m.mark(big);
    m.mark(big);
    expect(m.total()).toBe(big);
    expect(Number.isFinite(m.val())).toBe(true);
    expect(selfCount(p.snapshot(), 'probekit_dropped_values', 'm')).toBe(1);
  });

  it('are dropped and counted by histogram.observe(), and the sum and mean stay finite', () => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'h' });
    h.observe(big);
    h.observe(big); // sum would be 2·MAX: dropped
    h.observe(-big); // sum 0
    h.observe(-big); // sum -MAX
    expect(h.val()).toMatchObject({ count: 3, sum: -big, min: -big, max: big, mean: -big / 3 });
    expect(selfCount(p.snapshot(), 'probekit_dropped_values', 'h')).toBe(1);
  });

  it('are dropped by histogram.observe() when one window step would overflow though the all-time sum would not', () => {
    let now = 0;
    p = createProbe({ clock: () => now });
    const h = p.histogram({ name: 'h', timeframe: 60 });
    h.observe(-big); // all-time sum -MAX
    now = 120_000; // the window has moved past it
    h.observe(big); // all-time sum 0, step sum MAX
    h.observe(big); // all-time sum MAX, but the step sum would be 2·MAX
    expect(h.val()).toMatchObject({ count: 2, sum: 0, windowCount: 1, mean: big });
    expect(selfCount(p.snapshot(), 'probekit_dropped_values', 'h')).toBe(1);
  });

  it('keep the window mean finite when the steps together add past MAX_VALUE', () => {
    let now = 0;
    p = createProbe({ clock: () => now });
    const h = p.histogram({ name: 'h', timeframe: 60 });
    h.observe(-big); // leaves the window; keeps the all-time sum low
    now = 120_000;
    h.observe(big);
    now = 130_000; // the next step
    h.observe(big / 2); // all-time sum MAX/2, window steps MAX and MAX/2
    const v = h.val();
    expect(v.windowCount).toBe(2);
    expect(v.mean).toBe(big / 2 + big / 4);
  });
});

/** The exact nearest rank ⌈q·n⌉, from q's decimal digits, by integer arithmetic only. */
function exactRank(q: number, n: number): number {
  const [int, frac = ''] = String(q).split('.');
  const num = BigInt(`${int}${frac}`);
  const den = 10n ** BigInt(frac.length);
  let k = (num * BigInt(n)) / den;
  if (k * den < num * BigInt(n)) k++;
  return Math.min(n, Math.max(1, Number(k)));
}

describe('Histogram percentile ranks', () => {
  it('are exact: p7 of 1..100 is 7, not the 8th value floating point gives', () => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'h', percentiles: [0.07] });
    for (let v = 1; v <= 100; v++) h.observe(v);
    expect(Math.ceil(0.07 * 100)).toBe(8); // the floating-point rank this replaces
    const p07 = h.val().p07 as number;
    expect(Math.abs(p07 - 7) / 7).toBeLessThanOrEqual(1 / 128); // 7's bucket midpoint, not 8's
    expect(Math.abs(p07 - 8) / 8).toBeGreaterThan(1 / 128);
  });

  it('match the exact rank for many percentiles at every count from 1 to 400', () => {
    const qs = [0.07, 0.14, 0.28, 0.56, 0.29, 0.57, 0.58, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999, 0.001, 0.01];
    // Values 2% apart: each in a sketch bucket of its own (buckets are 1/64 of an octave,
    // about 1.1% wide), so the value a percentile reports names its rank unambiguously.
    const value = (i: number): number => 1.02 ** i;
    const rankOf = (v: number): number => Math.round(Math.log(v) / Math.log(1.02));
    const mismatches: string[] = [];
    for (let n = 1; n <= 400; n++) {
      p?.close();
      p = createProbe({ clock: () => 0 });
      const h = p.histogram({ name: 'h', percentiles: qs });
      for (let i = 1; i <= n; i++) h.observe(value(i));
      const got = h.val() as unknown as Record<string, number | null>;
      for (const q of qs) {
        const key = `p${String(q).slice(2).padEnd(2, '0')}`;
        const rank = rankOf(got[key] as number);
        if (rank !== exactRank(q, n)) mismatches.push(`n=${n} q=${q}: rank ${rank} != ${exactRank(q, n)}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('return the exact min for the lowest rank and the exact max for the highest', () => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'h', percentiles: [0, 0.001, 0.5, 1] });
    const values = [1.2345, 3.14159, 2.71828, 1000.001];
    for (const v of values) h.observe(v);
    const v = h.val();
    expect(v.p0).toBe(1.2345);
    expect(v.p001).toBe(1.2345); // rank ⌈0.001·4⌉ = 1
    expect(v.p100).toBe(1000.001);
  });
});

/** Bucket counts held by every store of a histogram series (sketch internals). */
function storeSizes(h: unknown): number[] {
  const steps = (h as { _steps: Array<{ pos: { counts: Uint32Array }; neg: { counts: Uint32Array } }> })._steps;
  return steps.flatMap((s) => [s.pos.counts.length, s.neg.counts.length]);
}

describe('Histogram sketch memory', () => {
  it(`stays within ${MAX_KEYS} buckets per store after values from ±1e-300 to ±1e300`, () => {
    let now = 0;
    p = createProbe({ clock: () => now });
    const h = p.histogram({ name: 'h', percentiles: [0.5, 0.99] });
    for (let step = 0; step < 6; step++) {
      now = step * 10_000;
      for (const v of [1e-300, -1e-300, 1e300, -1e300, 1, -1, 5e-324, -5e-324]) h.observe(v);
    }
    for (const size of storeSizes(h)) expect(size).toBeLessThanOrEqual(MAX_KEYS);
    const v = h.val();
    expect(v.min).toBe(-1e300);
    expect(v.max).toBe(1e300);
    expect(v.windowCount).toBe(48);
  });

  it('keeps the stated accuracy for values within 2^32 of the largest, after an extreme low value collapsed', () => {
    p = createProbe({ clock: () => 0 });
    const h = p.histogram({ name: 'h', percentiles: [0.5, 0.9, 0.99] });
    h.observe(1e-300); // collapses into the lowest kept bucket once the range exceeds the cap
    const values: number[] = [];
    for (let i = 1; i <= 1000; i++) values.push(i * 1.5);
    for (const v of values) h.observe(v);
    const sorted = [1e-300, ...values];
    const got = h.val();
    for (const [q, key] of [
      [0.5, 'p50'],
      [0.9, 'p90'],
      [0.99, 'p99'],
    ] as const) {
      const exact = sorted[exactRank(q, sorted.length) - 1] as number;
      expect(Math.abs((got[key] as number) - exact) / exact).toBeLessThanOrEqual(1 / 128);
    }
    for (const size of storeSizes(h)) expect(size).toBeLessThanOrEqual(MAX_KEYS);
  });

  it('takes subnormal values without breaking: exact min and max, ordered percentiles within them, bounded stores', () => {
    p = createProbe({ clock: () => 0 });
    const qs = [0, 0.2, 0.4, 0.6, 0.8, 1];
    const h = p.histogram({ name: 'h', percentiles: qs });
    const values = [5e-324, -5e-324, 1e-310, -1e-310, 2e-308, 1e-300, 1, 0];
    for (const v of values) h.observe(v);
    const v = h.val() as unknown as Record<string, number | null>;
    expect(v.min).toBe(-1e-310);
    expect(v.max).toBe(1);
    const got = qs.map((q) => v[`p${q === 0 ? '0' : q === 1 ? '100' : String(q).slice(2).padEnd(2, '0')}`] as number);
    expect(got[0]).toBe(-1e-310);
    expect(got[5]).toBe(1);
    for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThanOrEqual(got[i - 1] as number);
    for (const size of storeSizes(h)) expect(size).toBeLessThanOrEqual(MAX_KEYS);
  });
});
