// The probekit demo (`npm start`): an Express app and a Seneca service in one process,
// instrumented the way the pmx chapters instrument theirs, with the admin server's live
// dashboard, Prometheus `/metrics`, runtime metrics, a heap-growth alert, and a load
// generator so that every chart moves.
//
//   node examples/demo/index.mjs [--no-load] [--port 3000] [--admin-port 9465] [--token T]
//
// Environment: PORT and ADMIN_PORT (0 picks free ports), PROBEKIT_ADMIN_TOKEN (the
// dashboard then asks for it), and probekit's own variables, read by init(): for example
// PROBEKIT_STATSD_HOST=127.0.0.1 PROBEKIT_STATSD_PORT=8125 sends to StatsD, and
// PROBEKIT_PUSH_URL=http://127.0.0.1:9091 pushes to a Pushgateway. Ctrl-C (or SIGTERM)
// stops the load, closes the servers and flushes the exporters; a second Ctrl-C ends at once.
import { parseArgs } from 'node:util';
import express from 'express';
import { errors, init, probe, shutdown } from 'probekit';
import { admin, alert, health } from 'probekit/admin';
import { expressErrors, expressMetrics } from 'probekit/express';
import { startLoad } from './load.mjs';
import { createService } from './service.mjs';

const { values: args } = parseArgs({
  options: {
    load: { type: 'boolean', default: true },
    'no-load': { type: 'boolean', default: false },
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    'admin-port': { type: 'string', default: process.env.ADMIN_PORT ?? '9465' },
    token: { type: 'string', default: process.env.PROBEKIT_ADMIN_TOKEN },
    'status-every': { type: 'string', default: '5' },
  },
});
const port = Number(args.port);
const adminPort = Number(args['admin-port']);
const token = args.token || undefined;

// One call: process errors, runtime metrics, the admin server (dashboard included, and the
// fault action), and whatever PROBEKIT_STATSD_* / PROBEKIT_PUSH_* turn on. The demo handles
// its own signals below, so that it can close its own servers first.
const instrumentation = init({
  serviceName: 'probekit-demo',
  http: false, // Express is instrumented by its middleware, route templates included
  admin: { port: adminPort, faults: true, ...(token === undefined ? {} : { token }) },
});

const service = createService();
const actLatency = probe.histogram({ name: 'seneca_act_latency', unit: 'seconds', labels: ['cmd'], help: 'Time from the Express handler to the Seneca reply' });

const app = express();
app.use(expressMetrics()); // first: every request timed by route template; serves /metrics
let served = 0;
app.use((req, res, next) => {
  res.once('finish', () => (served += 1));
  next();
});
app.get('/greet/:name', async (req, res) => {
  const timer = actLatency.labels({ cmd: 'hello' }).startTimer();
  const out = await service.act({ role: 'greet', cmd: 'hello', name: req.params.name });
  timer.end();
  res.json(out);
});
app.get('/divide', async (req, res) => {
  const timer = actLatency.labels({ cmd: 'div' }).startTimer();
  const out = await service.act({ role: 'math', cmd: 'div', a: req.query.a ?? 1, b: req.query.b ?? 1 });
  timer.end();
  res.status(out.error === undefined ? 200 : 400).json(out);
});
app.get('/', (req, res) => res.type('text').send('probekit demo: GET /greet/:name, GET /divide?a=&b=, GET /metrics\n'));
app.use(expressErrors()); // last: errors thrown by handlers are notified with their request context

// The leak, watched: an alert when the V8 heap grew by more than 4 MB in a minute (no
// webhook: its state shows in the dashboard and in probekit_alert_firing).
const heapAlert = alert({ name: 'heap-growth', metric: 'v8js_memory_heap_used_bytes', field: 'delta', when: '> 4000000', for: '1m' });
health.check('seneca', () => service.act({ role: 'health', cmd: 'ping' }).then((out) => out.ok === true), { timeoutMs: 1000 });
health.check('greetings-kept', () => {
  const kept = probe.snapshot().metrics.find((m) => m.name === 'greetings_kept')?.series[0]?.value ?? 0;
  if (kept > 1500) throw new Error(`${kept} greetings kept: the leak is near its limit`);
  return { kept };
}, { critical: false });
admin.action('clear-greetings', () => ({ released: service.clear() }), { description: 'Lets the greetings the leaky action kept go' });

const server = await new Promise((resolve, reject) => {
  const s = app.listen(port, '127.0.0.1', () => resolve(s));
  s.once('error', reject);
}).catch((err) => {
  console.error(`demo: cannot listen on port ${port} (${err.code ?? err.message}); set PORT or --port (0 picks a free one)`);
  process.exit(1);
});
await instrumentation.ready;
const appUrl = `http://127.0.0.1:${server.address().port}`;
const adminServer = instrumentation.adminServer;
if (adminServer === undefined) {
  console.error(`demo: the admin server did not start on port ${adminPort} (see the warning above); set ADMIN_PORT or --admin-port (0 picks a free one)`);
}

const load = args.load && !args['no-load'] ? startLoad(appUrl) : undefined;

console.log(`probekit demo (pid ${process.pid})`);
if (adminServer !== undefined) console.log(`dashboard: ${adminServer.url}dashboard${token === undefined ? '' : '   (asks for the token you set)'}`);
console.log(`app: ${appUrl}/`);
console.log(`metrics: ${appUrl}/metrics`);
if (adminServer !== undefined) console.log(`admin: ${adminServer.url}`);
console.log(`try: curl '${appUrl}/divide?a=1&b=0'   (notifies a division by zero)`);
console.log(`load generator: ${load === undefined ? 'off (--no-load)' : 'on (--no-load turns it off)'}`);
const exporters = [process.env.PROBEKIT_STATSD_HOST || process.env.PROBEKIT_STATSD_PORT ? 'StatsD' : '', process.env.PROBEKIT_PUSH_URL ? 'push' : ''].filter(Boolean);
console.log(`exporters: ${exporters.length === 0 ? 'none (set PROBEKIT_STATSD_HOST/PORT or PROBEKIT_PUSH_URL)' : exporters.join(', ')}`);

const mib = (n) => (n / 1048576).toFixed(1);
const status = setInterval(() => {
  console.log(`status: ${served} requests served, ${errors.snapshot().total} errors, heap ${mib(process.memoryUsage().heapUsed)} MiB${heapAlert.firing ? ', heap-growth alert firing' : ''}`);
}, Number(args['status-every']) * 1000);
status.unref();

let stopping = false;
async function stop(signal) {
  if (stopping) {
    console.log(`${signal} again: exiting now`);
    process.exit(130);
  }
  stopping = true;
  console.log(`${signal}: shutting down (again to exit at once)`);
  load?.stop();
  clearInterval(status);
  heapAlert.stop();
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 1000).unref();
  });
  await service.close();
  // probekit's servers (admin, metrics) close, and its exporters flush, within 3 s.
  const report = await shutdown({ timeoutMs: 3000 });
  await instrumentation.close();
  console.log(`stopped: ${served} requests served${report.timedOut ? ' (the exporters timed out)' : ''}`);
  process.exitCode = 0;
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
