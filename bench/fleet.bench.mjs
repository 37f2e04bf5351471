// The fleet bench: a real Prometheus scraping every 1 s a node:cluster of 2 and of 4
// workers with about 10k series each, in probekit's per-worker mode (serveWorker() targets
// found through serveDiscovery()), its aggregated mode (clusterHandler()) and prom-client's
// AggregatorRegistry; scrape p50/p99 from Prometheus's own scrape_duration_seconds.
// BENCH_FLEET_SECONDS sets how long each case is scraped in all (default 60), in
// BENCH_FLEET_ROUNDS interleaved slices (default 2). Every slice is measured after
// WARMUP_SECONDS of scrapes once all its targets are up, so the first scrapes of fresh
// processes (cold code while V8 optimises it, first caches, in every mode) stay out of
// p99: a fleet runs for days, and its scrape p99 is that of its steady state. (A fresh
// probekit worker's first ten or so scrapes take up to twice its steady time.)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
export const MODES = [
  ['prom-client', 'prom-client 15 `AggregatorRegistry` (one endpoint)'],
  ['aggregated', 'probekit `clusterHandler()` (one endpoint)'],
  ['per-worker', 'probekit `serveWorker()` targets via `serveDiscovery()`'],
  // The floor: each worker's exposition captured once and served as fixed gzipped bytes, so a
  // scrape costs the fleet nothing and scrape_duration_seconds is Prometheus's own share
  // (reading, parsing and appending the same samples; it times the append too).
  ['floor', 'floor: each worker\'s samples as fixed bytes (Prometheus\'s own share)'],
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Scrapes left out of the measure at the start of each case, in seconds. */
export const WARMUP_SECONDS = 15;

function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports on 127.0.0.1; the first is returned. */
async function freeRange(count) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}

async function until(what, check, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Runs one case: the fleet, a Prometheus of its own, `seconds` of scrapes; returns the scrape durations. */
export async function runCase(mode, workers, seconds) {
  const ports = await freeRange(workers + 2);
  const fleetPort = ports;
  const promPort = ports + workers + 1;
  const fleet = spawn(process.execPath, [join(here, 'fleet.child.mjs'), mode, String(workers), String(fleetPort)], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = mkdtempSync(join(tmpdir(), 'probekit-fleet-bench-'));
  let prom;
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the fleet did not start within 60 s')), 60_000);
      fleet.stdout.on('data', (d) => String(d).includes('"ready"') && (clearTimeout(timer), resolve()));
      fleet.once('exit', (code) => reject(new Error(`the fleet exited with ${code}`)));
    });
    const target =
      mode === 'per-worker'
        ? ['    http_sd_configs:', `      - url: http://127.0.0.1:${fleetPort}/targets`, '        refresh_interval: 1s']
        : mode === 'floor'
          ? ['    static_configs:', `      - targets: [${Array.from({ length: workers }, (_, i) => `'127.0.0.1:${fleetPort + 1 + i}'`).join(', ')}]`]
          : ['    static_configs:', `      - targets: ['127.0.0.1:${fleetPort}']`];
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, ['global: {scrape_interval: 1s, scrape_timeout: 1s}', 'scrape_configs:', '  - job_name: fleet', ...target, ''].join('\n'));
    prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=error'], {
      cwd: dir,
      stdio: 'ignore',
    });
    const api = `http://127.0.0.1:${promPort}`;
    const expected = mode === 'per-worker' || mode === 'floor' ? workers : 1;
    await until('every target to be scraped', async () => {
      const body = await (await fetch(`${api}/api/v1/targets?state=active`)).json();
      const t = body.data.activeTargets;
      return t.length === expected && t.every((x) => x.health !== 'unknown') ? true : undefined;
    }, 30_000);
    await sleep((WARMUP_SECONDS + seconds) * 1000);
    const q = async (expr) => (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()).data.result;
    const durations = (await q(`scrape_duration_seconds{job="fleet"}[${seconds}s]`)).flatMap((r) => r.values.map(([, v]) => Number(v) * 1000));
    const down = (await q(`up{job="fleet"}[${seconds}s]`)).flatMap((r) => r.values.filter(([, v]) => v === '0')).length;
    const samples = (await q(`scrape_samples_scraped{job="fleet"}[${seconds}s]`)).map((r) => Number(r.values.at(-1)?.[1] ?? 0));
    return { durations, down, samples: samples.reduce((a, b) => a + b, 0) };
  } finally {
    if (prom) await stop(prom);
    await stop(fleet);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One row per worker count and mode: scrape p50/p99 in ms, scrapes, failed scrapes, samples
 * per scrape, and the p99 ratio to prom-client's. Each mode is scraped for `seconds` in all,
 * in `rounds` interleaved slices (mode after mode, each round starting one mode later), so
 * a noisy stretch of a shared machine falls on every mode alike; a mode's p50 and p99 are
 * of all its slices' scrapes together.
 */
export async function fleetRows({
  seconds = Number(process.env.BENCH_FLEET_SECONDS ?? 60),
  rounds = Number(process.env.BENCH_FLEET_ROUNDS ?? 2),
  workerCounts = [2, 4],
} = {}) {
  const rows = [];
  for (const workers of workerCounts) {
    const pooled = MODES.map(() => ({ durations: [], down: 0, samples: 0 }));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < MODES.length; k++) {
        const i = (k + r) % MODES.length;
        const { durations, down, samples } = await runCase(MODES[i][0], workers, seconds / rounds);
        const into = pooled[i];
        into.durations.push(...durations);
        into.down += down;
        into.samples = Math.max(into.samples, samples);
      }
    }
    let base;
    MODES.forEach(([mode, impl], i) => {
      const { durations, down, samples } = pooled[i];
      const sorted = [...durations].sort((a, b) => a - b);
      const row = { workers, mode, impl, seconds, rounds, scrapes: sorted.length, down, samples, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
      base ??= row;
      row.ratio = row.p99 / base.p99;
      rows.push(row);
    });
  }
  return rows;
}
