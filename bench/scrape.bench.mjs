// Scrape time: the body a /metrics server sends (UTF-8 bytes, before gzip), from probekit's
// handler, prom-client's registry.metrics() and a hand-written text builder over the same
// series, and probekit's prometheus.text() (a string); plus the longest event-loop block
// during a 100k-series scrape.
import client from 'prom-client';
import { createProbe, prometheus } from '../dist/index.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const STATUS = ['200', '201', '204', '400', '401', '403', '404', '500', '503'];

/** 45 label sets: 5 methods × 9 statuses. */
const SETS = METHODS.flatMap((method) => STATUS.map((status) => ({ method, status })));
const ROUTES = Array.from({ length: 20 }, (_, i) => ({ route: `/api/v1/resource_${i}` }));

/** The same series three ways: probekit, prom-client, and plain data for the hand builder. */
export function build(scale) {
  const counters = 10 * scale;
  const gauges = 10 * scale;
  const histograms = 5 * scale;
  const p = createProbe();
  const reg = new client.Registry();
  const plain = [];
  let v = 1;
  for (let c = 0; c < counters; c++) {
    const name = `app_requests_${c}`;
    const pc = p.counter({ name, monotonic: true, labels: ['method', 'status'], help: `Requests ${c}` });
    const cc = new client.Counter({ name: `${name}_total`, help: `Requests ${c}`, labelNames: ['method', 'status'], registers: [reg] });
    const series = [];
    for (const set of SETS) {
      v += 7;
      pc.labels(set).inc(v);
      cc.inc(set, v);
      series.push({ labels: set, value: v });
    }
    plain.push({ name: `${name}_total`, type: 'counter', help: `Requests ${c}`, series });
  }
  for (let g = 0; g < gauges; g++) {
    const name = `app_inflight_${g}`;
    const pg = p.counter({ name, labels: ['method', 'status'], help: `In flight ${g}` });
    const cg = new client.Gauge({ name, help: `In flight ${g}`, labelNames: ['method', 'status'], registers: [reg] });
    const series = [];
    for (const set of SETS) {
      v += 3;
      pg.labels(set).inc(v);
      cg.set(set, v);
      series.push({ labels: set, value: v });
    }
    plain.push({ name, type: 'gauge', help: `In flight ${g}`, series });
  }
  for (let h = 0; h < histograms; h++) {
    const name = `app_latency_${h}`;
    const ph = p.histogram({ name, unit: 'seconds', buckets: BUCKETS, labels: ['route'], help: `Latency ${h}` });
    const ch = new client.Histogram({ name: `${name}_seconds`, help: `Latency ${h}`, buckets: BUCKETS, labelNames: ['route'], registers: [reg] });
    const series = [];
    for (const set of ROUTES) {
      const counts = new Array(BUCKETS.length + 1).fill(0);
      let sum = 0;
      for (let k = 0; k < 5; k++) {
        const x = ((v += 13) % 997) / 100;
        ph.labels(set).observe(x);
        ch.observe(set, x);
        let i = 0;
        while (i < BUCKETS.length && x > BUCKETS[i]) i++;
        counts[i]++;
        sum += x;
      }
      series.push({ labels: set, counts, sum, count: 5 });
    }
    plain.push({ name: `${name}_seconds`, type: 'histogram', help: `Latency ${h}`, series });
  }
  return { p, reg, plain, series: counters * 45 + gauges * 45 + histograms * 20 };
}

const esc = (s) => (/[\\"\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : s);
function labels(obj, extra) {
  let out = '';
  for (const k in obj) out += `${out ? ',' : ''}${k}="${esc(obj[k])}"`;
  if (extra) out += `${out ? ',' : ''}${extra}`;
  return out ? `{${out}}` : '';
}

/**
 * A careful hand-written text 0.0.4 builder: label text built once per series per
 * scrape (not per bucket), values appended, one string per family joined at the end.
 */
export function handText(plain) {
  const parts = [];
  for (const f of plain) {
    let out = `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    if (f.type !== 'histogram') {
      for (const s of f.series) out += `${f.name}${labels(s.labels)} ${s.value}\n`;
      parts.push(out);
      continue;
    }
    for (const s of f.series) {
      const l = labels(s.labels);
      const inner = l === '' ? '' : `${l.slice(1, -1)},`;
      let acc = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        acc += s.counts[i];
        out += `${f.name}_bucket{${inner}le="${BUCKETS[i]}"} ${acc}\n`;
      }
      out += `${f.name}_bucket{${inner}le="+Inf"} ${s.count}\n`;
      out += `${f.name}_count${l} ${s.count}\n${f.name}_sum${l} ${s.sum}\n`;
    }
    parts.push(out);
  }
  return parts.join('');
}

/**
 * The body `handler` answers a GET with (no gzip asked), from a minimal response object:
 * what the handler writes to the socket, without the socket.
 */
export function handlerBody(handler) {
  return new Promise((resolve, reject) => {
    const res = {
      headersSent: false,
      destroyed: false,
      writeHead(status) {
        if (status !== 200) reject(new Error(`status ${status}`));
        return this;
      },
      end: resolve,
    };
    handler({ method: 'GET', headers: {} }, res);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function timeMs(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Rows for the scrape table: each implementation's median ms per scrape, ratio to the hand builder. */
export async function scrapeRows(rounds = 25) {
  const rows = [];
  for (const scale of [1, 10]) {
    const { p, reg, plain, series } = build(scale);
    const handler = prometheus.handler({ registry: p });
    const impls = [
      ['hand-written text builder, then `Buffer.from()`', () => Buffer.from(handText(plain))],
      ['probekit `prometheus.handler()` (the body it sends)', () => handlerBody(handler)],
      ['probekit `prometheus.text()` (a string)', () => prometheus.text({ registry: p })],
      ['prom-client 15 `registry.metrics()`, then `Buffer.from()`', async () => Buffer.from(await reg.metrics())],
    ];
    // Warm-up: half a second each, so every implementation runs optimised code.
    for (const [, fn] of impls) {
      const until = performance.now() + 500;
      while (performance.now() < until) await fn();
    }
    const samples = impls.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < impls.length; k++) {
        const i = (k + r) % impls.length;
        samples[i].push(await timeMs(impls[i][1]));
      }
    }
    const base = median(samples[0]);
    impls.forEach(([name], i) => {
      const xs = samples[i];
      rows.push({ series, impl: name, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), ratio: median(xs) / base });
    });
    p.close();
    reg.clear();
  }
  return rows;
}

/** The longest event-loop block (ms) while probekit's handler scrapes a 100k-series registry, and the scrape time. */
export async function longestBlock() {
  const { p, series } = build(100);
  const handler = prometheus.handler({ registry: p });
  await handlerBody(handler); // warm-up: builds the prefix caches
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  last = performance.now();
  longest = 0;
  const t0 = performance.now();
  const body = await handlerBody(handler);
  const total = performance.now() - t0;
  const after = performance.now();
  longest = Math.max(longest, after - last);
  clearInterval(timer);
  p.close();
  return { series, bytes: body.length, totalMs: total, longestBlockMs: longest };
}
