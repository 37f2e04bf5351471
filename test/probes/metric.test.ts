import { describe, expect, it } from 'vitest';
import { createProbe, type MetricSeriesSnapshot, type MetricValue, type Probe, type Snapshot } from '../../src/index.js';

/** The only series of the metric family registered as `name` in a snapshot. */
function metricSeries(s: Snapshot, name: string): MetricSeriesSnapshot {
  const family = s.metrics.find((f) => f.name === name);
  if (family === undefined || family.kind !== 'metric') throw new Error(`no metric family ${name} in the snapshot`);
  expect(family.series).toHaveLength(1);
  return family.series[0] as MetricSeriesSnapshot;
}

/** The value of one self-metric series in a snapshot; undefined when the series does not exist. */
function selfCount(s: Snapshot, exportName: string, metric: string): number | undefined {
  const family = s.metrics.find((f) => f.exportName === exportName);
  if (family === undefined || family.kind !== 'counter') throw new Error(`no counter family ${exportName} in the snapshot`);
  return family.series.find((x) => x.labels.metric === metric)?.value;
}

const failedReads = (p: Probe, metric: string): number | undefined =>
  selfCount(p.snapshot(), 'probekit_failed_reads', metric);

describe('Metric', () => {
  describe('set and val', () => {
    it.each<{ kind: string; value: MetricValue }>([
      { kind: 'a number', value: 42.5 },
      { kind: 'zero', value: 0 },
      { kind: 'a negative number', value: -3 },
      { kind: 'true', value: true },
      { kind: 'false', value: false },
      { kind: 'a string', value: 'v1.2.3' },
      { kind: 'an empty string', value: '' },
      { kind: 'a Date', value: new Date(Date.UTC(2026, 10, 21, 15, 0, 0)) },
    ])('returns $kind from val() after set()', ({ value }) => {
      const m = createProbe().metric({ name: 'm' });
      m.set(value);
      // A Date is kept as a copy taken at set(), so it equals, and is not, the one given.
      expect(m.val()).toEqual(value);
    });

    it('returns undefined from val() when no value was ever set', () => {
      const m = createProbe().metric({ name: 'unset' });
      expect(m.val()).toBeUndefined();
    });

    it('returns the initial value given at registration', () => {
      const m = createProbe().metric({ name: 'build', value: '2026-11-21' });
      expect(m.val()).toBe('2026-11-21');
    });

    it('replaces a value of one type by a value of another type', () => {
      const m = createProbe().metric({ name: 'm', value: 1 });
      m.set('one');
      expect(m.val()).toBe('one');
      m.set(false);
      expect(m.val()).toBe(false);
    });

    it('does not count a failed read for a metric that was never set', () => {
      const p = createProbe();
      const m = p.metric({ name: 'unset' });
      m.val();
      expect(failedReads(p, 'unset')).toBeUndefined();
    });
  });

  describe('value functions', () => {
    it('calls the value function at every read, so val() follows the source', () => {
      let users = 3;
      let calls = 0;
      const m = createProbe().metric({
        name: 'Realtime users',
        value: () => {
          calls++;
          return users;
        },
      });
      expect(calls).toBe(0);
      expect(m.val()).toBe(3);
      users = 8;
      expect(m.val()).toBe(8);
      expect(calls).toBe(2);
    });

    it('evaluates the value function when a snapshot is taken', () => {
      let users = 1;
      const p = createProbe();
      p.metric({ name: 'users', value: () => users });
      expect(metricSeries(p.snapshot(), 'users')).toEqual({ labels: {}, type: 'number', value: 1 });
      users = 2;
      expect(metricSeries(p.snapshot(), 'users')).toEqual({ labels: {}, type: 'number', value: 2 });
    });

    it('accepts a value function through set() and calls it at read time', () => {
      let n = 10;
      const m = createProbe().metric({ name: 'queue' });
      m.set(() => n);
      n = 11;
      expect(m.val()).toBe(11);
    });

    it('takes the new value function when the same metric is registered again', () => {
      const p = createProbe();
      const first = p.metric({ name: 'heap', value: () => 1 });
      const second = p.metric({ name: 'heap', value: () => 2 });
      expect(second).toBe(first);
      expect(first.val()).toBe(2);
      expect(metricSeries(p.snapshot(), 'heap')).toEqual({ labels: {}, type: 'number', value: 2 });
    });

    it('keeps the current value when the same metric is registered again without a value', () => {
      const p = createProbe();
      const first = p.metric({ name: 'heap', value: () => 1 });
      p.metric({ name: 'heap' });
      expect(first.val()).toBe(1);
    });
  });

  describe('failing value functions', () => {
    const cases: { what: string; fn: () => MetricValue; error: string }[] = [
      {
        what: 'throws an Error',
        fn: () => {
          throw new Error('pool closed');
        },
        error: 'value function threw: pool closed',
      },
      {
        what: 'throws a non-Error',
        fn: () => {
          throw 'boom';
        },
        error: 'value function threw: boom',
      },
      { what: 'returns NaN', fn: () => NaN, error: 'value function returned an unusable value: NaN' },
      { what: 'returns Infinity', fn: () => Infinity, error: 'value function returned an unusable value: Infinity' },
      {
        what: 'returns an object',
        fn: () => ({ size: 3 }) as unknown as MetricValue,
        error: 'value function returned an unusable value: [object Object]',
      },
      {
        what: 'returns undefined',
        fn: () => undefined as unknown as MetricValue,
        error: 'value function returned an unusable value: undefined',
      },
      {
        what: 'returns null',
        fn: () => null as unknown as MetricValue,
        error: 'value function returned an unusable value: null',
      },
      {
        what: 'returns an invalid Date',
        fn: () => new Date(NaN),
        error: 'value function returned an unusable value: [object Date]',
      },
    ];

    it.each(cases)('reads as undefined when the value function $what', ({ fn }) => {
      const m = createProbe().metric({ name: 'broken', value: fn });
      expect(m.val()).toBeUndefined();
    });

    it.each(cases)('reports a failed series with the reason when the value function $what', ({ fn, error }) => {
      const p = createProbe();
      p.metric({ name: 'broken', value: fn });
      expect(metricSeries(p.snapshot(), 'broken')).toEqual({ labels: {}, type: 'failed', error });
    });

    it.each(cases)('counts one failed read per read when the value function $what', ({ fn }) => {
      const p = createProbe();
      const m = p.metric({ name: 'Broken gauge', value: fn });
      m.val();
      // The snapshot inside failedReads() reads the metric too, and counts that read in itself.
      expect(failedReads(p, 'broken_gauge')).toBe(2);
      m.val();
      m.val();
      expect(failedReads(p, 'broken_gauge')).toBe(5);
    });

    it('still reads the other probes of a snapshot when one value function throws', () => {
      const p = createProbe();
      p.metric({ name: 'before', value: 1 });
      p.metric({
        name: 'broken',
        value: () => {
          throw new RangeError('nope');
        },
      });
      p.metric({ name: 'after', value: () => 'ok' });
      const c = p.counter({ name: 'jobs' });
      c.inc(2);
      let s: Snapshot | undefined;
      expect(() => {
        s = p.snapshot();
      }).not.toThrow();
      if (s === undefined) throw new Error('unreachable');
      expect(metricSeries(s, 'before')).toEqual({ labels: {}, type: 'number', value: 1 });
      expect(metricSeries(s, 'broken')).toEqual({ labels: {}, type: 'failed', error: 'value function threw: nope' });
      expect(metricSeries(s, 'after')).toEqual({ labels: {}, type: 'string', value: 'ok' });
      const jobs = s.metrics.find((f) => f.name === 'jobs');
      expect(jobs?.series).toEqual([{ labels: {}, value: 2 }]);
    });

    it('counts the failed read in the same snapshot that reports the failed series', () => {
      const p = createProbe();
      p.metric({ name: 'broken', value: () => NaN });
      const s = p.snapshot();
      expect(metricSeries(s, 'broken')).toEqual({
        labels: {},
        type: 'failed',
        error: 'value function returned an unusable value: NaN',
      });
      expect(selfCount(s, 'probekit_failed_reads', 'broken')).toBe(1);
    });

    it('recovers once the value function works again', () => {
      let fail = true;
      const p = createProbe();
      const m = p.metric({
        name: 'flaky',
        value: () => {
          if (fail) throw new Error('down');
          return 5;
        },
      });
      expect(m.val()).toBeUndefined();
      fail = false;
      expect(m.val()).toBe(5);
      expect(metricSeries(p.snapshot(), 'flaky')).toEqual({ labels: {}, type: 'number', value: 5 });
    });
  });

  describe('snapshot', () => {
    it('reports a Date as epoch milliseconds with type date', () => {
      const p = createProbe();
      const when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
      p.metric({ name: 'deployed_at', value: when });
      expect(metricSeries(p.snapshot(), 'deployed_at')).toEqual({ labels: {}, type: 'date', value: Date.UTC(2026, 0, 2, 3, 4, 5, 678) });
    });

    it('reports a Date returned by a value function as epoch milliseconds', () => {
      const p = createProbe();
      p.metric({ name: 'last_gc', value: () => new Date(1_000) });
      expect(metricSeries(p.snapshot(), 'last_gc')).toEqual({ labels: {}, type: 'date', value: 1_000 });
    });

    it.each<{ kind: string; value: MetricValue; series: MetricSeriesSnapshot }>([
      { kind: 'a number', value: 2.5, series: { labels: {}, type: 'number', value: 2.5 } },
      { kind: 'a boolean', value: true, series: { labels: {}, type: 'boolean', value: true } },
      { kind: 'a string', value: 'eu-west', series: { labels: {}, type: 'string', value: 'eu-west' } },
    ])('reports $kind with its type', ({ value, series }) => {
      const p = createProbe();
      p.metric({ name: 'm', value });
      expect(metricSeries(p.snapshot(), 'm')).toEqual(series);
    });

    it('reports no series for a metric that was never given a value', () => {
      const p = createProbe();
      p.metric({ name: 'unset' });
      expect(p.snapshot().metrics.find((m) => m.name === 'unset')?.series).toEqual([]);
    });

    it('lists the unit and help given at registration', () => {
      const p = createProbe();
      p.metric({ name: 'Temperature', unit: 'celsius', help: 'Board temperature', value: 21.5 });
      expect(p.snapshot().metrics.find((f) => f.name === 'Temperature')).toEqual({
        name: 'Temperature',
        exportName: 'temperature',
        kind: 'metric',
        unit: 'celsius',
        help: 'Board temperature',
        labelNames: [],
        series: [{ labels: {}, type: 'number', value: 21.5 }],
      });
    });
  });
});

describe('A labelled metric', () => {
  const family = (p: Probe, name: string) => {
    const f = p.snapshot().metrics.find((m) => m.name === name);
    if (f === undefined || f.kind !== 'metric') throw new Error(`no metric family ${name}`);
    return f;
  };

  it('reports each labels().set() child with its labels, and no unlabelled series it was never given', () => {
    const p = createProbe();
    const depth = p.metric({ name: 'queue_depth', labels: ['queue'] });
    depth.labels({ queue: 'mail' }).set(3);
    depth.labels({ queue: 'sms' }).set(0.5);
    expect(family(p, 'queue_depth').series).toEqual([
      { labels: { queue: 'mail' }, type: 'number', value: 3 },
      { labels: { queue: 'sms' }, type: 'number', value: 0.5 },
    ]);
    expect(depth.labels({ queue: 'mail' }).val()).toBe(3);
    expect(depth.labels({ queue: 'mail' }).labelValues).toEqual({ queue: 'mail' });
  });

  it.each([
    { shape: 'an array of pairs', make: (): Iterable<readonly [{ state: string }, number]> => [[{ state: 'idle' }, 4], [{ state: 'busy' }, 2]] },
    { shape: "a Map's entries", make: () => new Map([[{ state: 'idle' }, 4], [{ state: 'busy' }, 2]]) },
    {
      shape: 'a generator',
      make: function* (): Generator<readonly [{ state: string }, number]> {
        yield [{ state: 'idle' }, 4];
        yield [{ state: 'busy' }, 2];
      },
    },
  ])('reads the label sets a value function reports as $shape, each time it is read', ({ make }) => {
    const p = createProbe();
    let calls = 0;
    p.metric({
      name: 'connections',
      labels: ['state'],
      value: () => {
        calls++;
        return make();
      },
    });
    const series = [
      { labels: { state: 'idle' }, type: 'number', value: 4 },
      { labels: { state: 'busy' }, type: 'number', value: 2 },
    ];
    expect(family(p, 'connections').series).toEqual(series);
    expect(family(p, 'connections').series).toEqual(series);
    expect(calls).toBe(2);
  });

  it('lets a reported label set win over a set() child with the same labels, keeping the child where it was', () => {
    const p = createProbe();
    const m = p.metric({ name: 'pool', labels: ['state'], value: () => [[{ state: 'busy' }, 9]] });
    m.labels({ state: 'busy' }).set(1);
    m.labels({ state: 'idle' }).set(2);
    expect(family(p, 'pool').series).toEqual([
      { labels: { state: 'busy' }, type: 'number', value: 9 },
      { labels: { state: 'idle' }, type: 'number', value: 2 },
    ]);
  });

  it("coerces reported label values as labels() does, and counts a bad label set with '' for the bad value", () => {
    const p = createProbe();
    p.metric({ name: 'codes', labels: ['code'], value: () => [[{ code: 200 }, 1], [{ code: null }, 2], [{ code: 'x', extra: 1 }, 3]] as never });
    expect(family(p, 'codes').series).toEqual([
      { labels: { code: '200' }, type: 'number', value: 1 },
      { labels: { code: '' }, type: 'number', value: 2 },
      { labels: { code: 'x' }, type: 'number', value: 3 },
    ]);
    expect(selfCount(p.snapshot(), 'probekit_invalid_labels', 'codes')).toBe(4); // two bad sets per read, two reads
  });

  it('leaves out a pair that is not [labels, value] or whose value is unusable, counting each as a failed read', () => {
    const p = createProbe();
    p.metric({ name: 'mixed', labels: ['k'], value: () => [[{ k: 'a' }, 1], [{ k: 'b' }, NaN], 'junk', [{ k: 'c' }], [{ k: 'd' }, true]] as never });
    expect(family(p, 'mixed').series).toEqual([
      { labels: { k: 'a' }, type: 'number', value: 1 },
      { labels: { k: 'd' }, type: 'boolean', value: true },
    ]);
    // Three per read: the snapshot above, and the one failedReads() takes (which reads the metric before the count).
    expect(failedReads(p, 'mixed')).toBe(6);
  });

  it('drops the whole report of an iterator that throws, counted once as a failed read, and keeps the set() children', () => {
    const p = createProbe();
    const m = p.metric({
      name: 'flaky',
      labels: ['k'],
      value: function* () {
        yield [{ k: 'a' }, 1] as const;
        throw new Error('iteration failed');
      },
    });
    m.labels({ k: 'z' }).set(5);
    expect(family(p, 'flaky').series).toEqual([{ labels: { k: 'z' }, type: 'number', value: 5 }]);
    expect(failedReads(p, 'flaky')).toBe(2); // one per read: the snapshot above and failedReads()' own
  });

  it('reads at most maxSeriesPerMetric reported label sets, even from an endless iterator, counting the cut and warning once', async () => {
    const p = createProbe({ maxSeriesPerMetric: 3 });
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(String(w.code));
    process.on('warning', onWarning);
    try {
      p.metric({
        name: 'endless',
        labels: ['i'],
        value: function* () {
          for (let i = 0; ; i++) yield [{ i }, i] as const;
        },
      });
      expect(family(p, 'endless').series.map((s) => s.labels.i)).toEqual(['0', '1', '2']);
      expect(family(p, 'endless').series).toHaveLength(3);
      expect(selfCount(p.snapshot(), 'probekit_folded_label_sets', 'endless')).toBe(3); // one cut per read, three reads
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a later tick
      expect(warnings.filter((c) => c === 'PROBEKIT_CARDINALITY_CAP')).toEqual(['PROBEKIT_CARDINALITY_CAP']);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('reads pairs returned by the value function of an unlabelled metric as a failed read', () => {
    const p = createProbe();
    const m = p.metric({ name: 'plain', value: () => [[{ k: 'a' }, 1]] as never });
    expect(m.val()).toBeUndefined();
    expect(family(p, 'plain').series).toEqual([{ labels: {}, type: 'failed', error: 'value function returned an unusable value: [object Array]' }]);
  });

  it('reserves the label name "value", which carries a string value in the exposition', () => {
    const p = createProbe();
    expect(() => p.metric({ name: 'x', labels: ['value'] })).toThrow(TypeError);
  });
});
