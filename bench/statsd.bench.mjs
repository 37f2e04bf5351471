// 100k counter increments (and 100k timer values) plus a flush to a loopback UDP sink in
// another process: probekit beside hot-shots 17 (batched, maxBufferSize 1432), raw
// dgram.send per call and a hand-written batcher. Reports ns per call and loss.
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import StatsD from 'hot-shots';
import { createProbe, statsd } from '../dist/index.js';

const N = 100_000;
const MTU = 1432;
const here = fileURLToPath(new URL('.', import.meta.url));

function startSink() {
  const child = fork(`${here}udp-sink.child.mjs`, { stdio: 'ignore' });
  const waiters = [];
  child.on('message', (m) => waiters.shift()?.(m));
  const next = () => new Promise((r) => waiters.push(r));
  return {
    port: next().then((m) => m.port),
    read: async (key) => {
      const answer = next();
      child.send({ type: 'read', key });
      return (await answer).value;
    },
    stop: () => child.kill('SIGKILL'),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 300));
let round = 0;

/** Raw dgram.send, one datagram per call. */
async function raw(port, kind) {
  const key = `raw${kind}${round}`;
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.connect(port, '127.0.0.1', r));
  const t0 = process.hrtime.bigint();
  let pending = N;
  await new Promise((resolve) => {
    for (let i = 0; i < N; i++) s.send(kind === 'c' ? `${key}:1|c` : `${key}:${i % 1000}|ms`, () => --pending === 0 && resolve());
  });
  const ns = Number(process.hrtime.bigint() - t0) / N;
  s.close();
  return { key, ns };
}

/** A hand-written batcher: lines appended to a buffer, sent when the next line would pass the MTU. */
async function hand(port, kind) {
  const key = `hand${kind}${round}`;
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.connect(port, '127.0.0.1', r));
  const sends = [];
  let buf = '';
  const flush = () => {
    if (buf === '') return;
    const payload = buf;
    buf = '';
    sends.push(new Promise((r) => s.send(payload, r)));
  };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const line = kind === 'c' ? `${key}:1|c` : `${key}:${i % 1000}|ms`;
    if (buf.length + line.length + 1 > MTU) flush();
    buf = buf === '' ? line : `${buf}\n${line}`;
  }
  flush();
  await Promise.all(sends);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  s.close();
  return { key, ns };
}

async function hotShots(port, kind) {
  const key = `hs${kind}${round}`;
  const client = new StatsD({ host: '127.0.0.1', port, maxBufferSize: MTU, bufferFlushInterval: 60_000, errorHandler: () => {} });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    if (kind === 'c') client.increment(key);
    else client.timing(key, i % 1000);
  }
  await new Promise((r) => client.close(r));
  return { key, ns: Number(process.hrtime.bigint() - t0) / N };
}

async function probekit(port, kind) {
  const key = `pk${kind}${round}`;
  const p = createProbe();
  const exporter = statsd({ port, registry: p, flushInterval: 0, maxTimerValues: N, maxQueueBytes: 8 << 20 });
  const t0 = process.hrtime.bigint();
  if (kind === 'c') {
    const c = p.counter({ name: key, monotonic: true });
    for (let i = 0; i < N; i++) c.inc();
  } else {
    const h = p.histogram({ name: key, unit: 'ms' });
    for (let i = 0; i < N; i++) h.observe(i % 1000);
  }
  await exporter.flush();
  const ns = Number(process.hrtime.bigint() - t0) / N;
  await exporter.close();
  p.close();
  return { key, ns };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Rows: per case and implementation, median ns/call over rounds, and the worst loss seen. */
export async function statsdRows(rounds = 5) {
  const sink = startSink();
  const port = await sink.port;
  const impls = [
    ['hand-written batcher', hand],
    ['probekit `statsd()`', probekit],
    ['hot-shots 17 (maxBufferSize 1432)', hotShots],
    ['raw `dgram.send` per call', raw],
  ];
  const rows = [];
  for (const [kind, label] of [['c', '100k counter increments + flush'], ['ms', '100k timer values + flush']]) {
    const ns = impls.map(() => []);
    const loss = impls.map(() => 0);
    for (round = 0; round < rounds; round++) {
      for (let k = 0; k < impls.length; k++) {
        const i = (k + round) % impls.length;
        const { key, ns: t } = await impls[i][1](port, kind);
        await settle();
        const got = await sink.read(kind === 'c' ? key : key);
        ns[i].push(t);
        loss[i] = Math.max(loss[i], 1 - got / N);
      }
    }
    const base = median(ns[0]);
    impls.forEach(([name], i) => rows.push({ case: label, impl: name, median: median(ns[i]), min: Math.min(...ns[i]), max: Math.max(...ns[i]), ratio: median(ns[i]) / base, loss: loss[i] }));
  }
  sink.stop();
  return rows;
}
