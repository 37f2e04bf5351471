import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe, prometheus } from '../../src/index.js';
import { canonicalNumber } from '../../src/exporters/prometheus/format.js';
import { runtimeMetrics } from '../../src/runtime.js';
import { haveOpenMetricsParser, parseOpenMetrics } from '../support/peers.js';

// OpenMetrics output read back by prometheus_client's parser (Python, 0.26.0), which
// nobody here wrote. The text format 0.0.4 is read by promtool in test/integration.

const parser = haveOpenMetricsParser();
const probes: Probe[] = [];
afterEach(() => {
  for (const p of probes.splice(0)) p.close();
});
const registry = (): Probe => {
  const p = createProbe({ clock: () => 1_000_000 });
  probes.push(p);
  return p;
};
const om = (p: Probe, windowQuantiles = false): Promise<string> => prometheus.text({ registry: p, openMetrics: true, windowQuantiles });
const text = (p: Probe): Promise<string> => prometheus.text({ registry: p });
const omitted = (p: Probe): number | undefined =>
  p.snapshot().metrics.find((f) => f.exportName === 'probekit_exporter_omitted')?.series.find((s) => s.labels.exporter === 'prometheus')?.['value' as never];

/** Parses with the strict parser and fails with its message when it rejects the text. */
function parsed(body: string) {
  const result = parseOpenMetrics(body);
  if ('error' in result) throw new Error(`prometheus_client rejected the exposition: ${result.error}\n${body}`);
  return result.families;
}

describe.skipIf(!parser)('OpenMetrics output read by prometheus_client 0.26.0', () => {
  it('parses a registry with every probe kind, labels with awkward values, window quantiles and the self-metrics', async () => {
    const p = registry();
    const c = p.counter({ name: 'http requests', monotonic: true, labels: ['method', 'path'], help: 'Requests "served"\nby path \\ method' });
    c.labels({ method: 'GET', path: 'C:\\temp "x"\nnext\r\nline\rend' }).inc(3);
    c.labels({ method: 'POST', path: 'ünï 🚀' }).inc();
    p.counter({ name: 'Active', labels: ['pool'] }).labels({ pool: 'a' }).dec(2);
    p.meter({ name: 'Calls per minute', samples: 60 }).mark(5);
    const h = p.histogram({ name: 'latency', unit: 'ms', labels: ['route'], percentiles: [0.5, 0.9, 0.99] });
    for (const v of [1, 20, 300, 4000, 1_000_000]) h.labels({ route: '/a' }).observe(v);
    p.histogram({ name: 'payload', unit: 'bytes', buckets: [1, 10, 1_000_000, 2.5e7] }).observe(3);
    p.metric({ name: 'Realtime users', value: 12.5 });
    p.metric({ name: 'version', value: 'v1.2.3\r\n' });
    p.metric({ name: 'started', value: new Date(1_700_000_000_500) });
    p.metric({ name: 'healthy', value: true });
    const families = parsed(await om(p, true));
    const names = families.map(([name, type]) => `${name}:${type}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'http_requests:counter',
        'active:gauge',
        'calls_per_minute:gauge',
        'calls_per_minute_events:counter',
        'latency_seconds:histogram',
        'latency_seconds_window:summary',
        'payload:histogram',
        'realtime_users:gauge',
        'version:info',
        'started:gauge',
        'healthy:gauge',
        'probekit_dropped_values:counter',
      ]),
    );
    const requests = families.find(([name]) => name === 'http_requests')?.[2] ?? [];
    expect(requests.map(([, labels]) => labels.path)).toEqual(['C:\\temp "x"\nnext\nline\nend', 'ünï 🚀']);
  });

  it('writes le and quantile values canonically (1.0, 1e+06, 2.5e+07), as the parser requires of them', async () => {
    const p = registry();
    p.histogram({ name: 'payload', unit: 'bytes', buckets: [1, 10, 1_000_000, 2.5e7] }).observe(3);
    const h = p.histogram({ name: 'ratio', buckets: [0.5, 1], percentiles: [0, 0.5, 1] });
    h.observe(0.7);
    const body = await om(p, true);
    expect(body).toContain('payload_bucket{le="1.0"} 0\npayload_bucket{le="10.0"} 1\npayload_bucket{le="1e+06"} 1\npayload_bucket{le="2.5e+07"} 1\n');
    expect(body).toContain('ratio_window{quantile="0.0"} 0.7\nratio_window{quantile="0.5"} 0.7\nratio_window{quantile="1.0"} 0.7\n');
    parsed(body);
    // The text format 0.0.4 keeps the numbers as JavaScript prints them.
    expect(await text(p)).toContain('payload_bucket{le="1"} 0\npayload_bucket{le="10"} 1\npayload_bucket{le="1000000"} 1\n');
  });

  it('writes a histogram with a negative bound as a gauge histogram (_gcount, _gsum), which may hold negative values', async () => {
    const p = registry();
    const h = p.histogram({ name: 'delta', buckets: [-10, 0, 10] });
    for (const v of [-20, -5, 3]) h.observe(v);
    const body = await om(p);
    expect(body).toContain(
      '# TYPE delta gaugehistogram\n# HELP delta delta\ndelta_bucket{le="-10.0"} 1\ndelta_bucket{le="0.0"} 2\ndelta_bucket{le="10.0"} 3\ndelta_bucket{le="+Inf"} 3\ndelta_gcount 3\ndelta_gsum -22\n',
    );
    expect(parsed(body).find(([name]) => name === 'delta')?.[1]).toBe('gaugehistogram');
    // The text format 0.0.4 has no gauge histogram: a histogram, as before.
    expect(await text(p)).toContain('# TYPE delta histogram\ndelta_bucket{le="-10"} 1\n');
  });

  it('leaves out _count and _sum of a histogram series that saw a negative value, counts them, and keeps its buckets', async () => {
    const p = registry();
    const h = p.histogram({ name: 'drift', buckets: [1, 10], labels: ['k'] });
    h.labels({ k: 'neg' }).observe(-3);
    h.labels({ k: 'neg' }).observe(2);
    h.labels({ k: 'pos' }).observe(2);
    const body = await om(p);
    expect(body).toContain('drift_bucket{k="neg",le="+Inf"} 2\ndrift_bucket{k="pos",le="1.0"} 0\n');
    expect(body).toContain('drift_bucket{k="pos",le="+Inf"} 1\ndrift_count{k="pos"} 1\ndrift_sum{k="pos"} 2\n');
    expect(body).not.toContain('drift_sum{k="neg"}');
    parsed(body);
    expect(omitted(p)).toBe(2);
    expect(await text(p)).toContain('drift_count{k="neg"} 2\ndrift_sum{k="neg"} -1\n');
  });

  it('leaves out negative window quantiles and a negative window _sum, counted, so one histogram cannot break the scrape', async () => {
    const p = registry();
    const h = p.histogram({ name: 'offset', buckets: [-1, 1], percentiles: [0.25, 0.5, 1] });
    for (const v of [-4, -3, 2, 1]) h.observe(v);
    const body = await om(p, true);
    // Sorted: -4, -3, 1, 2. p25 is -4 and p50 is -3 (left out); p100 is 2; the sum is -4 (left out).
    expect(body).toContain('# TYPE offset_window summary\n# HELP offset_window offset — percentiles over the sliding window\noffset_window{quantile="1.0"} 2\noffset_window_count 4\n');
    parsed(body);
    expect(omitted(p)).toBe(3);
  });

  it('writes no _created samples', async () => {
    const p = registry();
    p.counter({ name: 'jobs', monotonic: true }).inc();
    p.histogram({ name: 'h' }).observe(1);
    p.meter({ name: 'm' }).mark();
    const body = await om(p);
    expect(body).not.toContain('_created');
    expect(await text(p)).not.toContain('_created');
    parsed(body);
  });
});

describe('canonicalNumber()', () => {
  it.each([
    [1, '1.0'],
    [0, '0.0'],
    [0.5, '0.5'],
    [0.005, '0.005'],
    [0.0001, '0.0001'],
    [1e-5, '1e-05'],
    [999_999, '999999.0'],
    [1_000_000, '1e+06'],
    [1_234_567, '1.234567e+06'],
    [2.5e7, '2.5e+07'],
    [1e16, '1e+16'],
    [-1, '-1.0'],
    [-0.25, '-0.25'],
    [Infinity, '+Inf'],
  ])('writes %d as %s', (value, expected) => {
    expect(canonicalNumber(value)).toBe(expected);
  });
});

describe('A carriage return', () => {
  it('never reaches a line raw, in a label value or HELP, in either format', async () => {
    const p = registry();
    p.counter({ name: 'c', labels: ['v'], help: 'one\rtwo\r\nthree' }).labels({ v: 'a\rb\r\nc' }).inc();
    for (const body of [await text(p), await om(p)]) {
      expect(body).not.toContain('\r');
      expect(body).toContain('c{v="a\\nb\\nc"} 1\n');
      expect(body).toContain('one\\ntwo\\nthree');
    }
  });
});

describe.skipIf(!parser)('A labelled metric read by prometheus_client 0.26.0', () => {
  it('parses a labelled gauge (set children and reported label sets) and its info family', async () => {
    const p = registry();
    const m = p.metric({ name: 'queue depth', labels: ['queue'], value: () => [[{ queue: 'mail' }, 3]] });
    m.labels({ queue: 'sms "fast"' }).set(7.5);
    p.metric({ name: 'build', labels: ['service'] }).labels({ service: 'api' }).set('v2');
    const families = parsed(await om(p));
    const depth = families.find(([name]) => name === 'queue_depth');
    expect(depth?.[1]).toBe('gauge');
    expect(depth?.[2].map(([, labels, value]) => [labels.queue, value])).toEqual([
      ['sms "fast"', 7.5],
      ['mail', 3],
    ]);
    const build = families.find(([name]) => name === 'build');
    expect(build?.[1]).toBe('info');
    expect(build?.[2].map(([, labels]) => labels)).toEqual([{ service: 'api', value: 'v2' }]);
  });
});

describe.skipIf(!parser)('Runtime metrics read by prometheus_client 0.26.0', () => {
  it.each(['otel', 'classic'] as const)("parses the runtime metrics with naming '%s' in OpenMetrics, every family once", async (naming) => {
    const p = createProbe();
    probes.push(p);
    const h = runtimeMetrics({ registry: p, naming, windowMs: 0, eventLoopResolutionMs: 1 });
    try {
      await new Promise((r) => setTimeout(r, 20)); // a few delay samples, so the window has every figure
      h.endWindow();
      const families = parsed(await om(p, true));
      const names = families.map(([name]) => name);
      expect(names.length).toBe(new Set(names).size);
      const cpu = naming === 'otel' ? 'process_cpu_time_seconds:counter' : 'process_cpu_user_seconds:counter';
      const delay = naming === 'otel' ? 'nodejs_eventloop_delay_max_seconds:gauge' : 'nodejs_eventloop_lag_max_seconds:gauge';
      const gc = naming === 'otel' ? 'v8js_gc_duration_seconds:histogram' : 'nodejs_gc_duration_seconds:histogram';
      expect(families.map(([name, type]) => `${name}:${type}`)).toEqual(expect.arrayContaining([cpu, delay, gc, 'nodejs_eventloop_utilization_ratio:gauge']));
    } finally {
      h.stop();
    }
  });
});
