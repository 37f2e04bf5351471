// Process-wide cost of an await chain under each way of carrying context; one mode per
// process, because every enabled AsyncLocalStorage adds work to every async resource.
import { AsyncLocalStorage } from 'node:async_hooks';

const mode = process.argv[2];
const AWAITS = 200_000;

async function chain(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x += await i;
  return x;
}

let runIn = (fn) => fn();
if (mode === 'als') {
  const als = new AsyncLocalStorage();
  runIn = (fn) => als.run({ requestId: 'r1' }, fn);
} else if (mode === 'probekit-context') {
  const { context } = await import('../dist/index.js');
  runIn = (fn) => context.run({ requestId: 'r1' }, fn);
} else if (mode === 'probekit-domain') {
  const { context, errorDomain } = await import('../dist/index.js');
  const d = errorDomain.create();
  d.on('error', () => {});
  runIn = (fn) => context.run({ requestId: 'r1' }, () => d.run(fn));
} else if (mode === 'probekit-loaded') {
  await import('../dist/index.js'); // loaded, nothing used
}

await runIn(() => chain(20_000)); // warm-up
const samples = [];
for (let r = 0; r < 9; r++) {
  const t0 = process.hrtime.bigint();
  await runIn(() => chain(AWAITS));
  samples.push(Number(process.hrtime.bigint() - t0) / AWAITS);
}
samples.sort((a, b) => a - b);
process.stdout.write(`${JSON.stringify({ mode, nsPerAwait: samples[4] })}\n`);
process.exit(0);
