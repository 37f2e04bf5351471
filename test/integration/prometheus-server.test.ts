import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProbe, type MetricsServer, OPENMETRICS_CONTENT_TYPE, type Probe, prometheus } from '../../src/index.js';
import { freePort, havePeer, startDaemon, tempDir, waitFor } from '../support/peers.js';

const available = havePeer('prometheus', 'prometheus');

interface Target {
  health: string;
  lastError: string;
  scrapeUrl: string;
}

describe.skipIf(!available)('A real Prometheus server scraping prometheus.serve()', () => {
  let p: Probe;
  let metrics: MetricsServer;
  let daemon: ReturnType<typeof startDaemon>;
  let dir: ReturnType<typeof tempDir>;
  let api = '';
  // A second target: prometheus.handler() in a plain node:http server, recording what it served.
  let plain: Server;
  const served: Array<{ type: unknown; encoding: unknown }> = [];

  async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success') throw new Error(JSON.stringify(body));
    return body.data.result;
  }

  beforeAll(async () => {
    p = createProbe();
    const requests = p.counter({ name: 'http requests', monotonic: true, labels: ['method'], help: 'Requests "served"' });
    requests.labels({ method: 'GET' }).inc(41);
    requests.labels({ method: 'POST' }).inc(1);
    p.meter({ name: 'Calls per minute', samples: 60 }).mark(17);
    const latency = p.histogram({ name: 'latency', unit: 'ms', labels: ['route'] });
    for (const v of [3, 30, 300, 3000]) latency.labels({ route: '/ünï "q"' }).observe(v);
    p.metric({ name: 'Realtime users', value: () => 12.5 });
    p.metric({ name: 'version', value: 'v1.2.3' });
    metrics = await prometheus.serve({ port: 0, registry: p, windowQuantiles: true });
    const handle = prometheus.handler({ registry: p });
    plain = createServer((req, res) => {
      const writeHead = res.writeHead.bind(res) as (status: number, headers: Record<string, unknown>) => typeof res;
      (res as unknown as { writeHead: typeof writeHead }).writeHead = (status, headers) => {
        served.push({ type: headers['Content-Type'], encoding: headers['Content-Encoding'] });
        return writeHead(status, headers);
      };
      handle(req, res);
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const plainPort = (plain.address() as AddressInfo).port;

    dir = tempDir('probekit-prom-');
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const config = join(dir.path, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}',
        'scrape_configs:',
        '  - job_name: probekit',
        `    metrics_path: /metrics`,
        `    static_configs: [{targets: ['127.0.0.1:${metrics.port}']}]`,
        '  - job_name: handler',
        `    static_configs: [{targets: ['127.0.0.1:${plainPort}']}]`,
        '',
      ].join('\n'),
    );
    daemon = startDaemon(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir.path, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      dir.path,
    );
    await waitFor('Prometheus to be ready', async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined), 20_000);
    // Prometheus 2.42 waits about 5 s before its first scrape.
    await waitFor(
      'both targets to be scraped',
      async () => {
        const res = await fetch(`${api}/api/v1/targets`);
        const body = (await res.json()) as { data: { activeTargets: Target[] } };
        const targets = body.data.activeTargets;
        const down = targets.find((t) => t.health === 'down');
        if (down !== undefined) throw new Error(`target down: ${down.lastError}`);
        return targets.length === 2 && targets.every((t) => t.health === 'up') ? targets : undefined;
      },
      30_000,
    );
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    await metrics?.close();
    await new Promise((resolve) => plain?.close(resolve));
    p?.close();
    dir?.remove();
  });

  it('finds both targets healthy', async () => {
    const res = await fetch(`${api}/api/v1/targets`);
    const body = (await res.json()) as { data: { activeTargets: Target[] } };
    const targets = body.data.activeTargets.map((t) => [t.health, t.lastError, t.scrapeUrl]).sort();
    expect(targets).toEqual([['up', '', metrics.url], ['up', '', `http://${(plain.address() as AddressInfo).address}:${(plain.address() as AddressInfo).port}/metrics`]].sort());
  });

  it('was served OpenMetrics, gzipped, as Prometheus asks for both', () => {
    expect(served.length).toBeGreaterThan(0);
    expect(served[0]).toEqual({ type: OPENMETRICS_CONTENT_TYPE, encoding: 'gzip' });
  });

  it('returns the counter values the test recorded', async () => {
    const rows = await query('http_requests_total{job="probekit"}');
    const byMethod = Object.fromEntries(rows.map((r) => [r.metric.method, r.value[1]]));
    expect(byMethod).toEqual({ GET: '41', POST: '1' });
  });

  it('returns the meter total', async () => {
    const rows = await query('calls_per_minute_events_total{job="probekit"}');
    expect(rows.map((r) => r.value[1])).toEqual(['17']);
  });

  it('returns the histogram count, sum in seconds and the bucket a value fell in', async () => {
    const count = await query('latency_seconds_count{job="probekit"}');
    expect(count.map((r) => [r.metric.route, r.value[1]])).toEqual([['/ünï "q"', '4']]);
    const sum = await query('latency_seconds_sum{job="probekit"}');
    expect(sum.map((r) => r.value[1])).toEqual(['3.333']);
    const le = await query('latency_seconds_bucket{job="probekit",le="0.05"}');
    expect(le.map((r) => r.value[1])).toEqual(['2']);
  });

  it('returns the gauge and the info metric', async () => {
    expect((await query('realtime_users{job="probekit"}')).map((r) => r.value[1])).toEqual(['12.5']);
    expect((await query('version_info{job="probekit"}')).map((r) => [r.metric.value, r.value[1]])).toEqual([['v1.2.3', '1']]);
  });

  it('computes histogram_quantile from the exported buckets, scraped as OpenMetrics with canonical le values', async () => {
    // Prometheus 2.x prefers OpenMetrics and stores le as written: canonically, 1.0 and 10.0.
    expect((await query('latency_seconds_bucket{job="probekit",le="1.0"}')).map((r) => r.value[1])).toEqual(['3']);
    expect((await query('latency_seconds_bucket{job="probekit",le="10.0"}')).map((r) => r.value[1])).toEqual(['4']);
    const rows = await query('histogram_quantile(0.5, sum by (le) (latency_seconds_bucket{job="probekit"}))');
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]?.value[1])).toBeGreaterThan(0.025);
    expect(Number(rows[0]?.value[1])).toBeLessThanOrEqual(0.05);
  });
});
