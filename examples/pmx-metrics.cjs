// The chapter's Seneca service with pmx's metric, counter and meter, on probekit/pmx: the
// same calls, and the probes also reach Prometheus (`Last call` as a timestamp).
// Run it with `node examples/pmx-metrics.cjs` or `pm2 start examples/pmx-metrics.cjs --name metrics`,
// then call it: curl -d '{"cmd":"last-call"}' http://127.0.0.1:8085/act
const seneca = require('seneca')({ log: 'silent' });
const pmx = require('probekit/pmx').init({
  http: true,
  errors: true,
  custom_probes: true,
  network: true,
  ports: true,
});
const { prometheus } = require('probekit');

const probe = pmx.probe();

const lastCall = probe.metric({
  name: 'Last call',
});

const counter = probe.counter({
  name: 'Number of calls',
});

const meter = probe.meter({
  name: 'Calls per minute',
  samples: 60,
  timeframe: 3600,
});

seneca.add({ cmd: 'last-call' }, function (args, done) {
  lastCall.set(new Date().toISOString());
  done(null, { result: 'done!' });
});

seneca.add({ cmd: 'counter' }, function (args, done) {
  if (args.op === 'dec') counter.dec();
  else counter.inc();
  done(null, { result: 'done!' });
});

seneca.add({ cmd: 'calls-minute' }, function (args, done) {
  meter.mark();
  done(null, { result: 'done!' });
});

seneca.listen({ port: Number(process.env.PORT ?? 8085) });

// /metrics for Prometheus, beside what PM2 shows (METRICS_PORT=0 picks a free port).
prometheus.serve({ port: Number(process.env.METRICS_PORT ?? 9464) }).then((server) => console.log(`metrics at ${server.url}`));
