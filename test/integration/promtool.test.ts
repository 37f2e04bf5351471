import { spawnSync } from 'node:child_process';
import client from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createProbe, prometheus } from '../../src/index.js';
import { runtimeMetrics } from '../../src/runtime.js';
import { havePeer } from '../support/peers.js';

const available = havePeer('promtool', 'prometheus');

/** A registry holding every probe kind (labelled gauges too), hostile label values and pmx-style names. */
function everything() {
  let t = 1_700_000_000_000;
  const p = createProbe({ clock: () => t, prefix: 'app' });
  const requests = p.counter({ name: 'http requests', monotonic: true, labels: ['method', 'path'], help: 'Requests served, by "method"\nand path \\ route' });
  requests.labels({ method: 'GET', path: '/say "hi"' }).inc(3);
  requests.labels({ method: 'POST', path: 'C:\\temp\\x' }).inc();
  requests.labels({ method: 'PUT', path: 'line1\nline2' }).inc(2);
  requests.labels({ method: 'GET', path: '/ünïcødé/日本語/🚀' }).inc();
  requests.labels({ method: 'PATCH', path: 'cr\rlf\r\nend' }).inc(); // a carriage return is written as \n
  p.histogram({ name: 'offset', buckets: [-10, 0, 10] }).observe(-3); // negative bounds and sum: fine in 0.0.4
  p.counter({ name: 'Active requests' }).inc(4);
  const calls = p.meter({ name: 'Calls per minute', samples: 60, labels: ['route'] });
  calls.labels({ route: '/a' }).mark(10);
  t += 30_000;
  const latency = p.histogram({ name: 'Request latency', unit: 'ms', labels: ['route'], help: 'Time to first byte' });
  for (const v of [1, 4, 12, 40, 300, 7000, 20000]) latency.labels({ route: '/a' }).observe(v);
  p.histogram({ name: 'payload size (bytes)', unit: 'bytes', buckets: [100, 1000, 10000] }).observe(512);
  p.metric({ name: 'Realtime users', value: () => 42 });
  p.metric({ name: 'version', value: 'v1.2.3 "stable"' });
  p.metric({ name: 'started at', value: new Date(1_700_000_000_000) });
  p.metric({ name: 'healthy', value: true });
  const pool = p.metric({ name: 'pool connections', labels: ['state'], value: () => [[{ state: 'idle' }, 4], [{ state: 'busy "x"' }, 2]] });
  pool.labels({ state: 'draining' }).set(1);
  p.metric({ name: 'component', labels: ['name'] }).labels({ name: 'db' }).set('pg 16');
  p.metric({ name: 'broken gauge', value: () => { throw new Error('boom'); } });
  p.counter({ name: 'dropped', monotonic: true }).inc(Number.NaN); // a self-metric series
  return p;
}

function promtool(text: string) {
  return spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
}

describe.skipIf(!available)('promtool check metrics', () => {
  const reg = new client.Registry();
  afterAll(() => reg.clear());

  it('accepts the text exposition of every probe kind, hostile labels and pmx names with no lint finding', async () => {
    const p = everything();
    const text = await prometheus.text({ registry: p });
    const run = promtool(text);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    p.close();
  });

  it('accepts it together with the default metrics and a merged prom-client registry', async () => {
    const p = everything();
    new client.Counter({ name: 'legacy_jobs_total', help: 'Jobs from the legacy code', labelNames: ['queue'], registers: [reg] }).inc({ queue: 'a"b' });
    new client.Summary({ name: 'legacy_job_seconds', help: 'Legacy job time', registers: [reg] }).observe(0.2);
    const text = await prometheus.text({ registry: [p, reg], defaultMetrics: true, windowQuantiles: true });
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('legacy_jobs_total{queue="a\\"b"} 1');
    const run = promtool(text);
    // The default metrics keep prom-client's names (users' dashboards rely on them): one is a
    // gauge with a _total suffix. The CPU count keeps OpenTelemetry's name, ending in _count.
    const accepted = [
      'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
      'system_cpu_logical_count non-histogram and non-summary metrics should not have "_count" suffix',
    ];
    expect(run.stderr.split('\n').filter((l) => l !== '').sort()).toEqual(accepted);
    expect(run.status).toBe(3);
    p.close();
  });

  it.each(['otel', 'classic'] as const)("accepts the runtime metrics with naming '%s', each family once, every one of them a base unit", async (naming) => {
    const p = createProbe();
    const h = runtimeMetrics({ registry: p, naming, windowMs: 0, eventLoopResolutionMs: 1 });
    await new Promise((r) => setTimeout(r, 20)); // a few delay samples, so the window has every figure
    h.endWindow();
    const text = await prometheus.text({ registry: p, windowQuantiles: true });
    const types = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
    expect(types.length).toBe(new Set(types).size);
    const run = promtool(text);
    // OpenTelemetry's own names end in _count (system.cpu.logical.count, process.unix.file_descriptor.count),
    // and prom-client's nodejs_active_resources_total is a gauge: their names, kept for the queries that use them.
    const accepted = {
      otel: [
        'process_unix_file_descriptor_count non-histogram and non-summary metrics should not have "_count" suffix',
        'system_cpu_logical_count non-histogram and non-summary metrics should not have "_count" suffix',
      ],
      classic: [
        'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
        'system_cpu_logical_count non-histogram and non-summary metrics should not have "_count" suffix',
      ],
    }[naming];
    expect(run.stderr.split('\n').filter((l) => l !== '').sort()).toEqual([...accepted].sort());
    h.stop();
    p.close();
  });

  it('finds nothing to lint in probekit families with the window percentiles as summaries', async () => {
    const p = everything();
    const text = await prometheus.text({ registry: p, windowQuantiles: true });
    const run = promtool(text);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    p.close();
  });

  it('reports what it finds in a deliberately bad exposition, so a clean result means something', () => {
    const run = promtool('# TYPE x counter\nx 1\n');
    expect(run.status).toBe(3);
    expect(run.stderr).toContain('counter metrics should have "_total" suffix');
  });
});
