// An Express 5 hello-world server in its own process: no middleware, probekit's, or
// express-prom-bundle's (argv[2]). Prints its port; answers {cmd:'cpu'} over IPC with its
// CPU time in µs, so the parent can take CPU per request.
import express from 'express';
import promBundle from 'express-prom-bundle';
import { createProbe, expressMetrics } from '../dist/index.js';

const mode = process.argv[2];
const app = express();
if (mode === 'probekit') app.use(expressMetrics({ registry: createProbe() }));
if (mode === 'probekit-nocontext') app.use(expressMetrics({ registry: createProbe(), context: false }));
if (mode === 'prom-bundle') app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true }));
app.get('/hello/:name', (req, res) => res.send(`hello ${req.params.name}`));
const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m?.cmd === 'cpu') {
    const u = process.cpuUsage();
    process.send({ cpu: u.user + u.system });
  }
  if (m?.cmd === 'stop') server.close(() => process.exit(0));
});
