// Time to import one module in a fresh process (the ESM loader is already up: this file
// is ESM), so each entry is measured the same way. Prints { ms } as one JSON line.
const targets = {
  probekit: '../dist/index.js',
  'probekit/prometheus': '../dist/prometheus.js',
  'probekit/statsd': '../dist/statsd.js',
  'prom-client': 'prom-client',
};
const spec = targets[process.argv[2]];
if (spec === undefined) throw new Error(`unknown target ${process.argv[2]}`);
const t0 = performance.now();
await import(spec);
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms }));
