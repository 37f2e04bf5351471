// `npm start`: a small program that creates one probe of each kind, simulates traffic,
// and prints probe.snapshot() every second. Stop it with Ctrl-C.
// (A later issue replaces it with the demo service.)
import { probe } from 'probekit';

const started = Date.now();
const uptime = probe.metric({ name: 'Uptime', unit: 's', value: () => (Date.now() - started) / 1000 });
const active = probe.counter({ name: 'Active requests' });
const served = probe.counter({ name: 'requests_served', monotonic: true, labels: ['route'] });
const rpm = probe.meter({ name: 'Requests per minute', samples: 60, timeframe: 60 });
const latency = probe.histogram({ name: 'Request latency', unit: 'ms', percentiles: [0.5, 0.95, 0.99] });
void uptime;

const routes = ['/', '/users', '/orders'];
function fakeRequest() {
  const route = routes[Math.floor(Math.random() * routes.length)];
  const timer = latency.startTimer();
  active.inc();
  setTimeout(() => {
    active.dec();
    served.labels({ route }).inc();
    rpm.mark();
    timer.end();
  }, 5 + Math.random() * 50 * Math.random());
}

const traffic = setInterval(fakeRequest, 20);
const report = setInterval(() => {
  const lines = probe.snapshot().metrics.filter((m) => !m.exportName.startsWith('probekit_'));
  console.log(`--- ${new Date().toISOString()}`);
  for (const m of lines) {
    for (const s of m.series) {
      const { labels, ...values } = s;
      const tag = Object.keys(labels).length ? JSON.stringify(labels) : '';
      console.log(`${m.name}${tag} ${JSON.stringify(values)}`);
    }
  }
}, 1000);

process.on('SIGINT', () => {
  clearInterval(traffic);
  clearInterval(report);
});
