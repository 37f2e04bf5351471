// Recording paths: probekit beside prom-client, OpenTelemetry and measured-core, in one
// process and one run. @pm2/io runs in its own process (pm2.child.mjs): importing it
// starts an agent.
import { createRequire } from 'node:module';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import client from 'prom-client';
import { createProbe } from '../dist/index.js';
import { baselineCases, BUCKETS, LABEL_SETS, NUMERIC_LABEL_SETS } from './lib/baselines.mjs';
import { sink } from './lib/harness.mjs';
import { GROUPS } from './groups.mjs';

const measured = createRequire(import.meta.url)('measured-core');

export { GROUPS };

class ManualReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

export function probeCases(values) {
  const mask = values.length - 1;
  const base = baselineCases(values);
  const cases = [];

  // probekit
  const p = createProbe();
  const pc = p.counter({ name: 'requests', monotonic: true });
  const pl = p.counter({ name: 'requests_by_route', monotonic: true, labels: ['method', 'status'] });
  const held = pl.labels(LABEL_SETS[0]);
  const pg = p.metric({ name: 'queue_depth' });
  const ph = p.histogram({ name: 'latency', unit: 's', buckets: BUCKETS });
  const pm = p.meter({ name: 'Requests per second' });
  // prom-client
  const reg = new client.Registry();
  const cc = new client.Counter({ name: 'c_requests', help: 'h', registers: [reg] });
  const cl = new client.Counter({ name: 'c_requests_by_route', help: 'h', labelNames: ['method', 'status'], registers: [reg] });
  const cheld = cl.labels(LABEL_SETS[0]);
  const cg = new client.Gauge({ name: 'c_queue', help: 'h', registers: [reg] });
  const ch = new client.Histogram({ name: 'c_latency', help: 'h', buckets: BUCKETS, registers: [reg] });
  const cs = new client.Summary({ name: 'c_latency_summary', help: 'h', percentiles: [0.5, 0.9, 0.99], maxAgeSeconds: 60, ageBuckets: 6, registers: [reg] });
  // OpenTelemetry
  const provider = new MeterProvider({ readers: [new ManualReader()] });
  const om = provider.getMeter('bench');
  const oc = om.createCounter('o_requests');
  const ol = om.createCounter('o_requests_by_route');
  const og = om.createGauge('o_queue');
  const oh = om.createHistogram('o_latency', { advice: { explicitBucketBoundaries: BUCKETS } });
  // measured-core
  const mc = new measured.Counter();
  const mh = new measured.Histogram();
  const mm = new measured.Meter();

  const add = (group, impl, run, note) => cases.push({ group, impl, run, note });

  cases.push(base.plain(GROUPS.inc));
  add(GROUPS.inc, 'probekit', (n) => { for (let i = 0; i < n; i++) pc.inc(); });
  add(GROUPS.inc, 'prom-client 15', (n) => { for (let i = 0; i < n; i++) cc.inc(); });
  add(GROUPS.inc, 'OpenTelemetry sdk-metrics 2', (n) => { for (let i = 0; i < n; i++) oc.add(1); });
  add(GROUPS.inc, 'measured-core 2', (n) => { for (let i = 0; i < n; i++) mc.inc(); });

  cases.push(base.map(GROUPS.labelled));
  add(GROUPS.labelled, 'probekit', (n) => { for (let i = 0; i < n; i++) pl.labels(LABEL_SETS[i & 3]).inc(); }, '`labels(set).inc()`');
  add(GROUPS.labelled, 'probekit', (n) => { for (let i = 0; i < n; i++) pl.labels(NUMERIC_LABEL_SETS[i & 3]).inc(); }, '`labels(set).inc()`, numeric `status`');
  add(GROUPS.labelled, 'prom-client 15', (n) => { for (let i = 0; i < n; i++) cl.inc(LABEL_SETS[i & 3]); }, '`inc(set)`');
  add(GROUPS.labelled, 'prom-client 15', (n) => { for (let i = 0; i < n; i++) cl.inc(NUMERIC_LABEL_SETS[i & 3]); }, '`inc(set)`, numeric `status`');
  add(GROUPS.labelled, 'OpenTelemetry sdk-metrics 2', (n) => { for (let i = 0; i < n; i++) ol.add(1, LABEL_SETS[i & 3]); }, '`add(1, set)`');

  cases.push(base.plain(GROUPS.held));
  add(GROUPS.held, 'probekit', (n) => { for (let i = 0; i < n; i++) held.inc(); });
  add(GROUPS.held, 'prom-client 15', (n) => { for (let i = 0; i < n; i++) cheld.inc(); });

  cases.push(base.set(GROUPS.set));
  add(GROUPS.set, 'probekit', (n) => { for (let i = 0; i < n; i++) pg.set(i); });
  add(GROUPS.set, 'prom-client 15', (n) => { for (let i = 0; i < n; i++) cg.set(i); });
  add(GROUPS.set, 'OpenTelemetry sdk-metrics 2', (n) => { for (let i = 0; i < n; i++) og.record(i); });

  cases.push(base.setFloat(GROUPS.setFloat));
  add(GROUPS.setFloat, 'probekit', (n) => { for (let i = 0; i < n; i++) pg.set(values[i & mask]); });
  add(GROUPS.setFloat, 'prom-client 15', (n) => { for (let i = 0; i < n; i++) cg.set(values[i & mask]); });
  add(GROUPS.setFloat, 'OpenTelemetry sdk-metrics 2', (n) => { for (let i = 0; i < n; i++) og.record(values[i & mask]); });

  cases.push(base.histogram(GROUPS.observe));
  add(GROUPS.observe, 'probekit', (n) => { for (let i = 0; i < n; i++) ph.observe(values[i & mask]); }, 'buckets + 60 s window percentiles');
  add(GROUPS.observe, 'prom-client 15', (n) => { for (let i = 0; i < n; i++) ch.observe(values[i & mask]); }, 'Histogram');
  add(GROUPS.observe, 'prom-client 15', (n) => { for (let i = 0; i < n; i++) cs.observe(values[i & mask]); }, 'Summary, 60 s window percentiles');
  add(GROUPS.observe, 'OpenTelemetry sdk-metrics 2', (n) => { for (let i = 0; i < n; i++) oh.record(values[i & mask]); });
  add(GROUPS.observe, 'measured-core 2', (n) => { for (let i = 0; i < n; i++) mh.update(values[i & mask]); }, 'reservoir percentiles');

  cases.push(base.plain(GROUPS.mark));
  add(GROUPS.mark, 'probekit', (n) => { for (let i = 0; i < n; i++) pm.mark(); }, 'exact sliding window');
  add(GROUPS.mark, 'measured-core 2', (n) => { for (let i = 0; i < n; i++) mm.mark(); }, 'EWMA');

  const close = () => {
    p.close();
    mm.end();
    void provider.shutdown();
    sink.n += pc.val() + held.val() + mc.toJSON() + ph.val().count;
  };
  return { cases, close };
}
