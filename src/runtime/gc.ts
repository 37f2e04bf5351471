/**
 * Garbage-collection pauses by kind: one `PerformanceObserver` on `gc` entries feeds a
 * histogram in seconds, and is disconnected on stop (prom-client's never was, #500).
 */
import type { PerformanceEntry } from 'node:perf_hooks';
import { nodePerfHooks } from '../util/lazy.js';
import type { Registry } from '../probes/probe.js';
import type { Histogram } from '../probes/types.js';
import type { Group, GroupContext } from './common.js';

/** OpenTelemetry's `v8js.gc.duration` buckets, in seconds. */
export const OTEL_GC_BUCKETS: readonly number[] = [0.01, 0.1, 1, 10];
/** prom-client's `nodejs_gc_duration_seconds` buckets, in seconds. */
export const CLASSIC_GC_BUCKETS: readonly number[] = [0.001, 0.01, 0.1, 1, 2, 5];

/** Registers the GC histogram and starts observing collections. */
export function gcGroup(ctx: GroupContext): Group {
  const { registry: p, naming, prefix } = ctx;
  const otel = naming === 'otel';
  const label = otel ? 'v8js_gc_type' : 'kind';
  // Pauses are few: the histogram reads the clock per pause rather than run the registry's
  // shared ticker (a registry of another installed copy may lack rareHistogram: histogram()).
  const registry = p as Partial<Pick<Registry, 'rareHistogram'>> & typeof p;
  const make = typeof registry.rareHistogram === 'function' ? registry.rareHistogram.bind(registry) : p.histogram.bind(p);
  const histogram = make({
    name: `${prefix}${otel ? 'v8js_gc_duration' : 'nodejs_gc_duration'}`,
    unit: 's',
    help: 'Garbage collection pauses by kind (major, minor, incremental, weakcb)',
    buckets: otel ? OTEL_GC_BUCKETS : CLASSIC_GC_BUCKETS,
    labels: [label],
  }) as unknown as Histogram<string, never>;
  const perf = nodePerfHooks();
  const { constants } = perf;
  const kinds = new Map<number, string>([
    [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
    [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
    [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
  ]);
  // The series of each kind, made at its first pause (a kind never seen shows no series) and held.
  const byKind = new Map<number, Histogram<string, never>>();
  const observer = new perf.PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === undefined) continue;
      let series = byKind.get(kind);
      if (series === undefined) {
        const value = kinds.get(kind);
        if (value === undefined) continue; // a kind this Node.js adds later: left out, never a label value of its own
        series = histogram.labels({ [label]: value });
        byKind.set(kind, series);
      }
      series.observe(entry.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  let stopped = false;
  return {
    endWindow() {},
    stop() {
      if (stopped) return;
      stopped = true;
      observer.disconnect();
    },
  };
}
