import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';
import { bad, thrown, expectError } from '../support/helpers.js';

let p: Probe | undefined;
afterEach(() => {
  p?.close();
  p = undefined;
});


interface BadOptionRow {
  readonly what: string;
  readonly type: 'TypeError' | 'RangeError';
  readonly code: string;
  readonly option: string | undefined;
  readonly run: (probe: Probe) => unknown;
}

const ERRORS = { TypeError, RangeError } as const;


const badOptions: readonly BadOptionRow[] = [
  // Missing or non-object options
  { what: 'counter() without an options object', type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined, run: (q) => q.counter(bad(undefined)) },
  { what: 'meter(null)', type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined, run: (q) => q.meter(bad(null)) },
  { what: 'histogram() given an array', type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined, run: (q) => q.histogram(bad([])) },
  { what: 'metric() given a bare name string', type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined, run: (q) => q.metric(bad('users')) },
  // Names
  { what: 'a counter without a name', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'name', run: (q) => q.counter(bad({})) },
  { what: 'a meter with an empty name', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'name', run: (q) => q.meter({ name: '' }) },
  { what: 'a histogram with a number as name', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'name', run: (q) => q.histogram({ name: bad(42) }) },
  { what: 'a metric with null as name', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'name', run: (q) => q.metric({ name: bad(null) }) },
  { what: 'a counter named "!!!" with no letter or digit', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'name', run: (q) => q.counter({ name: '!!!' }) },
  { what: 'a meter named "!!!" with no letter or digit', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'name', run: (q) => q.meter({ name: '!!!' }) },
  { what: 'a histogram named "- -" with no letter or digit', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'name', run: (q) => q.histogram({ name: '- -' }) },
  { what: 'a metric named "!!!" with no letter or digit', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'name', run: (q) => q.metric({ name: '!!!' }) },
  // Unknown option keys
  { what: 'an unknown counter option', type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'color', run: (q) => q.counter(bad({ name: 'c', color: 'red' })) },
  { what: 'an unknown metric option', type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'val', run: (q) => q.metric(bad({ name: 'm', val: 1 })) },
  { what: 'the pmx option "seconds" on a meter, suggesting "samples"', type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'seconds', run: (q) => q.meter(bad({ name: 'm', seconds: 60 })) },
  { what: 'the pmx option "measurement" on a histogram, suggesting "percentiles"', type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'measurement', run: (q) => q.histogram(bad({ name: 'h', measurement: 'mean' })) },
  // Meter window
  { what: 'meter samples 0', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'samples', run: (q) => q.meter({ name: 'm', samples: 0 }) },
  { what: 'negative meter samples', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'samples', run: (q) => q.meter({ name: 'm', samples: -60 }) },
  { what: 'meter samples NaN', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'samples', run: (q) => q.meter({ name: 'm', samples: NaN }) },
  { what: 'meter samples "x"', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'samples', run: (q) => q.meter({ name: 'm', samples: bad('x') }) },
  { what: 'a meter timeframe shorter than samples', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'timeframe', run: (q) => q.meter({ name: 'm', samples: 60, timeframe: 30 }) },
  { what: 'a meter timeframe shorter than the default samples', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'timeframe', run: (q) => q.meter({ name: 'm', timeframe: 0.5 }) },
  { what: 'meter timeframe Infinity', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'timeframe', run: (q) => q.meter({ name: 'm', timeframe: Infinity }) },
  { what: 'histogram timeframe 0', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'timeframe', run: (q) => q.histogram({ name: 'h', timeframe: 0 }) },
  // Histogram buckets
  { what: 'unsorted buckets', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'buckets', run: (q) => q.histogram({ name: 'h', buckets: [1, 5, 2] }) },
  { what: 'duplicate buckets', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'buckets', run: (q) => q.histogram({ name: 'h', buckets: [1, 2, 2, 3] }) },
  { what: 'empty buckets', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'buckets', run: (q) => q.histogram({ name: 'h', buckets: [] }) },
  { what: 'a NaN bucket', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'buckets[1]', run: (q) => q.histogram({ name: 'h', buckets: [1, NaN, 3] }) },
  { what: 'a string bucket', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'buckets[0]', run: (q) => q.histogram({ name: 'h', buckets: bad(['1']) }) },
  { what: 'a +Inf bucket before the last', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'buckets[1]', run: (q) => q.histogram({ name: 'h', buckets: [1, Infinity, 5] }) },
  { what: 'a -Inf bucket', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'buckets[0]', run: (q) => q.histogram({ name: 'h', buckets: [-Infinity, 1] }) },
  { what: 'buckets that are not an array', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'buckets', run: (q) => q.histogram({ name: 'h', buckets: bad(10) }) },
  { what: 'more than 65000 buckets', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'buckets', run: (q) => q.histogram({ name: 'h', buckets: Array.from({ length: 65_001 }, (_, i) => i + 1) }) },
  // Histogram percentiles
  { what: 'a percentile above 1', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'percentiles[1]', run: (q) => q.histogram({ name: 'h', percentiles: [0.5, 1.5] }) },
  { what: 'a negative percentile', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'percentiles[0]', run: (q) => q.histogram({ name: 'h', percentiles: [-0.1] }) },
  { what: 'a percentile given as 99 instead of 0.99', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'percentiles[0]', run: (q) => q.histogram({ name: 'h', percentiles: [99] }) },
  { what: 'a NaN percentile', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'percentiles[0]', run: (q) => q.histogram({ name: 'h', percentiles: [NaN] }) },
  { what: 'percentiles that are not an array', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'percentiles', run: (q) => q.histogram({ name: 'h', percentiles: bad(0.99) }) },
  // Label names
  { what: 'a label name starting with a digit', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.counter({ name: 'c', labels: ['1abc'] }) },
  { what: 'a label name with a dash', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.meter({ name: 'm', labels: ['a-b'] }) },
  { what: 'a reserved label name starting with __', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.histogram({ name: 'h', labels: ['__x'] }) },
  { what: 'an empty label name', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.counter({ name: 'c', labels: [''] }) },
  { what: 'a non-string label name', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.counter({ name: 'c', labels: bad([7]) }) },
  { what: 'a duplicate label name', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.counter({ name: 'c', labels: ['route', 'method', 'route'] }) },
  { what: 'labels given as a string', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.meter({ name: 'm', labels: bad('route') }) },
  { what: 'the label "le" on a histogram', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.histogram({ name: 'h', labels: ['route', 'le'] }) },
  { what: 'the label "quantile" on a histogram', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels', run: (q) => q.histogram({ name: 'h', labels: ['quantile'] }) },
  // Other per-probe options
  { what: 'a non-boolean monotonic', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'monotonic', run: (q) => q.counter({ name: 'c', monotonic: bad('yes') }) },
  { what: 'monotonic given as 1', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'monotonic', run: (q) => q.counter({ name: 'c', monotonic: bad(1) }) },
  { what: 'a non-string help', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'help', run: (q) => q.counter({ name: 'c', help: bad(5) }) },
  { what: 'a non-string unit', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'unit', run: (q) => q.histogram({ name: 'h', unit: bad(1000) }) },
  { what: 'a metric value NaN', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'value', run: (q) => q.metric({ name: 'm', value: NaN }) },
  { what: 'a metric value Infinity', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'value', run: (q) => q.metric({ name: 'm', value: Infinity }) },
  { what: 'a metric value {}', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'value', run: (q) => q.metric({ name: 'm', value: bad({}) }) },
  { what: 'a metric value null', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'value', run: (q) => q.metric({ name: 'm', value: bad(null) }) },
  // createProbe()
  { what: 'createProbe(null)', type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined, run: () => createProbe(bad(null)) },
  { what: 'an unknown createProbe() option', type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'maxSeries', run: () => createProbe(bad({ maxSeries: 10 })) },
  { what: 'a clock that is a number', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'clock', run: () => createProbe({ clock: bad(5) }) },
  { what: 'a clock that is a Date', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'clock', run: () => createProbe({ clock: bad(new Date(0)) }) },
  { what: 'the prefix "1x" starting with a digit', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'prefix', run: () => createProbe({ prefix: '1x' }) },
  { what: 'the prefix "a b" with a space', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'prefix', run: () => createProbe({ prefix: 'a b' }) },
  { what: 'a non-string prefix', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'prefix', run: () => createProbe({ prefix: bad(1) }) },
  { what: 'maxSeriesPerMetric 0', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'maxSeriesPerMetric', run: () => createProbe({ maxSeriesPerMetric: 0 }) },
  { what: 'maxSeriesPerMetric 1.5', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'maxSeriesPerMetric', run: () => createProbe({ maxSeriesPerMetric: 1.5 }) },
  { what: 'maxSeriesPerMetric Infinity', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'maxSeriesPerMetric', run: () => createProbe({ maxSeriesPerMetric: Infinity }) },
  { what: 'maxSeriesPerMetric NaN', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'maxSeriesPerMetric', run: () => createProbe({ maxSeriesPerMetric: NaN }) },
  { what: 'maxSeriesPerMetric "10"', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'maxSeriesPerMetric', run: () => createProbe({ maxSeriesPerMetric: bad('10') }) },
];

describe('bad options', () => {
  it.each(badOptions)('throws a $type for $what', ({ type, code, option, run }) => {
    p = createProbe();
    const probe = p;
    const err = thrown(() => {
      const made = run(probe);
      // createProbe() rows build their own registry; release it if one slipped through.
      if (made !== undefined && typeof (made as { close?: unknown }).close === 'function') (made as Probe).close();
    });
    expectError(err, { type: ERRORS[type], code, option });
  });

  it('registers nothing when the options are rejected', () => {
    p = createProbe();
    const probe = p;
    for (const row of badOptions) {
      try {
        row.run(probe);
      } catch {
        // each row's error is asserted above
      }
    }
    expect(p.snapshot().metrics.map((f) => f.name)).toEqual([
      'probekit_dropped_values',
      'probekit_folded_label_sets',
      'probekit_failed_reads',
      'probekit_invalid_labels',
    ]);
  });

  // describe() renders values with JSON.stringify, which turns an invalid Date and a
  // non-finite number inside an array into null: the message then names a value the
  // caller never gave.
  it('names the +Inf it was given in buckets holding only +Inf, not null', () => {
    p = createProbe();
    const probe = p;
    const err = thrown(() => probe.histogram({ name: 'h', buckets: [Infinity] }));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toMatch(/^probekit: histogram\(\) option "buckets" must be at least one finite bound, got \[ Infinity \] \(array\)$/);
  });

  it('names the invalid Date it was given as a metric value, not null', () => {
    p = createProbe();
    const probe = p;
    const err = thrown(() => probe.metric({ name: 'm', value: new Date(NaN) }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(
      /^probekit: metric\(\) option "value" must be a finite number, boolean, string, valid Date or a function returning one, got Invalid Date/,
    );
  });
});

/** The dropped-values count of one metric, read through the public snapshot; 0 when it has no series. */
function droppedFor(probe: Probe, exportName: string): number {
  const family = probe.snapshot().metrics.find((f) => f.exportName === 'probekit_dropped_values');
  if (family === undefined || family.kind !== 'counter') throw new Error('no probekit_dropped_values family');
  return family.series.find((s) => s.labels.metric === exportName)?.value ?? 0;
}

interface Target {
  /** The recording call, as the test name shows it. */
  readonly call: string;
  /** Creates the probe, records one good value, and returns the bad call and a reader of the probe's state. */
  readonly setup: (probe: Probe) => { record: (v: unknown) => void; state: () => unknown };
}

const targets: Record<string, Target> = {
  inc: {
    call: 'counter.inc()',
    setup: (q) => {
      const c = q.counter({ name: 'target' });
      c.inc(2);
      return { record: (v) => c.inc(bad(v)), state: () => c.val() };
    },
  },
  dec: {
    call: 'counter.dec() on an up/down counter',
    setup: (q) => {
      const c = q.counter({ name: 'target' });
      c.inc(2);
      return { record: (v) => c.dec(bad(v)), state: () => c.val() };
    },
  },
  mark: {
    call: 'meter.mark()',
    setup: (q) => {
      const m = q.meter({ name: 'target' });
      m.mark(3);
      return { record: (v) => m.mark(bad(v)), state: () => [m.total(), m.val()] };
    },
  },
  observe: {
    call: 'histogram.observe()',
    setup: (q) => {
      const h = q.histogram({ name: 'target', unit: 'ms' });
      h.observe(5);
      return { record: (v) => h.observe(bad(v)), state: () => [h.val(), h.buckets()] };
    },
  },
  set: {
    call: 'metric.set()',
    setup: (q) => {
      const m = q.metric({ name: 'target' });
      m.set(7);
      return { record: (v) => m.set(bad(v)), state: () => m.val() };
    },
  },
};

const badValues: readonly { what: string; value: unknown; on: readonly (keyof typeof targets)[] }[] = [
  { what: 'NaN', value: NaN, on: ['inc', 'dec', 'mark', 'observe', 'set'] },
  { what: 'Infinity', value: Infinity, on: ['inc', 'dec', 'mark', 'observe', 'set'] },
  { what: '-Infinity', value: -Infinity, on: ['inc', 'dec', 'mark', 'observe', 'set'] },
  // A string is a valid metric value, so '5' is not bad input for metric.set().
  { what: 'the string "5"', value: '5', on: ['inc', 'dec', 'mark', 'observe'] },
  { what: 'null', value: null, on: ['inc', 'dec', 'mark', 'observe', 'set'] },
  { what: 'an object', value: {}, on: ['inc', 'dec', 'mark', 'observe', 'set'] },
  { what: 'a negative number', value: -1, on: ['mark'] },
  // undefined means "1" for inc(), dec() and mark(); it is bad input only where there is no default.
  { what: 'undefined', value: undefined, on: ['observe', 'set'] },
  { what: 'an invalid Date', value: new Date(NaN), on: ['set'] },
];

const recordingRows = badValues.flatMap(({ what, value, on }) =>
  on.map((key) => ({ what, value, call: targets[key]?.call ?? key, setup: (targets[key] as Target).setup })),
);

describe('bad recorded values', () => {
  it.each(recordingRows)('drops $what given to $call without throwing, and counts one drop per call', ({ value, setup }) => {
    p = createProbe({ clock: () => 1_000 });
    const { record, state } = setup(p);
    const before = state();
    expect(droppedFor(p, 'target')).toBe(0);
    expect(() => record(value)).not.toThrow();
    expect(state()).toEqual(before);
    expect(droppedFor(p, 'target')).toBe(1);
    record(value);
    expect(state()).toEqual(before);
    expect(droppedFor(p, 'target')).toBe(2);
  });
});
