// One process of the runtime-metrics cost comparison (argv[2]): `idle` (a 15 s interval doing
// nothing), `probekit` (runtimeMetrics() at its defaults, a Prometheus text scrape every 15 s)
// or `prom-client` (collectDefaultMetrics() at its defaults, register.metrics() every 15 s).
// After setup and 2 s to settle it idles for argv[3] seconds and prints its CPU time over them, in ms.
import client from 'prom-client';
import { prometheus } from '../dist/index.js';
import { runtimeMetrics } from '../dist/runtime.js';

const [mode, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const SCRAPE_MS = 15_000;

let scrape = async () => '';
if (mode === 'probekit') {
  runtimeMetrics();
  scrape = () => prometheus.text();
} else if (mode === 'prom-client') {
  client.collectDefaultMetrics();
  scrape = () => client.register.metrics();
} else if (mode !== 'idle') throw new Error(`unknown mode ${mode}`);

// Two seconds to settle first: the compilation and collection that setup leaves behind are not the sampler's cost.
await new Promise((r) => setTimeout(r, 2000));
let bytes = 0;
const start = process.cpuUsage();
const t0 = performance.now();
const scraper = setInterval(async () => {
  bytes += (await scrape()).length;
}, SCRAPE_MS);
setTimeout(() => {
  clearInterval(scraper);
  const cpu = process.cpuUsage(start);
  console.log(JSON.stringify({ mode, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0, bytes }));
  process.exit(0);
}, seconds * 1000);
