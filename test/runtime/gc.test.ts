import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';
import type { Registry } from '../../src/probes/probe.js';
import { runtimeMetrics, type RuntimeMetrics } from '../../src/runtime.js';
import { family } from './read.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let p: Probe;
let h: RuntimeMetrics;
afterEach(() => {
  h.stop();
  p.close();
});

/**
 * Forces a full collection and waits (a bounded number of loop turns) until a test-owned
 * observer got its entry: GC entries reach every connected observer in the same dispatch,
 * so by then the sampler's observer, if connected, got it too.
 */
async function forcedMajorGc(): Promise<PerformanceEntry> {
  let entry: PerformanceEntry | undefined;
  const mine = new PerformanceObserver((list) => {
    entry ??= list.getEntries().find((e) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
  });
  mine.observe({ entryTypes: ['gc'] });
  try {
    gc();
    for (let i = 0; i < 100 && entry === undefined; i++) await new Promise((r) => setImmediate(r));
  } finally {
    mine.disconnect();
  }
  if (entry === undefined) throw new Error('no major GC entry arrived');
  return entry;
}

/** The GC histogram series as `{ kind: [count, sum] }`. */
function pauses(exportName: string, label: string): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const s of family(p, exportName).series as ReadonlyArray<{ labels: Record<string, string>; value: { count: number; sum: number } }>) {
    out[s.labels[label] as string] = [s.value.count, s.value.sum];
  }
  return out;
}

describe('GC pauses', () => {
  it("observes a forced full collection as a major pause in v8js_gc_duration_seconds{v8js_gc_type}, in seconds", async () => {
    p = createProbe();
    h = runtimeMetrics({ registry: p, windowMs: 0, host: false });
    const entry = await forcedMajorGc();
    const major = pauses('v8js_gc_duration', 'v8js_gc_type').major;
    expect(major?.[0]).toBeGreaterThanOrEqual(1);
    expect(major?.[1]).toBeGreaterThanOrEqual(entry.duration / 1000);
    const kinds = Object.keys(pauses('v8js_gc_duration', 'v8js_gc_type'));
    expect(kinds.filter((k) => !['major', 'minor', 'incremental', 'weakcb'].includes(k))).toEqual([]);
  });

  it("uses prom-client's nodejs_gc_duration_seconds{kind} and its buckets with naming 'classic'", async () => {
    p = createProbe();
    h = runtimeMetrics({ registry: p, naming: 'classic', windowMs: 0, host: false });
    await forcedMajorGc();
    expect(pauses('nodejs_gc_duration', 'kind').major?.[0]).toBeGreaterThanOrEqual(1);
    const major = (family(p, 'nodejs_gc_duration').series as ReadonlyArray<{ labels: Record<string, string>; buckets: { bounds: readonly number[] } }>).find((s) => s.labels.kind === 'major');
    expect(major?.buckets.bounds).toEqual([0.001, 0.01, 0.1, 1, 2, 5]);
  });

  it('disconnects its observer on stop(): a collection after it is not observed', async () => {
    p = createProbe();
    h = runtimeMetrics({ registry: p, windowMs: 0, host: false });
    await forcedMajorGc();
    const before = pauses('v8js_gc_duration', 'v8js_gc_type');
    h.stop();
    await forcedMajorGc();
    expect(pauses('v8js_gc_duration', 'v8js_gc_type')).toEqual(before);
  });

  it("keeps the registry's shared ticker off (the histogram reads the clock per pause), and its window still holds the pauses", async () => {
    p = createProbe();
    h = runtimeMetrics({ registry: p, windowMs: 0, host: false });
    await forcedMajorGc();
    expect((p as unknown as Registry).time.live).toBe(false);
    const major = (family(p, 'v8js_gc_duration').series as ReadonlyArray<{ labels: Record<string, string>; value: { windowCount: number; count: number } }>).find((s) => s.labels.v8js_gc_type === 'major');
    expect(major?.value.windowCount).toBe(major?.value.count);
    // A histogram registered the ordinary way does start it: the check above can fail.
    p.histogram({ name: 'ordinary' });
    expect((p as unknown as Registry).time.live).toBe(true);
  });

  it('registers no GC family with gc: false', () => {
    p = createProbe();
    h = runtimeMetrics({ registry: p, windowMs: 0, gc: false, host: false });
    expect(p.snapshot().metrics.filter((m) => m.exportName.includes('gc'))).toEqual([]);
  });
});
