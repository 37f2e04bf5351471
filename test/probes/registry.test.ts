import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe, type Snapshot } from '../../src/index.js';
import { expectError, thrown } from '../support/helpers.js';

let p: Probe | undefined;
afterEach(() => {
  p?.close();
  p = undefined;
});

const exportNameOf = (s: Snapshot, name: string): string | undefined => s.metrics.find((f) => f.name === name)?.exportName;

/** The four self-metric families every registry starts with, as the snapshot lists them. */
const SELF_FAMILIES = [
  {
    name: 'probekit_dropped_values',
    exportName: 'probekit_dropped_values',
    kind: 'counter',
    monotonic: true,
    unit: null,
    help: 'Values that recording calls dropped (NaN, infinite, non-number, negative increments, overflow past Number.MAX_VALUE, dec() on a monotonic counter), by metric',
    labelNames: ['metric'],
    series: [],
  },
  {
    name: 'probekit_folded_label_sets',
    exportName: 'probekit_folded_label_sets',
    kind: 'counter',
    monotonic: true,
    unit: null,
    help: 'Calls whose new label set was folded into the overflow series by the cardinality cap (or that a value function reported beyond it), by metric',
    labelNames: ['metric'],
    series: [],
  },
  {
    name: 'probekit_failed_reads',
    exportName: 'probekit_failed_reads',
    kind: 'counter',
    monotonic: true,
    unit: null,
    help: 'Metric value functions that threw, rejected or returned an unusable value, by metric',
    labelNames: ['metric'],
    series: [],
  },
  {
    name: 'probekit_invalid_labels',
    exportName: 'probekit_invalid_labels',
    kind: 'counter',
    monotonic: true,
    unit: null,
    help: "labels() calls given a missing, unusable or unknown label, recorded with the fallback value '', by metric",
    labelNames: ['metric'],
    series: [],
  },
];

/** A name conflict: code PROBEKIT_NAME_CONFLICT, and a message that quotes each name involved. */
function expectConflict(fn: () => unknown, ...names: string[]): void {
  const err = thrown(fn);
  expectError(err, { type: TypeError, code: 'PROBEKIT_NAME_CONFLICT' });
  expect(names.filter((n) => !err.message.includes(`"${n}"`))).toEqual([]);
}

describe('registry', () => {
  describe('exported names', () => {
    it.each([
      { name: 'Calls per minute', exported: 'calls_per_minute' },
      { name: 'httpRequests', exported: 'http_requests' },
      { name: 'HTTPRequests', exported: 'http_requests' },
      { name: '5xx errors', exported: '_5xx_errors' },
      { name: 'calls-per-minute', exported: 'calls_per_minute' },
      { name: '  Queue   depth!  ', exported: 'queue_depth' },
      { name: 'already_snake', exported: 'already_snake' },
      { name: 'ns:subsystem', exported: 'ns:subsystem' },
    ])('exports the name "$name" as $exported', ({ name, exported }) => {
      p = createProbe();
      p.counter({ name });
      expect(exportNameOf(p.snapshot(), name)).toBe(exported);
    });

    it('keeps the name as given in the snapshot next to the exported name', () => {
      p = createProbe();
      p.metric({ name: 'Calls per minute', value: 1 });
      const family = p.snapshot().metrics.find((f) => f.exportName === 'calls_per_minute');
      expect(family?.name).toBe('Calls per minute');
    });

    it('prepends the prefix option with an underscore', () => {
      p = createProbe({ prefix: 'app' });
      p.counter({ name: 'calls' });
      p.metric({ name: 'Realtime users', value: 1 });
      p.meter({ name: 'rps' });
      p.histogram({ name: 'latency' });
      const s = p.snapshot();
      expect(exportNameOf(s, 'calls')).toBe('app_calls');
      expect(exportNameOf(s, 'Realtime users')).toBe('app_realtime_users');
      expect(exportNameOf(s, 'rps')).toBe('app_rps');
      expect(exportNameOf(s, 'latency')).toBe('app_latency');
    });

    it('does not double the separator when the prefix ends in an underscore or colon', () => {
      const a = createProbe({ prefix: 'app_' });
      const b = createProbe({ prefix: 'app:' });
      a.counter({ name: 'calls' });
      b.counter({ name: 'calls' });
      expect(exportNameOf(a.snapshot(), 'calls')).toBe('app_calls');
      expect(exportNameOf(b.snapshot(), 'calls')).toBe('app:calls');
    });

    it('exposes the prefix on the registry', () => {
      expect(createProbe({ prefix: 'app' }).prefix).toBe('app');
      expect(createProbe().prefix).toBe('');
    });

    it('does not prefix the probekit_ self-metrics', () => {
      p = createProbe({ prefix: 'app' });
      const c = p.counter({ name: 'calls', monotonic: true });
      c.inc(-1);
      const s = p.snapshot();
      expect(s.metrics.map((f) => f.exportName)).toEqual([
        'app_calls',
        'probekit_dropped_values',
        'probekit_folded_label_sets',
        'probekit_failed_reads',
        'probekit_invalid_labels',
      ]);
      // The self-metric's label names the prefixed exported name of the metric.
      const dropped = s.metrics[1];
      expect(dropped?.series).toEqual([{ labels: { metric: 'app_calls' }, value: 1 }]);
    });
  });

  describe('registering a name again', () => {
    it('returns the identical metric for the same name and options', () => {
      p = createProbe();
      expect(p.metric({ name: 'm', unit: 'MB' })).toBe(p.metric({ name: 'm', unit: 'MB' }));
    });

    it('returns the identical counter for the same name and options', () => {
      p = createProbe();
      const a = p.counter({ name: 'c', monotonic: true, labels: ['x'], help: 'h', unit: 'bytes' });
      const b = p.counter({ name: 'c', monotonic: true, labels: ['x'], help: 'h', unit: 'bytes' });
      expect(b).toBe(a);
    });

    it('returns the identical meter for the same name and options', () => {
      p = createProbe();
      const a = p.meter({ name: 'm', samples: 60, timeframe: 120, labels: ['route'] });
      expect(p.meter({ name: 'm', samples: 60, timeframe: 120, labels: ['route'] })).toBe(a);
    });

    it('returns the identical histogram for the same name and options', () => {
      p = createProbe();
      const a = p.histogram({ name: 'h', unit: 'ms', buckets: [1, 10, 100], percentiles: [0.5, 0.99] });
      expect(p.histogram({ name: 'h', unit: 'ms', buckets: [1, 10, 100], percentiles: [0.5, 0.99] })).toBe(a);
    });

    it('treats options left out and the same options spelled out with their defaults as the same registration', () => {
      p = createProbe();
      expect(p.counter({ name: 'c' })).toBe(p.counter({ name: 'c', monotonic: false, labels: [] }));
      expect(p.meter({ name: 'm' })).toBe(p.meter({ name: 'm', samples: 1, timeframe: 60 }));
      expect(p.histogram({ name: 'h' })).toBe(
        p.histogram({ name: 'h', timeframe: 60, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }),
      );
    });

    it('keeps the counts recorded through the first handle', () => {
      p = createProbe();
      p.counter({ name: 'c' }).inc(3);
      expect(p.counter({ name: 'c' }).val()).toBe(3);
    });

    it('lists a name registered twice once in the snapshot', () => {
      p = createProbe();
      p.counter({ name: 'c' });
      p.counter({ name: 'c' });
      expect(p.snapshot().metrics.filter((f) => f.name === 'c')).toHaveLength(1);
    });

    it('throws a TypeError naming both registrations when the kind differs', () => {
      p = createProbe();
      p.counter({ name: 'x' });
      expect(() => p?.meter({ name: 'x' })).toThrow(TypeError);
      expectConflict(() => p?.meter({ name: 'x' }), 'x', 'labels', 'samples', 'timeframe', 'monotonic');
      expectConflict(() => p?.metric({ name: 'x' }), 'x', 'labels', 'monotonic');
    });

    it('throws a TypeError naming both registrations when the options differ', () => {
      p = createProbe();
      p.counter({ name: 'x', labels: ['a'] });
      expect(() => p?.counter({ name: 'x', labels: ['b'] })).toThrow(TypeError);
      expectConflict(() => p?.counter({ name: 'x', labels: ['b'] }), 'x', 'labels', 'b', 'monotonic', 'a');
      expectConflict(() => p?.counter({ name: 'x', labels: ['a'], monotonic: true }), 'x', 'labels', 'a', 'monotonic');
    });

    it('throws when a meter is registered again with a different window', () => {
      p = createProbe();
      p.meter({ name: 'rpm', samples: 60 });
      expectConflict(() => p?.meter({ name: 'rpm', samples: 60, timeframe: 300 }), 'rpm', 'labels', 'samples', 'timeframe');
    });

    it('throws when a metric is registered again with a different unit', () => {
      p = createProbe();
      p.metric({ name: 'heap', unit: 'MB' });
      expectConflict(() => p?.metric({ name: 'heap', unit: 'GB' }), 'heap', 'unit', 'GB', 'MB');
    });

    it('leaves the first registration in place after a conflict', () => {
      p = createProbe();
      const c = p.counter({ name: 'x' });
      expect(() => p?.meter({ name: 'x' })).toThrow(TypeError);
      expect(p.counter({ name: 'x' })).toBe(c);
      expect(p.snapshot().metrics.filter((f) => f.name === 'x').map((f) => f.kind)).toEqual(['counter']);
    });

    it('throws a TypeError naming both names when two names map to one exported name', () => {
      p = createProbe();
      p.counter({ name: 'Calls per minute' });
      expect(() => p?.counter({ name: 'calls-per-minute' })).toThrow(TypeError);
      expectConflict(() => p?.counter({ name: 'calls-per-minute' }), 'calls-per-minute', 'Calls per minute', 'calls_per_minute');
      expectConflict(() => p?.meter({ name: 'calls per minute' }), 'calls per minute', 'Calls per minute', 'calls_per_minute');
    });

    it('throws when a monotonic requests_total and a counter requests both export as requests', () => {
      p = createProbe();
      p.counter({ name: 'requests_total', monotonic: true });
      expectConflict(() => p?.counter({ name: 'requests' }), 'requests', 'requests_total');
    });

    it('keeps registries created with createProbe() independent', () => {
      const a = createProbe();
      const b = createProbe();
      a.counter({ name: 'x' }).inc(2);
      expect(() => b.meter({ name: 'x' })).not.toThrow();
      expect(b.snapshot().metrics.find((f) => f.name === 'x')?.kind).toBe('meter');
      b.close();
    });
  });

  describe('snapshot', () => {
    it('is JSON-serialisable without loss', () => {
      let t = 1_000_000;
      p = createProbe({ clock: () => t });
      p.metric({ name: 'build', value: 'v1' });
      p.metric({ name: 'started', value: new Date(5_000) });
      p.metric({ name: 'up', value: () => true });
      p.metric({ name: 'broken', value: () => NaN });
      const c = p.counter({ name: 'jobs', labels: ['queue'], unit: 'jobs', help: 'Jobs run' });
      c.labels({ queue: 'mail' }).inc(3);
      c.inc(Number.NaN);
      const m = p.meter({ name: 'rps', labels: ['route'] });
      m.labels({ route: '/' }).mark(4);
      const h = p.histogram({ name: 'latency', unit: 'ms' });
      h.observe(10);
      h.observe(20);
      p.histogram({ name: 'idle', unit: 'ms' });
      t += 1500;
      const s = p.snapshot();
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    });

    it('lists your families in registration order with name, exportName, kind, unit, help, labelNames and series, then the self-metrics', () => {
      p = createProbe({ clock: () => 0, prefix: 'svc' });
      p.metric({ name: 'Heap used', unit: 'MB', help: 'V8 heap', value: 12 });
      p.counter({ name: 'errors', labels: ['type'] });
      p.meter({ name: 'Requests per minute', samples: 60, unit: 'req/min' });
      p.histogram({ name: 'latency', unit: 'ms', labels: ['route'] });
      const families = p
        .snapshot()
        .metrics.map(({ name, exportName, kind, unit, help, labelNames, series }) => ({ name, exportName, kind, unit, help, labelNames, series: series.length }));
      expect(families).toEqual([
        { name: 'Heap used', exportName: 'svc_heap_used', kind: 'metric', unit: 'MB', help: 'V8 heap', labelNames: [], series: 1 },
        { name: 'errors', exportName: 'svc_errors', kind: 'counter', unit: null, help: null, labelNames: ['type'], series: 0 },
        { name: 'Requests per minute', exportName: 'svc_requests_per_minute', kind: 'meter', unit: 'req/min', help: null, labelNames: [], series: 1 },
        { name: 'latency', exportName: 'svc_latency', kind: 'histogram', unit: 'ms', help: null, labelNames: ['route'], series: 0 },
        ...SELF_FAMILIES.map(({ name, exportName, kind, unit, help, labelNames }) => ({ name, exportName, kind, unit, help, labelNames, series: 0 })),
      ]);
    });

    it('starts with the four self-metric families and nothing else', () => {
      expect(createProbe({ clock: () => 42 }).snapshot()).toEqual({ time: 42, metrics: SELF_FAMILIES });
    });

    it('produces exactly this snapshot for a counter and a metric under an injected clock', () => {
      let t = 1_763_737_200_000;
      p = createProbe({ clock: () => t });
      const served = p.counter({ name: 'Requests served', monotonic: true, labels: ['method'], help: 'Requests answered' });
      served.labels({ method: 'GET' }).inc(3);
      served.labels({ method: 'POST' }).inc();
      p.metric({ name: 'uptime', unit: 's', value: () => (t - 1_763_737_000_000) / 1000 });
      t += 250;
      expect(p.snapshot()).toEqual({
        time: 1_763_737_200_250,
        metrics: [
          {
            name: 'Requests served',
            exportName: 'requests_served',
            kind: 'counter',
            monotonic: true,
            unit: null,
            help: 'Requests answered',
            labelNames: ['method'],
            series: [
              { labels: { method: 'GET' }, value: 3 },
              { labels: { method: 'POST' }, value: 1 },
            ],
          },
          {
            name: 'uptime',
            exportName: 'uptime',
            kind: 'metric',
            unit: 's',
            help: null,
            labelNames: [],
            series: [{ labels: {}, type: 'number', value: 200.25 }],
          },
          ...SELF_FAMILIES,
        ],
      });
    });

    it('takes its time from the injected clock at each call', () => {
      let t = 10;
      p = createProbe({ clock: () => t });
      expect(p.snapshot().time).toBe(10);
      t = 99;
      expect(p.snapshot().time).toBe(99);
    });

    it('returns a new object each time, unaffected by later recording', () => {
      p = createProbe({ clock: () => 0 });
      const c = p.counter({ name: 'c' });
      c.inc();
      const first = p.snapshot();
      c.inc(5);
      expect(first.metrics[0]?.series).toEqual([{ labels: {}, value: 1 }]);
      expect(p.snapshot().metrics[0]?.series).toEqual([{ labels: {}, value: 6 }]);
    });
  });
});

describe('registry: names the exporters derive', () => {
  it.each([
    { sample: 'requests_total', other: 'counter "requests"', first: (q: Probe) => q.counter({ name: 'requests', monotonic: true }), second: { kind: 'counter', name: 'requests_total', make: (q: Probe) => q.counter({ name: 'requests_total' }) } },
    { sample: 'latency_count', other: 'histogram "latency"', first: (q: Probe) => q.histogram({ name: 'latency' }), second: { kind: 'counter', name: 'latency_count', make: (q: Probe) => q.counter({ name: 'latency_count' }) } },
    { sample: 'latency_seconds_sum', other: 'histogram "latency"', first: (q: Probe) => q.histogram({ name: 'latency', unit: 'ms' }), second: { kind: 'metric', name: 'latency_seconds_sum', make: (q: Probe) => q.metric({ name: 'latency_seconds_sum' }) } },
    { sample: 'rps_events', other: 'meter "rps"', first: (q: Probe) => q.meter({ name: 'rps' }), second: { kind: 'counter', name: 'rps_events', make: (q: Probe) => q.counter({ name: 'rps_events', monotonic: true }) } },
    { sample: 'build_info', other: 'metric "build"', first: (q: Probe) => q.metric({ name: 'build' }), second: { kind: 'counter', name: 'build_info', make: (q: Probe) => q.counter({ name: 'build_info' }) } },
  ])('rejects a probe that would expose $sample, already exposed by $other', ({ sample, other, first, second }) => {
    p = createProbe();
    const q = p;
    first(q);
    expectConflict(() => second.make(q), second.name, sample, other.split('"')[1] as string);
  });
});
