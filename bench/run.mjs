// `npm run bench`: every suite in one run; `-- --record` writes bench/RESULTS.md.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lognormalSeconds, machineLine, runCases, table } from './lib/harness.mjs';
import { GROUPS, probeCases } from './probes.bench.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const record = process.argv.includes('--record');
const machine = machineLine();
console.log(`machine: ${machine}\n`);

const { cases, close } = probeCases(lognormalSeconds());
const rows = runCases(cases);
close();

let pm2Rows = [];
try {
  const out = execFileSync(process.execPath, [`${here}pm2.child.mjs`], { cwd: here, encoding: 'utf8', timeout: 300_000 });
  pm2Rows = JSON.parse(out.trim().split('\n').pop()).filter((r) => !r.baseline);
} catch (err) {
  console.error(`@pm2/io child failed: ${err.message}`);
}
// Place the @pm2/io rows after their group; their ratio is to the child's own baseline.
const merged = [];
for (const group of Object.values(GROUPS)) {
  merged.push(...rows.filter((r) => r.group === group), ...pm2Rows.filter((r) => r.group === group));
}
const recording = table(merged);
console.log(recording);

if (record) {
  const doc = `# Benchmark results

Recorded by \`npm run bench -- --record\`. Medians of ${process.env.BENCH_ROUNDS ?? 15} interleaved rounds; min–max across rounds.
Ratios are to the baseline of the same group measured in the same process and run (the
@pm2/io rows run in their own process, against that process's baseline). Machines are
shared and noisy: compare ratios, not absolute times.

machine: ${machine}

## Recording paths

${recording}
`;
  writeFileSync(`${here}RESULTS.md`, doc);
  console.log(`\nwrote ${here}RESULTS.md`);
}
