// `npm run bench`: every suite in one run; `-- --record` writes bench/RESULTS.md.
// Suites that must not share a process (peers that install agents or async hooks) run
// in child processes, each measured against its own in-process baseline.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lognormalSeconds, machineLine, runCases, table } from './lib/harness.mjs';
import { GROUPS, probeCases } from './probes.bench.mjs';
import { ERROR_GROUPS, errorCases } from './errors.bench.mjs';
import { longestBlock, scrapeRows } from './scrape.bench.mjs';
import { statsdRows } from './statsd.bench.mjs';
import { pushRows } from './push.bench.mjs';
import { expressRows } from './express.bench.mjs';
import { runtimeRows } from './runtime.bench.mjs';
import { fleetRows } from './fleet.bench.mjs';
import { dashboardRows } from './dashboard.bench.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const record = process.argv.includes('--record');
// `-- --only=<section>` runs one section (recording, errors, await, import, emitter, scrape,
// statsd, push, express, statsd-memory, runtime, dashboard, fleet); nothing is recorded then.
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const want = (name) => only === undefined || only === name;
const machine = machineLine();
console.log(`machine: ${machine}\n`);

function child(script, args = []) {
  const out = execFileSync(process.execPath, [`${here}${script}`, ...args], { cwd: here, encoding: 'utf8', timeout: 300_000 });
  return JSON.parse(out.trim().split('\n').pop());
}

function childRows(script) {
  try {
    return child(script).filter((r) => !r.baseline);
  } catch (err) {
    console.error(`${script} failed: ${err.message}`);
    return [];
  }
}

/** Rows of `groups` in order, each group followed by the rows another process measured for it. */
function merge(groups, rows, extra) {
  const out = [];
  for (const group of groups) out.push(...rows.filter((r) => r.group === group), ...extra.filter((r) => r.group === group));
  return out;
}

const sections = [];

if (want('recording')) {
  const { cases, close } = probeCases(lognormalSeconds());
  const rows = runCases(cases);
  close();
  const recording = table(merge(Object.values(GROUPS), rows, childRows('pm2.child.mjs')));
  console.log(`## Recording paths\n\n${recording}\n`);
  sections.push(['Recording paths', recording]);
}

if (want('errors')) {
  const { cases, close } = errorCases();
  const rows = runCases(cases);
  close();
  const errorTable = table(merge(Object.values(ERROR_GROUPS), rows, childRows('domain.child.mjs')));
  console.log(`## Error domains and request context\n\n${errorTable}\n`);
  sections.push(['Error domains and request context', errorTable]);
}

if (want('await')) {
  // One process per mode and round, interleaved; medians of the per-process medians.
  const modes = ['none', 'probekit-loaded', 'als', 'probekit-context', 'probekit-domain'];
  const labels = {
    none: 'no AsyncLocalStorage active',
    'probekit-loaded': 'probekit imported, nothing used',
    als: 'baseline: inside a plain `als.run()`',
    'probekit-context': 'inside `context.run()`',
    'probekit-domain': 'inside `context.run()` and `errorDomain.run()`',
  };
  const samples = Object.fromEntries(modes.map((m) => [m, []]));
  for (let r = 0; r < 7; r++) for (const m of modes) samples[m].push(child('await.child.mjs', [m]).nsPerAwait);
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const base = med(samples.als);
  const lines = ['| await chain (200k awaits, 7 processes per mode) | median ns/await | min–max | × plain ALS |', '|---|---:|---:|---:|'];
  for (const m of modes) {
    const xs = samples[m];
    lines.push(`| ${labels[m]} | ${med(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} | ${m === 'als' ? '1 (baseline)' : `${(med(xs) / base).toFixed(2)}×`} |`);
  }
  const awaitTable = lines.join('\n');
  console.log(`## Await chain, process-wide\n\n${awaitTable}\n`);
  sections.push(['Await chain, process-wide (one process per mode)', awaitTable]);
}

if (want('import')) {
  // import time of each entry against prom-client's own, one fresh process per import,
  // interleaved; medians.
  const targets = [
    ['prom-client', 'baseline: `prom-client` (its own import)'],
    ['probekit', '`probekit` (root: probes, errors, exporters)'],
    ['probekit/prometheus', '`probekit/prometheus`'],
    ['probekit/statsd', '`probekit/statsd`'],
  ];
  const samples = targets.map(() => []);
  for (let r = 0; r < 11; r++) targets.forEach(([t], i) => samples[i].push(child('import.child.mjs', [t]).ms));
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const base = med(samples[0]);
  const lines = ['| import (11 processes each) | median ms | min–max | × prom-client |', '|---|---:|---:|---:|'];
  targets.forEach(([, label], i) => {
    const xs = samples[i];
    lines.push(`| ${label} | ${med(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} | ${i === 0 ? '1 (baseline)' : `${(med(xs) / base).toFixed(2)}×`} |`);
  });
  const importTable = lines.join('\n');
  console.log(`## Import time\n\n${importTable}\n`);
  sections.push(['Import time (one fresh process per import)', importTable]);
}

if (want('emitter')) {
  // new EventEmitter() once a domain exists (probekit binds emitters at construction, as
  // Node's module did). One process per mode and round, interleaved; medians.
  const modes = [
    ['none', [], 'baseline: probekit not loaded'],
    ['probekit-loaded', [], 'probekit imported, no domain yet'],
    ['probekit-domain', [], 'probekit, a domain exists, created outside any domain'],
    ['probekit-domain', ['inside'], 'probekit, created inside `d.run()`'],
    ['node-domain', [], "Node's `domain` loaded, created outside any domain"],
    ['node-domain', ['inside'], "Node's `domain`, created inside `d.run()`"],
  ];
  const samples = modes.map(() => ({ create: [], emit: [] }));
  for (let r = 0; r < 5; r++) {
    modes.forEach(([mode, args], i) => {
      const out = child('emitter.child.mjs', [mode, ...args]);
      samples[i].create.push(out.create);
      samples[i].emit.push(out.emit);
    });
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const base = med(samples[0].create);
  const lines = ['| `new EventEmitter()` (5 processes per mode) | median ns | min–max | × baseline | `emit()` ns |', '|---|---:|---:|---:|---:|'];
  modes.forEach(([, , label], i) => {
    const xs = samples[i].create;
    lines.push(`| ${label} | ${med(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} | ${i === 0 ? '1 (baseline)' : `${(med(xs) / base).toFixed(2)}×`} | ${med(samples[i].emit).toFixed(1)} |`);
  });
  const emitterTable = lines.join('\n');
  console.log(`## EventEmitter binding\n\n${emitterTable}\n`);
  sections.push(['EventEmitter binding (one process per mode)', emitterTable]);
}

if (want('scrape')) {
  const rows = await scrapeRows();
  const fmt = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const lines = ['| series | implementation | median ms/scrape | min–max | × hand-written |', '|---:|---|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.series} | ${r.impl} | ${fmt(r.median)} | ${fmt(r.min)}–${fmt(r.max)} | ${r.impl.startsWith('hand') ? '1 (baseline)' : `${r.ratio.toFixed(2)}×`} |`);
  const block = await longestBlock();
  lines.push('', `100k series through \`prometheus.handler()\` (${(block.bytes / 2 ** 20).toFixed(1)} MiB of text): scrape ${block.totalMs.toFixed(0)} ms, longest event-loop block ${block.longestBlockMs.toFixed(1)} ms (GC pauses included).`);
  const scrapeTable = lines.join('\n');
  console.log(`## Prometheus scrape\n\n${scrapeTable}\n`);
  sections.push(['Prometheus scrape (100 counters × 45 label sets + 100 gauges × 45 + 50 histograms × 20 per 10k)', scrapeTable]);
}

if (want('statsd')) {
  const rows = await statsdRows();
  const lines = ['| case | implementation | median ns/call | min–max | × hand-written batcher | worst loss |', '|---|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.case} | ${r.impl} | ${r.median.toFixed(0)} | ${r.min.toFixed(0)}–${r.max.toFixed(0)} | ${r.impl.startsWith('hand') ? '1 (baseline)' : `${r.ratio.toFixed(2)}×`} | ${(r.loss * 100).toFixed(1)}% |`);
  }
  const statsdTable = lines.join('\n');
  console.log(`## StatsD\n\n${statsdTable}\n`);
  sections.push(['StatsD over loopback UDP (sink in its own process, default socket buffer)', statsdTable]);
}

if (want('push')) {
  const rows = await pushRows();
  const lines = ['| implementation | median ms/push | min–max | × prom-client | bytes/push | bytes × prom-client |', '|---|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const first = r.impl.startsWith('prom-client');
    lines.push(`| ${r.impl} | ${r.median.toFixed(1)} | ${r.min.toFixed(1)}–${r.max.toFixed(1)} | ${first ? '1 (baseline)' : `${r.ratio.toFixed(2)}×`} | ${r.bytes} | ${first ? '1 (baseline)' : `${r.bytesRatio.toFixed(3)}×`} |`);
  }
  const pushTable = lines.join('\n');
  console.log(`## HTTP push\n\n${pushTable}\n`);
  sections.push(['HTTP push of the 10k-series registry (POST, text format, to an HTTP sink in its own process)', pushTable]);
}

if (want('express')) {
  const rows = await expressRows({ rounds: 5, seconds: 3 });
  const lines = ['| Express 5 hello world (autocannon, 16 connections, 5 × 3 s per mode) | median req/s | min–max | × no middleware | server CPU µs/request |', '|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    const first = r.impl.startsWith('baseline');
    lines.push(`| ${r.impl} | ${Math.round(r.rps)} | ${Math.round(r.min)}–${Math.round(r.max)} | ${first ? '1 (baseline)' : `${r.ratio.toFixed(2)}×`} | ${r.cpuUs.toFixed(0)} |`);
  }
  const expressTable = lines.join('\n');
  console.log(`## Express overhead\n\n${expressTable}\n`);
  sections.push(['Express overhead (server and autocannon each in a process of their own)', expressTable]);
}

if (want('statsd-memory')) {
  // The StatsD flush-memory case (test/exporters/fixtures/statsd-memory.mjs): one labelled
  // histogram at the series cap, 2 million buffered observations, one flush; each run in a
  // process of its own, with a 64 MB heap and with the default heap.
  const fixture = fileURLToPath(new URL('../test/exporters/fixtures/statsd-memory.mjs', import.meta.url));
  const lines = ['| heap | flush ms | peak RSS MB | lines sent | values dropped (counted) |', '|---|---:|---:|---:|---:|'];
  for (const [label, flags] of [['64 MB (`--max-old-space-size=64`)', ['--max-old-space-size=64']], ['default', []]]) {
    try {
      const out = execFileSync(process.execPath, [...flags, fixture], { encoding: 'utf8', timeout: 120_000 });
      const r = JSON.parse(out.trim().split('\n').pop());
      lines.push(`| ${label} | ${r.flushMs} | ${r.peakRssMb} | ${r.lines} | ${r.dropped} |`);
    } catch (err) {
      lines.push(`| ${label} | failed: ${String(err.message).split('\n')[0]} | | | |`);
    }
  }
  const memoryTable = lines.join('\n');
  console.log(`## StatsD flush memory\n\n${memoryTable}\n`);
  sections.push(['StatsD flush memory (1000-series histogram, 2 million buffered observations, one flush)', memoryTable]);
}

if (want('runtime')) {
  const r = await runtimeRows();
  const lines = [
    `| ${r.seconds} s, mostly idle, a scrape every 15 s (${r.rounds} round(s), three processes in parallel) | CPU ms less an idle process's | × prom-client |`,
    '|---|---:|---:|',
    `| baseline: prom-client \`collectDefaultMetrics()\` | ${r.promClient.toFixed(1)} | 1 (baseline) |`,
    `| probekit \`runtimeMetrics()\` at its defaults | ${r.probekit.toFixed(1)} | ${r.ratio.toFixed(2)}× |`,
    '',
    `The idle process itself used ${r.idle.toFixed(1)} ms.`,
  ];
  const runtimeTable = lines.join('\n');
  console.log(`## Runtime metrics sampler cost\n\n${runtimeTable}\n`);
  sections.push(['Runtime metrics sampler cost (one process per mode, in parallel)', runtimeTable]);
}

if (want('dashboard')) {
  // The demo service (\`npm start\`, load on) alone and with ten dashboards reading its feed.
  try {
    const r = await dashboardRows();
    const lines = [
      `| the demo service, load generator on (${r.rounds} × ${r.seconds} s per phase, alternating) | CPU ms per second | × the demo alone |`,
      '|---|---:|---:|',
      `| baseline: the demo alone | ${r.alone.toFixed(1)} | 1 (baseline) |`,
      `| with ten dashboards open (each reads the 1 Hz feed and fetches \`errors\` when the count moves) | ${r.withTen.toFixed(1)} | ${(r.withTen / r.alone).toFixed(2)}× |`,
      `| the ten dashboards' share | ${r.added.toFixed(1)} | ${r.ratio.toFixed(2)}× |`,
      '',
      `Frames delivered: ${r.framesPerSecond.toFixed(1)} per second across the ten streams.`,
    ];
    const dashboardTable = lines.join('\n');
    console.log(`## Dashboard server cost\n\n${dashboardTable}\n`);
    sections.push(['Dashboard server cost (CPU time of the demo service, from /proc, alone and with ten open dashboards)', dashboardTable]);
  } catch (err) {
    console.error(`dashboard bench failed: ${err.message}`);
  }
}

if (want('fleet')) {
  // A real Prometheus at 1 s against a 2- and a 4-worker node:cluster, ~10k series per worker;
  // BENCH_FLEET_SECONDS (default 60) per mode, in BENCH_FLEET_ROUNDS (2) interleaved slices, each after 15 s of warm-up. Per-worker p50/p99 are over every worker's scrapes.
  const rows = await fleetRows();
  const seconds = rows[0]?.seconds ?? 0;
  const rounds = rows[0]?.rounds ?? 1;
  const lines = [
    `| workers | mode (Prometheus 2.42 scraping every 1 s for ${seconds} s: ${rounds} interleaved slices) | scrape p50 ms | scrape p99 ms | p99 × prom-client | scrapes | failed | samples per scrape (all targets) |`,
    '|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const first = r.mode === 'prom-client';
    lines.push(`| ${r.workers} | ${r.impl} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${first ? '1 (baseline)' : `${r.ratio.toFixed(2)}×`} | ${r.scrapes} | ${r.down} | ${r.samples} |`);
  }
  const fleetTable = lines.join('\n');
  console.log(`## Fleet scrape\n\n${fleetTable}\n`);
  sections.push(['Fleet scrape (node:cluster, ~10k series per worker, recording all along; scrape_duration_seconds as Prometheus measured it)', fleetTable]);
}

if (record && only === undefined) {
  const doc = `# Benchmark results

Recorded by \`npm run bench -- --record\`. Medians of ${process.env.BENCH_ROUNDS ?? 15} interleaved rounds; min–max across rounds.
Ratios are to the baseline of the same group measured in the same process and run (rows
marked "own process" run in a child process, against that process's own baseline).
Machines are shared and noisy: compare ratios, not absolute times.

machine: ${machine}

${sections.map(([title, body]) => `## ${title}\n\n${body}\n`).join('\n')}`;
  writeFileSync(`${here}RESULTS.md`, doc);
  console.log(`wrote ${here}RESULTS.md`);
}
