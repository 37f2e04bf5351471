// Express 5 hello world under autocannon (its own process), without middleware, with
// probekit's expressMetrics() (with and without its request context) and with express-prom-bundle 8:
// req/s and server CPU per request.
import { execFileSync, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const MODES = [
  ['none', 'baseline: no middleware'],
  ['probekit', 'probekit `expressMetrics()`'],
  ['probekit-nocontext', 'probekit `expressMetrics({ context: false })`'],
  ['prom-bundle', 'express-prom-bundle 8'],
];

function start(mode) {
  const child = fork(`${here}express.child.mjs`, [mode], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ask = (cmd, key) => new Promise((resolve) => {
    const on = (m) => {
      if (m && key in m) {
        child.off('message', on);
        resolve(m[key]);
      }
    };
    child.on('message', on);
    if (cmd) child.send({ cmd });
  });
  return { child, port: ask(undefined, 'port'), cpu: () => ask('cpu', 'cpu') };
}

export async function expressRows({ rounds = 3, seconds = 3 } = {}) {
  const samples = MODES.map(() => ({ rps: [], cpu: [] }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, [mode]] of MODES.entries()) {
      const server = start(mode);
      const port = await server.port;
      execFileSync(process.execPath, [`${here}autocannon.child.mjs`, String(port), '1']); // warm-up
      const before = await server.cpu();
      const out = JSON.parse(execFileSync(process.execPath, [`${here}autocannon.child.mjs`, String(port), String(seconds)], { encoding: 'utf8' }).trim().split('\n').pop());
      const after = await server.cpu();
      server.child.send({ cmd: 'stop' });
      samples[i].rps.push(out.rps);
      samples[i].cpu.push((after - before) / Math.max(1, out.requests));
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const base = med(samples[0].rps);
  return MODES.map(([, label], i) => ({
    impl: label,
    rps: med(samples[i].rps),
    min: Math.min(...samples[i].rps),
    max: Math.max(...samples[i].rps),
    ratio: med(samples[i].rps) / base,
    cpuUs: med(samples[i].cpu),
  }));
}
