// `npm run bench`: every suite in one run; `-- --record` writes bench/RESULTS.md.
// Suites that must not share a process (peers that install agents or async hooks) run
// in child processes, each measured against its own in-process baseline.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lognormalSeconds, machineLine, runCases, table } from './lib/harness.mjs';
import { GROUPS, probeCases } from './probes.bench.mjs';
import { ERROR_GROUPS, errorCases } from './errors.bench.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const record = process.argv.includes('--record');
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

{
  const { cases, close } = probeCases(lognormalSeconds());
  const rows = runCases(cases);
  close();
  const recording = table(merge(Object.values(GROUPS), rows, childRows('pm2.child.mjs')));
  console.log(`## Recording paths\n\n${recording}\n`);
  sections.push(['Recording paths', recording]);
}

{
  const { cases, close } = errorCases();
  const rows = runCases(cases);
  close();
  const errorTable = table(merge(Object.values(ERROR_GROUPS), rows, childRows('domain.child.mjs')));
  console.log(`## Error domains and request context\n\n${errorTable}\n`);
  sections.push(['Error domains and request context', errorTable]);
}

{
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

if (record) {
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
