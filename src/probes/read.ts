/**
 * The read path: the one way anything outside `src/probes` reads a probe. The snapshot,
 * the Prometheus writer, the cluster merge and StatsD read through it (and push, the
 * dashboard and the pmx facade will), so the probe classes can keep their state as they
 * like. Exporters reach it as `registry.read`, so a registry made by another installed
 * copy of probekit is read by that copy's own code.
 *
 * Families are told apart by `family.kind`; their exported shape is `family.plan`
 * (plan.ts). Readers never throw: a value function that fails is counted and reported
 * as a failed reading.
 */
import type { Counter } from './counter.js';
import type { Family } from './family.js';
import type { Histogram } from './histogram.js';
import type { Meter } from './meter.js';
import { type Metric, type MetricReading, metricValue } from './metric.js';
import type { TapConfig } from './tap.js';
import type { FamilySnapshot, HistogramValue, LabelValues, MetricSeriesSnapshot, MetricValue } from './types.js';

const NO_LABELS: LabelValues = Object.freeze({});

/** One series of a metric family as read now. */
export interface MetricRead {
  readonly labels: LabelValues;
  /** The series object, for exporters that cache per series; `undefined` for a label set a value function reported. */
  readonly series: object | undefined;
  readonly reading: MetricReading;
}

/** Raw observations a tap handed over (StatsD timers); see tap.ts. */
export interface TapTake {
  readonly values: Float64Array;
  readonly length: number;
  readonly dropped: number;
}

/**
 * Every series of a metric family with its value now: the unlabelled series when set,
 * each `labels().set()` child, and each `[labels, value]` pair the unlabelled series'
 * value function reports (which wins over a child with the same labels). Pairs beyond
 * `maxSeriesPerMetric` are left out and counted; bad pairs are counted as failed reads,
 * bad labels as invalid labels.
 */
function readMetric(family: Family<Metric>): MetricRead[] {
  const root = family.root;
  const labelled = family.labelNames.length > 0;
  if (!labelled) return root._isSet ? [{ labels: NO_LABELS, series: root, reading: root.read() }] : [];
  const out = new Map<string, MetricRead>();
  const key = (labels: LabelValues): string => JSON.stringify(family.labelNames.map((n) => labels[n]));
  let pairs: Iterable<unknown> | undefined;
  if (root._isSet) {
    const read = root.readMany();
    if ('pairs' in read) pairs = read.pairs;
    else out.set('', { labels: NO_LABELS, series: root, reading: read });
  }
  for (const child of family.children) {
    if (child._isSet) out.set(key(child.labelValues), { labels: child.labelValues, series: child, reading: child.read() });
  }
  if (pairs !== undefined) readPairs(family, pairs, out, key);
  return [...out.values()];
}

/** Adds the pairs a value function reported; a throwing iterator fails the whole report. */
function readPairs(family: Family<Metric>, pairs: Iterable<unknown>, out: Map<string, MetricRead>, key: (l: LabelValues) => string): void {
  const added: string[] = [];
  let n = 0;
  try {
    for (const pair of pairs) {
      if (n >= family.maxSeries) {
        family.capRead();
        break;
      }
      n++;
      let rawLabels: unknown;
      let rawValue: unknown;
      if (Array.isArray(pair) && pair.length === 2) [rawLabels, rawValue] = pair as [unknown, unknown];
      else {
        family.failedRead();
        continue;
      }
      const value = metricValue(rawValue);
      if (value === undefined) {
        family.failedRead();
        continue;
      }
      const labels = family.labelSet(rawLabels);
      const k = key(labels);
      added.push(k);
      out.set(k, { labels, series: undefined, reading: { ok: true, value } });
    }
  } catch {
    // A hostile iterator: the report is unusable as a whole.
    for (const k of added) out.delete(k);
    family.failedRead();
  }
}

/** Counters worth reporting: the unlabelled series unless the family is labelled and it was never used. */
function counters(family: Family<Counter>): Counter[] {
  return family.reported((c) => c._value !== 0);
}

function meters(family: Family<Meter>): Meter[] {
  return family.reported((m) => m._total !== 0);
}

function histograms(family: Family<Histogram>): Histogram[] {
  return family.reported((h) => h._count !== 0);
}

/** The family's series the same way `probe.snapshot()` reports them. */
function snapshotFamily(family: Family<unknown>): FamilySnapshot {
  const base = {
    name: family.name,
    exportName: family.exportName,
    unit: family.unit ?? null,
    help: family.help ?? null,
    labelNames: family.labelNames,
  };
  switch (family.kind) {
    case 'metric':
      return { ...base, kind: 'metric', series: readMetric(family as Family<Metric>).map(metricSnapshot) };
    case 'counter':
      return {
        ...base,
        kind: 'counter',
        monotonic: family.monotonic,
        series: counters(family as Family<Counter>).map((c) => ({ labels: c.labelValues, value: c._value })),
      };
    case 'meter':
      return {
        ...base,
        kind: 'meter',
        samples: family.samples as number,
        timeframe: family.timeframe as number,
        series: meters(family as Family<Meter>).map((m) => ({ labels: m.labelValues, rate: m.val(), total: m._total })),
      };
    case 'histogram':
      return {
        ...base,
        kind: 'histogram',
        series: histograms(family as Family<Histogram>).map((h) => ({ labels: h.labelValues, value: h.val(), buckets: h.buckets() })),
      };
  }
}

function metricSnapshot({ labels, reading }: MetricRead): MetricSeriesSnapshot {
  if (!reading.ok) return { labels, type: 'failed', error: reading.error };
  const v: MetricValue = reading.value;
  if (v instanceof Date) return { labels, type: 'date', value: v.getTime() };
  if (typeof v === 'number') return { labels, type: 'number', value: v };
  if (typeof v === 'boolean') return { labels, type: 'boolean', value: v };
  return { labels, type: 'string', value: v };
}

/** A metric value as a number for formats without strings: booleans 1/0, a Date in epoch seconds. */
function numeric(v: MetricValue): number | undefined {
  return typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'string' ? undefined : v.getTime() / 1000;
}

/**
 * The read path as one object: what `registry.read` holds. Each function reads one
 * kind; none throws.
 */
export const reader = {
  readMetric,
  numeric,
  counters,
  counterValue: (c: Counter): number => c._value,
  /** How many times `reset()` was called: a StatsD delta after a reset starts over. */
  counterResets: (c: Counter): number => c._resets,
  meters,
  meterRate: (m: Meter): number => m.val(),
  meterTotal: (m: Meter): number => m._total,
  histograms,
  /** Every histogram series, tapped or not (StatsD drains each one's tap). */
  allHistograms: (family: Family<Histogram>): Histogram[] => family.all(),
  /** The family's finite bucket bounds (`le`), shared by its series; +Inf is implicit. */
  bounds: (family: Family<Histogram>): Float64Array => family.root._layout.bounds,
  /** Per-bucket counts, not cumulative, the last one +Inf. The live array: read, never write. */
  bucketCounts: (h: Histogram): Float64Array => h._counts,
  count: (h: Histogram): number => h._count,
  sum: (h: Histogram): number => h._sum,
  /** True once the series saw a negative value (OpenMetrics then allows no `_sum`). */
  sawNegative: (h: Histogram): boolean => h._negative,
  windowValue: (h: Histogram): HistogramValue => h.val(),
  /** The percentiles of the family's window and their `val()` keys. */
  percentiles: (family: Family<Histogram>): { readonly values: readonly number[]; readonly keys: readonly string[] } => ({
    values: family.root._percentiles,
    keys: family.root._percentileKeys,
  }),
  /** Hands over a series' raw observations since the last take; `undefined` when it has no tap. */
  takeTap: (h: Histogram): TapTake | undefined => h._tap?.take(),
  /** Returns `n` taken values to the tap's budget once they were written out. */
  releaseTap: (h: Histogram, n: number): void => h._tap?.release(n),
  snapshotFamily,
};

/** The read path's type, as exporters see it through `registry.read`. */
export type Reader = typeof reader;

/** What an exporter asks for histogram taps; see {@link TapConfig}. */
export type { TapConfig };
