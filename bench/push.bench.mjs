// Pushing the 10k-series registry: probekit's httpPush() beside prom-client's
// Pushgateway.pushAdd() (both POST, text format, one process-local registry each), to one
// HTTP sink in its own process. Time per push (end to end) and bytes per push.
import { spawn } from 'node:child_process';
import client from 'prom-client';
import { httpPush } from '../dist/index.js';
import { build } from './scrape.bench.mjs';

const ROUNDS = 15;

function sink() {
  const child = spawn(process.execPath, [new URL('./http-sink.child.mjs', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout.once('data', (d) => resolve({ url: `http://127.0.0.1:${String(d).trim()}`, stop: () => child.kill() })));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function pushRows() {
  const { url, stop } = await sink();
  const { p, reg } = build(10);
  const pusher = httpPush({ url, job: 'bench', grouping: {}, method: 'POST', interval: 0, registry: p, timeout: 30_000 });
  const gateway = new client.Pushgateway(url, { timeout: 30_000 }, reg);
  const bytes = async () => Number(await (await fetch(`${url}/bytes`)).text());
  const impls = [
    ['prom-client 15 `Pushgateway.pushAdd()`', () => gateway.pushAdd({ jobName: 'bench' })],
    ['probekit `httpPush()`', async () => {
      const out = await pusher.push();
      if (!out.ok) throw out.error;
    }],
  ];
  for (const [, run] of impls) for (let i = 0; i < 3; i++) await run(); // warm-up
  await bytes();
  const samples = impls.map(() => []);
  const sizes = impls.map(() => 0);
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < impls.length; k++) {
      const i = (k + r) % impls.length;
      const t0 = performance.now();
      await impls[i][1]();
      samples[i].push(performance.now() - t0);
      sizes[i] = await bytes();
    }
  }
  await pusher.close();
  stop();
  p.close();
  const base = median(samples[0]);
  return impls.map(([impl], i) => ({
    impl,
    median: median(samples[i]),
    min: Math.min(...samples[i]),
    max: Math.max(...samples[i]),
    ratio: median(samples[i]) / base,
    bytes: sizes[i],
    bytesRatio: sizes[i] / sizes[0],
  }));
}
