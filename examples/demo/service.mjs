// The Seneca service of the demo, as the chapters write theirs (pmx's probes on Seneca
// actions), with probekit: a greeting that leaks memory on purpose, a division that
// notifies on zero, a counter, a calls-per-minute meter, a "last call" time.
import Seneca from 'seneca';
import { notify, probe } from 'probekit';
import { senecaProbe } from 'probekit/seneca';

/** Each greeting keeps this many doubles (16 KiB of heap): the leak the dashboard shows. */
const LEAK_DOUBLES = 2048;
/** The leak's ceiling: at 2000 greetings kept (about 32 MiB) they are let go, and it starts again. */
const LEAK_LIMIT = 2000;

export function createService() {
  const seneca = Seneca({ log: 'silent' });
  seneca.use(senecaProbe);

  // The chapters' probes, under the same names.
  const calls = probe.counter({ name: 'Number of calls', help: 'Greetings served' });
  const perMinute = probe.meter({ name: 'Calls per minute', samples: 60, timeframe: 3600, help: 'Greetings per minute, over the last hour' });
  const lastCall = probe.metric({ name: 'Last call', help: 'When the latest greeting was served' });
  const kept = [];
  probe.metric({ name: 'greetings_kept', help: 'Greetings the leaky action keeps (on purpose)', value: () => kept.length });

  // A memory leak, on purpose: every greeting is kept with 16 KiB of baggage. Bounded, so
  // that the demo can run all day: at the limit the greetings are let go (and the heap
  // alert resolves), then the leak starts again.
  seneca.add({ role: 'greet', cmd: 'hello' }, (msg, reply) => {
    if (kept.length >= LEAK_LIMIT) kept.length = 0;
    kept.push({ name: msg.name, baggage: new Array(LEAK_DOUBLES).fill(kept.length) });
    calls.inc();
    perMinute.mark();
    lastCall.set(new Date());
    reply(null, { result: `Hello ${msg.name}` });
  });

  // The chapter's exception: division by zero is notified (with the request's context:
  // the Express request id and route, Seneca's pattern and message id), and answered.
  seneca.add({ role: 'math', cmd: 'div' }, (msg, reply) => {
    const a = Number(msg.a);
    const b = Number(msg.b);
    if (b === 0) {
      const err = new Error(`Division by zero: ${a} / 0`);
      err.code = 'division_by_zero';
      notify(err, { a, b });
      reply(null, { error: err.message });
      return;
    }
    reply(null, { result: a / b });
  });

  // For the health check: the service answers, without counting as a greeting.
  seneca.add({ role: 'health', cmd: 'ping' }, (msg, reply) => reply(null, { ok: true }));

  return {
    seneca,
    /** Runs a Seneca action; resolves with its reply. */
    act: (msg) => new Promise((resolve, reject) => seneca.act(msg, (err, out) => (err ? reject(err) : resolve(out)))),
    /** Lets the kept greetings go (the `clear-greetings` action). */
    clear: () => {
      const n = kept.length;
      kept.length = 0;
      return n;
    },
    close: () => new Promise((resolve) => seneca.close(() => resolve())),
  };
}
