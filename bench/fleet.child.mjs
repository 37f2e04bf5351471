// One fleet for the fleet bench: a node:cluster primary and `workers` workers, each with
// about 10k series (100 counters × 45 label sets, 100 gauges × 45, 50 histograms × 20 routes)
// that keep recording (every 50 ms: 200 counter increments and 50 observations).
// argv: <mode: per-worker | aggregated | prom-client> <workers> <port>
//   per-worker: the primary serves the discovery document on <port>, workers serve on <port>+1+slot;
//   aggregated: the primary serves prometheus.clusterHandler() on <port>;
//   prom-client: the primary serves prom-client's AggregatorRegistry.clusterMetrics() on <port>;
//   floor: worker i serves, on <port>+1+i, its OpenMetrics exposition captured once at start
//   and gzipped once: fixed bytes, so a scrape costs the fleet nothing.
// Prints one JSON line once every worker is ready; SIGTERM ends the whole fleet.
import cluster from 'node:cluster';
import http from 'node:http';
import zlib from 'node:zlib';
import client from 'prom-client';
import { probe, prometheus } from '../dist/index.js';

const [mode, workersArg, portArg] = process.argv.slice(2);
const WORKERS = Number(workersArg);
const PORT = Number(portArg);
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SETS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].flatMap((method) => ['200', '201', '204', '400', '401', '403', '404', '500', '503'].map((status) => ({ method, status })));
const ROUTES = Array.from({ length: 20 }, (_, i) => ({ route: `/api/v1/resource_${i}` }));

if (cluster.isPrimary) {
  let serving;
  if (mode === 'per-worker') {
    serving = await prometheus.serveDiscovery({ port: PORT });
  } else if (mode !== 'floor') {
    const handler =
      mode === 'aggregated'
        ? // Gauges summed, as prom-client's are configured below (aggregator: 'sum'): the same samples out.
          prometheus.clusterHandler({ timeoutMs: 5000, gauges: 'sum' })
        : (() => {
            const agg = new client.AggregatorRegistry();
            return (req, res) =>
              agg.clusterMetrics().then(
                (text) => res.writeHead(200, { 'Content-Type': agg.contentType }).end(text),
                (err) => res.writeHead(500).end(String(err)),
              );
          })();
    serving = http.createServer(handler);
    await new Promise((resolve) => serving.listen(PORT, '127.0.0.1', resolve));
  }
  let ready = 0;
  for (let i = 0; i < WORKERS; i++) {
    cluster.fork({ FLEET_INDEX: String(i) }).on('message', (m) => {
      if (m?.ready && ++ready === WORKERS) process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    });
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
    process.exit(0);
  });
} else {
  const useProm = mode === 'prom-client';
  // prom-client's workers answer the primary only once they made an AggregatorRegistry too.
  if (useProm) new client.AggregatorRegistry();
  const counters = [];
  const histograms = [];
  for (let c = 0; c < 100; c++) {
    const name = `app_requests_${c}`;
    if (useProm) counters.push(new client.Counter({ name: `${name}_total`, help: `Requests ${c}`, labelNames: ['method', 'status'] }));
    else counters.push(probe.counter({ name, monotonic: true, labels: ['method', 'status'], help: `Requests ${c}` }));
  }
  for (let g = 0; g < 100; g++) {
    const name = `app_inflight_${g}`;
    const gauge = useProm
      ? new client.Gauge({ name, help: `In flight ${g}`, labelNames: ['method', 'status'], aggregator: 'sum' })
      : probe.counter({ name, labels: ['method', 'status'], help: `In flight ${g}` });
    for (const set of SETS) {
      if (useProm) gauge.set(set, g);
      else gauge.labels(set).inc(g);
    }
  }
  for (let h = 0; h < 50; h++) {
    const name = `app_latency_${h}`;
    histograms.push(
      useProm
        ? new client.Histogram({ name: `${name}_seconds`, help: `Latency ${h}`, buckets: BUCKETS, labelNames: ['route'] })
        : probe.histogram({ name, unit: 'seconds', buckets: BUCKETS, labels: ['route'], help: `Latency ${h}` }),
    );
  }
  let v = 1;
  const record = () => {
    for (let k = 0; k < 200; k++) {
      v = (v * 48271) % 2147483647;
      const c = counters[v % 100];
      const set = SETS[v % 45];
      if (useProm) c.inc(set);
      else c.labels(set).inc();
    }
    for (let k = 0; k < 50; k++) {
      v = (v * 48271) % 2147483647;
      const h = histograms[v % 50];
      const route = ROUTES[v % 20];
      const x = (v % 997) / 100;
      if (useProm) h.observe(route, x);
      else h.labels(route).observe(x);
    }
  };
  // Every series has a value before the first scrape.
  for (const set of SETS) {
    for (const c of counters) {
      if (useProm) c.inc(set);
      else c.labels(set).inc();
    }
  }
  for (const route of ROUTES) {
    for (const h of histograms) {
      if (useProm) h.observe(route, 0.1);
      else h.labels(route).observe(0.1);
    }
  }
  setInterval(record, 50);
  if (mode === 'per-worker') await prometheus.serveWorker({ basePort: PORT + 1 });
  if (mode === 'floor') {
    const bytes = zlib.gzipSync(await prometheus.text({ openMetrics: true }), { level: 1 });
    const headers = { 'Content-Type': 'application/openmetrics-text; version=1.0.0; charset=utf-8', 'Content-Encoding': 'gzip', 'Content-Length': bytes.length };
    const fixed = http.createServer((req, res) => res.writeHead(200, headers).end(bytes));
    await new Promise((resolve) => fixed.listen({ port: PORT + 1 + Number(process.env.FLEET_INDEX), host: '127.0.0.1', exclusive: true }, resolve));
  }
  process.send({ ready: true });
}
