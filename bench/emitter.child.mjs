// Cost of `new EventEmitter()` (and of emitting an event) once a domain exists: probekit then
// binds emitters at construction, as Node's domain module did. One mode per process.
import { EventEmitter } from 'node:events';

const mode = process.argv[2];
const N = 1_000_000;
let runIn = (fn) => fn();
if (mode === 'probekit-loaded') {
  await import('../dist/index.js'); // loaded, no domain: EventEmitter untouched
} else if (mode === 'probekit-domain') {
  const { errorDomain } = await import('../dist/index.js');
  const d = errorDomain.create();
  d.on('error', () => {});
  if (process.argv[3] === 'inside') runIn = (fn) => d.run(fn);
} else if (mode === 'node-domain') {
  const domain = (await import('node:domain')).default;
  const d = domain.create();
  d.on('error', () => {});
  if (process.argv[3] === 'inside') runIn = (fn) => d.run(fn);
}

let keep;
const create = () => {
  for (let i = 0; i < N; i++) keep = new EventEmitter();
};
const emitter = new EventEmitter();
emitter.on('data', () => {});
const emitting = () => {
  for (let i = 0; i < N; i++) emitter.emit('data', i);
};
const measure = (fn) => {
  runIn(fn); // warm-up
  const samples = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    runIn(fn);
    samples.push(Number(process.hrtime.bigint() - t0) / N);
  }
  return samples.sort((a, b) => a - b)[3];
};
process.stdout.write(`${JSON.stringify({ mode, create: measure(create), emit: measure(emitting), keep: keep !== undefined })}\n`);
process.exit(0);
