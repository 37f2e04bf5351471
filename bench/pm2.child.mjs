// @pm2/io in its own process: importing it starts an agent. Reports rows as JSON on stdout.
import io from '@pm2/io';
import { baselineCases } from './lib/baselines.mjs';
import { lognormalSeconds, runCases } from './lib/harness.mjs';
import { GROUPS } from './groups.mjs';

const values = lognormalSeconds();
const mask = values.length - 1;
const base = baselineCases(values);
const counter = io.counter({ name: 'requests' });
const metric = io.metric({ name: 'queue' });
const histogram = io.histogram({ name: 'latency', measurement: 'p99' });
const meter = io.meter({ name: 'rps' });
const impl = '@pm2/io 6';
const note = 'own process';
const cases = [
  base.plain(GROUPS.inc),
  { group: GROUPS.inc, impl, note, run: (n) => { for (let i = 0; i < n; i++) counter.inc(); } },
  base.set(GROUPS.set),
  { group: GROUPS.set, impl, note, run: (n) => { for (let i = 0; i < n; i++) metric.set(i); } },
  base.histogram(GROUPS.observe),
  { group: GROUPS.observe, impl, note, run: (n) => { for (let i = 0; i < n; i++) histogram.update(values[i & mask]); } },
  base.plain(GROUPS.mark),
  { group: GROUPS.mark, impl, note: `${note}, EWMA`, run: (n) => { for (let i = 0; i < n; i++) meter.mark(); } },
];
const rows = runCases(cases);
process.stdout.write(`${JSON.stringify(rows)}\n`);
io.destroy();
process.exit(0);
