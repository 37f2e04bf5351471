// The sampler's cost: CPU over BENCH_RUNTIME_SECONDS (default 60) of a mostly idle process
// with probekit's runtimeMetrics() at its defaults, and with prom-client's
// collectDefaultMetrics(), each scraped every 15 s, less an idle process's CPU over the same
// time. The three run in parallel (they are mostly idle), one process each; rounds repeat that.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const MODES = ['idle', 'probekit', 'prom-client'];

function run(mode, seconds) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [`${here}runtime.child.mjs`, mode, String(seconds)], { cwd: here, encoding: 'utf8', timeout: (seconds + 60) * 1000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

/** Per round, CPU ms of each mode less the idle one's, and probekit's as a ratio to prom-client's. */
export async function runtimeRows({ seconds = Number(process.env.BENCH_RUNTIME_SECONDS ?? 60), rounds = Number(process.env.BENCH_RUNTIME_ROUNDS ?? 1) } = {}) {
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const [idle, probekit, promClient] = await Promise.all(MODES.map((m) => run(m, seconds)));
    samples.push({ idle: idle.cpuMs, probekit: probekit.cpuMs - idle.cpuMs, promClient: promClient.cpuMs - idle.cpuMs });
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const probekit = med(samples.map((s) => s.probekit));
  const promClient = med(samples.map((s) => s.promClient));
  return { seconds, rounds, idle: med(samples.map((s) => s.idle)), probekit, promClient, ratio: probekit / promClient, samples };
}
