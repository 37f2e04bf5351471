// The chapter's memory-leak greeting and its division that notifies an exception, as pmx
// actions on probekit/pmx: `pm2 trigger actions memory-leak` and `pm2 trigger actions division 4`.
// Run it with `node examples/pmx-actions.cjs` or `pm2 start examples/pmx-actions.cjs --name actions`.
const seneca = require('seneca')({ log: 'silent' });
const pmx = require('probekit/pmx').init({
  http: true,
  errors: true,
  custom_probes: true,
});
const { prometheus } = require('probekit');

const names = [];

seneca.add({ cmd: 'memory-leak' }, function (args, done) {
  names.push(args.name);
  const greetings = 'Hello ' + args.name;
  done(null, { result: greetings });
});

seneca.add({ cmd: 'exception' }, function (args, done) {
  pmx.notify(new Error('Unexpected Exception!'));
  done(null, { result: 100 / args.number });
});

pmx.probe().metric({ name: 'Names kept', value: () => names.length });

pmx.action('memory-leak', function (reply) {
  seneca.act({ cmd: 'memory-leak', name: 'David' }, function (err, response) {
    reply(err ? { error: err.message } : { result: response.result, names: names.length });
  });
});

pmx.action('division', function (number, reply) {
  seneca.act({ cmd: 'exception', number: Number(number) }, function (err, response) {
    reply(err ? { error: err.message } : response);
  });
});

seneca.listen({ port: Number(process.env.PORT ?? 8086) });

prometheus.serve({ port: Number(process.env.METRICS_PORT ?? 9465) }).then((server) => console.log(`metrics at ${server.url}`));
