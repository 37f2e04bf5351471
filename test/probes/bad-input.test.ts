import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';
import { bad, thrown } from '../support/helpers.js';

let p: Probe | undefined;
afterEach(() => {
  p?.close();
  p = undefined;
});


interface BadOptionRow {
  readonly what: string;
  readonly type: 'TypeError' | 'RangeError';
  readonly message: string;
  readonly run: (probe: Probe) => unknown;
}

const ERRORS = { TypeError, RangeError } as const;

const NAME_RULE = 'must be a non-empty string';
const LABEL_RULE = 'must be label names matching [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__"';
const METRIC_VALUE_RULE = 'must be a finite number, boolean, string, valid Date or a function returning one';

const badOptions: readonly BadOptionRow[] = [
  // Missing or non-object options
  { what: 'counter() without an options object', type: 'TypeError', message: 'probekit: counter() options must be an options object, got undefined', run: (q) => q.counter(bad(undefined)) },
  { what: 'meter(null)', type: 'TypeError', message: 'probekit: meter() options must be an options object, got null', run: (q) => q.meter(bad(null)) },
  { what: 'histogram() given an array', type: 'TypeError', message: 'probekit: histogram() options must be an options object, got [] (array)', run: (q) => q.histogram(bad([])) },
  { what: 'metric() given a bare name string', type: 'TypeError', message: 'probekit: metric() options must be an options object, got "users" (string)', run: (q) => q.metric(bad('users')) },
  // Names
  { what: 'a counter without a name', type: 'TypeError', message: `probekit: counter() option "name" ${NAME_RULE}, got undefined`, run: (q) => q.counter(bad({})) },
  { what: 'a meter with an empty name', type: 'TypeError', message: `probekit: meter() option "name" ${NAME_RULE}, got "" (string)`, run: (q) => q.meter({ name: '' }) },
  { what: 'a histogram with a number as name', type: 'TypeError', message: `probekit: histogram() option "name" ${NAME_RULE}, got 42 (number)`, run: (q) => q.histogram({ name: bad(42) }) },
  { what: 'a metric with null as name', type: 'TypeError', message: `probekit: metric() option "name" ${NAME_RULE}, got null`, run: (q) => q.metric({ name: bad(null) }) },
  { what: 'a counter named "!!!" with no letter or digit', type: 'TypeError', message: 'probekit: counter() option "name" must be a name with at least one letter or digit, got "!!!" (string)', run: (q) => q.counter({ name: '!!!' }) },
  { what: 'a meter named "!!!" with no letter or digit', type: 'TypeError', message: 'probekit: meter() option "name" must be a name with at least one letter or digit, got "!!!" (string)', run: (q) => q.meter({ name: '!!!' }) },
  { what: 'a histogram named "- -" with no letter or digit', type: 'TypeError', message: 'probekit: histogram() option "name" must be a name with at least one letter or digit, got "- -" (string)', run: (q) => q.histogram({ name: '- -' }) },
  { what: 'a metric named "!!!" with no letter or digit', type: 'TypeError', message: 'probekit: metric() option "name" must be a name with at least one letter or digit, got "!!!" (string)', run: (q) => q.metric({ name: '!!!' }) },
  // Unknown option keys
  { what: 'an unknown counter option', type: 'TypeError', message: 'probekit: counter() has no option "color"; known options are: name, monotonic, labels, help, unit', run: (q) => q.counter(bad({ name: 'c', color: 'red' })) },
  { what: 'an unknown metric option', type: 'TypeError', message: 'probekit: metric() has no option "val"; known options are: name, value, unit, help', run: (q) => q.metric(bad({ name: 'm', val: 1 })) },
  { what: 'the pmx option "seconds" on a meter, suggesting "samples"', type: 'TypeError', message: 'probekit: meter() has no option "seconds"; use "samples" instead', run: (q) => q.meter(bad({ name: 'm', seconds: 60 })) },
  { what: 'the pmx option "measurement" on a histogram, suggesting "percentiles"', type: 'TypeError', message: 'probekit: histogram() has no option "measurement"; use "percentiles" instead', run: (q) => q.histogram(bad({ name: 'h', measurement: 'mean' })) },
  // Meter window
  { what: 'meter samples 0', type: 'RangeError', message: 'probekit: meter() option "samples" must be a finite number greater than 0, got 0 (number)', run: (q) => q.meter({ name: 'm', samples: 0 }) },
  { what: 'negative meter samples', type: 'RangeError', message: 'probekit: meter() option "samples" must be a finite number greater than 0, got -60 (number)', run: (q) => q.meter({ name: 'm', samples: -60 }) },
  { what: 'meter samples NaN', type: 'TypeError', message: 'probekit: meter() option "samples" must be a number, got NaN (number)', run: (q) => q.meter({ name: 'm', samples: NaN }) },
  { what: 'meter samples "x"', type: 'TypeError', message: 'probekit: meter() option "samples" must be a number, got "x" (string)', run: (q) => q.meter({ name: 'm', samples: bad('x') }) },
  { what: 'a meter timeframe shorter than samples', type: 'RangeError', message: 'probekit: meter() option "timeframe" must be at least "samples" (60 s), got 30 (number): the window cannot be shorter than the rate unit', run: (q) => q.meter({ name: 'm', samples: 60, timeframe: 30 }) },
  { what: 'a meter timeframe shorter than the default samples', type: 'RangeError', message: 'probekit: meter() option "timeframe" must be at least "samples" (1 s), got 0.5 (number): the window cannot be shorter than the rate unit', run: (q) => q.meter({ name: 'm', timeframe: 0.5 }) },
  { what: 'meter timeframe Infinity', type: 'RangeError', message: 'probekit: meter() option "timeframe" must be a finite number greater than 0, got Infinity (number)', run: (q) => q.meter({ name: 'm', timeframe: Infinity }) },
  { what: 'histogram timeframe 0', type: 'RangeError', message: 'probekit: histogram() option "timeframe" must be a finite number greater than 0, got 0 (number)', run: (q) => q.histogram({ name: 'h', timeframe: 0 }) },
  // Histogram buckets
  { what: 'unsorted buckets', type: 'RangeError', message: 'probekit: histogram() option "buckets" must be strictly increasing, got [ 1, 5, 2 ] (array)', run: (q) => q.histogram({ name: 'h', buckets: [1, 5, 2] }) },
  { what: 'duplicate buckets', type: 'RangeError', message: 'probekit: histogram() option "buckets" must be strictly increasing, got [ 1, 2, 2, 3 ] (array)', run: (q) => q.histogram({ name: 'h', buckets: [1, 2, 2, 3] }) },
  { what: 'empty buckets', type: 'RangeError', message: 'probekit: histogram() option "buckets" must be at least one finite bound, got [] (array)', run: (q) => q.histogram({ name: 'h', buckets: [] }) },
  { what: 'a NaN bucket', type: 'TypeError', message: 'probekit: histogram() option "buckets"[1] must be a number, got NaN (number)', run: (q) => q.histogram({ name: 'h', buckets: [1, NaN, 3] }) },
  { what: 'a string bucket', type: 'TypeError', message: 'probekit: histogram() option "buckets"[0] must be a number, got "1" (string)', run: (q) => q.histogram({ name: 'h', buckets: bad(['1']) }) },
  { what: 'a +Inf bucket before the last', type: 'RangeError', message: 'probekit: histogram() option "buckets"[1] must be finite (+Inf is implicit), got Infinity (number)', run: (q) => q.histogram({ name: 'h', buckets: [1, Infinity, 5] }) },
  { what: 'a -Inf bucket', type: 'RangeError', message: 'probekit: histogram() option "buckets"[0] must be finite (+Inf is implicit), got -Infinity (number)', run: (q) => q.histogram({ name: 'h', buckets: [-Infinity, 1] }) },
  { what: 'buckets that are not an array', type: 'TypeError', message: 'probekit: histogram() option "buckets" must be an array of increasing numbers, got 10 (number)', run: (q) => q.histogram({ name: 'h', buckets: bad(10) }) },
  { what: 'more than 65000 buckets', type: 'RangeError', message: 'probekit: histogram() option "buckets" must be at most 65000 bounds, got 65001 (number)', run: (q) => q.histogram({ name: 'h', buckets: Array.from({ length: 65_001 }, (_, i) => i + 1) }) },
  // Histogram percentiles
  { what: 'a percentile above 1', type: 'RangeError', message: 'probekit: histogram() option "percentiles"[1] must be in [0, 1], got 1.5 (number)', run: (q) => q.histogram({ name: 'h', percentiles: [0.5, 1.5] }) },
  { what: 'a negative percentile', type: 'RangeError', message: 'probekit: histogram() option "percentiles"[0] must be in [0, 1], got -0.1 (number)', run: (q) => q.histogram({ name: 'h', percentiles: [-0.1] }) },
  { what: 'a percentile given as 99 instead of 0.99', type: 'RangeError', message: 'probekit: histogram() option "percentiles"[0] must be in [0, 1], got 99 (number)', run: (q) => q.histogram({ name: 'h', percentiles: [99] }) },
  { what: 'a NaN percentile', type: 'TypeError', message: 'probekit: histogram() option "percentiles"[0] must be a number, got NaN (number)', run: (q) => q.histogram({ name: 'h', percentiles: [NaN] }) },
  { what: 'percentiles that are not an array', type: 'TypeError', message: 'probekit: histogram() option "percentiles" must be an array of numbers in [0, 1], got 0.99 (number)', run: (q) => q.histogram({ name: 'h', percentiles: bad(0.99) }) },
  // Label names
  { what: 'a label name starting with a digit', type: 'TypeError', message: `probekit: counter() option "labels" ${LABEL_RULE}, got "1abc" (string)`, run: (q) => q.counter({ name: 'c', labels: ['1abc'] }) },
  { what: 'a label name with a dash', type: 'TypeError', message: `probekit: meter() option "labels" ${LABEL_RULE}, got "a-b" (string)`, run: (q) => q.meter({ name: 'm', labels: ['a-b'] }) },
  { what: 'a reserved label name starting with __', type: 'TypeError', message: `probekit: histogram() option "labels" ${LABEL_RULE}, got "__x" (string)`, run: (q) => q.histogram({ name: 'h', labels: ['__x'] }) },
  { what: 'an empty label name', type: 'TypeError', message: `probekit: counter() option "labels" ${LABEL_RULE}, got "" (string)`, run: (q) => q.counter({ name: 'c', labels: [''] }) },
  { what: 'a non-string label name', type: 'TypeError', message: `probekit: counter() option "labels" ${LABEL_RULE}, got 7 (number)`, run: (q) => q.counter({ name: 'c', labels: bad([7]) }) },
  { what: 'a duplicate label name', type: 'TypeError', message: 'probekit: counter() option "labels" must be an array without duplicates, got "route" (string)', run: (q) => q.counter({ name: 'c', labels: ['route', 'method', 'route'] }) },
  { what: 'labels given as a string', type: 'TypeError', message: 'probekit: meter() option "labels" must be an array of label names, got "route" (string)', run: (q) => q.meter({ name: 'm', labels: bad('route') }) },
  { what: 'the label "le" on a histogram', type: 'TypeError', message: 'probekit: histogram() option "labels" must be free of the reserved label names le, quantile, got "le" (string)', run: (q) => q.histogram({ name: 'h', labels: ['route', 'le'] }) },
  { what: 'the label "quantile" on a histogram', type: 'TypeError', message: 'probekit: histogram() option "labels" must be free of the reserved label names le, quantile, got "quantile" (string)', run: (q) => q.histogram({ name: 'h', labels: ['quantile'] }) },
  // Other per-probe options
  { what: 'a non-boolean monotonic', type: 'TypeError', message: 'probekit: counter() option "monotonic" must be a boolean, got "yes" (string)', run: (q) => q.counter({ name: 'c', monotonic: bad('yes') }) },
  { what: 'monotonic given as 1', type: 'TypeError', message: 'probekit: counter() option "monotonic" must be a boolean, got 1 (number)', run: (q) => q.counter({ name: 'c', monotonic: bad(1) }) },
  { what: 'a non-string help', type: 'TypeError', message: 'probekit: counter() option "help" must be a string, got 5 (number)', run: (q) => q.counter({ name: 'c', help: bad(5) }) },
  { what: 'a non-string unit', type: 'TypeError', message: 'probekit: histogram() option "unit" must be a string, got 1000 (number)', run: (q) => q.histogram({ name: 'h', unit: bad(1000) }) },
  { what: 'a metric value NaN', type: 'TypeError', message: `probekit: metric() option "value" ${METRIC_VALUE_RULE}, got NaN (number)`, run: (q) => q.metric({ name: 'm', value: NaN }) },
  { what: 'a metric value Infinity', type: 'TypeError', message: `probekit: metric() option "value" ${METRIC_VALUE_RULE}, got Infinity (number)`, run: (q) => q.metric({ name: 'm', value: Infinity }) },
  { what: 'a metric value {}', type: 'TypeError', message: `probekit: metric() option "value" ${METRIC_VALUE_RULE}, got {} (object)`, run: (q) => q.metric({ name: 'm', value: bad({}) }) },
  { what: 'a metric value null', type: 'TypeError', message: `probekit: metric() option "value" ${METRIC_VALUE_RULE}, got null`, run: (q) => q.metric({ name: 'm', value: bad(null) }) },
  // createProbe()
  { what: 'createProbe(null)', type: 'TypeError', message: 'probekit: createProbe() options must be an options object, got null', run: () => createProbe(bad(null)) },
  { what: 'an unknown createProbe() option', type: 'TypeError', message: 'probekit: createProbe() has no option "maxSeries"; known options are: clock, prefix, maxSeriesPerMetric', run: () => createProbe(bad({ maxSeries: 10 })) },
  { what: 'a clock that is a number', type: 'TypeError', message: 'probekit: createProbe() option "clock" must be a function returning milliseconds, got 5 (number)', run: () => createProbe({ clock: bad(5) }) },
  { what: 'a clock that is a Date', type: 'TypeError', message: 'probekit: createProbe() option "clock" must be a function returning milliseconds, got 1970-01-01T00:00:00.000Z (Date)', run: () => createProbe({ clock: bad(new Date(0)) }) },
  { what: 'the prefix "1x" starting with a digit', type: 'TypeError', message: 'probekit: createProbe() option "prefix" must be a string matching [a-zA-Z_:][a-zA-Z0-9_:]*, got "1x" (string)', run: () => createProbe({ prefix: '1x' }) },
  { what: 'the prefix "a b" with a space', type: 'TypeError', message: 'probekit: createProbe() option "prefix" must be a string matching [a-zA-Z_:][a-zA-Z0-9_:]*, got "a b" (string)', run: () => createProbe({ prefix: 'a b' }) },
  { what: 'a non-string prefix', type: 'TypeError', message: 'probekit: createProbe() option "prefix" must be a string, got 1 (number)', run: () => createProbe({ prefix: bad(1) }) },
  { what: 'maxSeriesPerMetric 0', type: 'RangeError', message: 'probekit: createProbe() option "maxSeriesPerMetric" must be an integer >= 1, got 0 (number)', run: () => createProbe({ maxSeriesPerMetric: 0 }) },
  { what: 'maxSeriesPerMetric 1.5', type: 'RangeError', message: 'probekit: createProbe() option "maxSeriesPerMetric" must be an integer >= 1, got 1.5 (number)', run: () => createProbe({ maxSeriesPerMetric: 1.5 }) },
  { what: 'maxSeriesPerMetric Infinity', type: 'RangeError', message: 'probekit: createProbe() option "maxSeriesPerMetric" must be an integer >= 1, got Infinity (number)', run: () => createProbe({ maxSeriesPerMetric: Infinity }) },
  { what: 'maxSeriesPerMetric NaN', type: 'TypeError', message: 'probekit: createProbe() option "maxSeriesPerMetric" must be an integer, got NaN (number)', run: () => createProbe({ maxSeriesPerMetric: NaN }) },
  { what: 'maxSeriesPerMetric "10"', type: 'TypeError', message: 'probekit: createProbe() option "maxSeriesPerMetric" must be an integer, got "10" (string)', run: () => createProbe({ maxSeriesPerMetric: bad('10') }) },
];

describe('bad options', () => {
  it.each(badOptions)('throws a $type for $what', ({ type, message, run }) => {
    p = createProbe();
    const probe = p;
    const err = thrown(() => {
      const made = run(probe);
      // createProbe() rows build their own registry; release it if one slipped through.
      if (made !== undefined && typeof (made as { close?: unknown }).close === 'function') (made as Probe).close();
    });
    expect(err.constructor).toBe(ERRORS[type]);
    expect(err.message).toBe(message);
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
