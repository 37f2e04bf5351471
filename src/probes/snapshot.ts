/**
 * The plain, JSON-serialisable picture of a registry that the JSON endpoints,
 * HTTP push, cluster aggregation and the dashboard carry.
 */
import { Counter } from './counter.js';
import type { Family } from './family.js';
import { Histogram } from './histogram.js';
import { Meter } from './meter.js';
import { Metric } from './metric.js';
import type { FamilySnapshot, MetricSeriesSnapshot } from './types.js';

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
