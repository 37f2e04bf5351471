/**
 * The plain, JSON-serialisable picture of a registry that the JSON endpoints,
 * HTTP push, cluster aggregation and the dashboard carry.
 */
import { Counter } from './counter.js';
import type { Family, Kind } from './family.js';
import { Histogram, type HistogramValue } from './histogram.js';
import { Meter } from './meter.js';
import { Metric } from './metric.js';

/** Labels of one series. */
export type SnapshotLabels = Readonly<Record<string, string>>;

/** What every family snapshot carries. */
interface FamilyBase<K extends Kind, S> {
  /** The name the probe was registered with (may be free text). */
  readonly name: string;
  /** The stable exported name, `[a-zA-Z_:][a-zA-Z0-9_:]*`, prefix applied. */
  readonly exportName: string;
  readonly kind: K;
  readonly unit: string | null;
  readonly help: string | null;
  readonly labelNames: readonly string[];
  readonly series: readonly S[];
}

/** A metric's value: numbers, booleans and strings as they are, a Date as epoch milliseconds. */
export type MetricSeriesSnapshot =
  | { readonly labels: SnapshotLabels; readonly type: 'number' | 'date'; readonly value: number }
  | { readonly labels: SnapshotLabels; readonly type: 'boolean'; readonly value: boolean }
  | { readonly labels: SnapshotLabels; readonly type: 'string'; readonly value: string }
  | { readonly labels: SnapshotLabels; readonly type: 'failed'; readonly error: string };

export type MetricSnapshot = FamilyBase<'metric', MetricSeriesSnapshot>;

export interface CounterSeriesSnapshot {
  readonly labels: SnapshotLabels;
  readonly value: number;
}
export interface CounterSnapshot extends FamilyBase<'counter', CounterSeriesSnapshot> {
  readonly monotonic: boolean;
}

export interface MeterSeriesSnapshot {
  readonly labels: SnapshotLabels;
  /** Events per `samples` seconds over the last `timeframe` seconds. */
  readonly rate: number;
  /** Events since creation. */
  readonly total: number;
}
export interface MeterSnapshot extends FamilyBase<'meter', MeterSeriesSnapshot> {
  readonly samples: number;
  readonly timeframe: number;
}

export interface HistogramSeriesSnapshot {
  readonly labels: SnapshotLabels;
  /** Window statistics and cumulative count/sum, as `histogram.val()` returns them. */
  readonly value: HistogramValue;
  /** Cumulative bucket counts: `counts[i]` observations ≤ `bounds[i]`; the last count is +Inf (= count). */
  readonly buckets: { readonly bounds: readonly number[]; readonly counts: readonly number[] };
}
export type HistogramSnapshot = FamilyBase<'histogram', HistogramSeriesSnapshot>;

/** One family's snapshot. */
export type FamilySnapshot = MetricSnapshot | CounterSnapshot | MeterSnapshot | HistogramSnapshot;

/** What `probe.snapshot()` returns. */
export interface Snapshot {
  /** When it was taken, epoch milliseconds from the registry's clock. */
  readonly time: number;
  readonly metrics: readonly FamilySnapshot[];
}

export function snapshotFamily(family: Family<unknown>): FamilySnapshot {
  const base = {
    name: family.name,
    exportName: family.exportName,
    unit: family.unit ?? null,
    help: family.help ?? null,
    labelNames: family.labelNames,
  };
  const root = family.root;
  if (root instanceof Metric) {
    // A metric never given a value has nothing to report yet (exporters emit no sample).
    if (root._value === undefined) return { ...base, kind: 'metric', series: [] };
    const read = root.read();
    let s: MetricSeriesSnapshot;
    if (!read.ok) s = { labels: {}, type: 'failed', error: read.error };
    else if (read.value instanceof Date) s = { labels: {}, type: 'date', value: read.value.getTime() };
    else if (typeof read.value === 'number') s = { labels: {}, type: 'number', value: read.value };
    else if (typeof read.value === 'boolean') s = { labels: {}, type: 'boolean', value: read.value };
    else s = { labels: {}, type: 'string', value: read.value };
    return { ...base, kind: 'metric', series: [s] };
  }
  if (root instanceof Counter) {
    const all = (family as Family<Counter>).reported((c) => c._value !== 0);
    return {
      ...base,
      kind: 'counter',
      monotonic: root._floor === 0,
      series: all.map((c) => ({ labels: c.labelValues, value: c._value })),
    };
  }
  if (root instanceof Meter) {
    const all = (family as Family<Meter>).reported((m) => m._total !== 0);
    return {
      ...base,
      kind: 'meter',
      samples: root._samples,
      timeframe: root._timeframeMs / 1000,
      series: all.map((m) => ({ labels: m.labelValues, rate: m.val(), total: m._total })),
    };
  }
  const all = (family as Family<Histogram>).reported((h) => h._count !== 0);
  return {
    ...base,
    kind: 'histogram',
    series: all.map((h) => ({ labels: h.labelValues, value: h.val(), buckets: h.buckets() })),
  };
}
