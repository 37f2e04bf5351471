/**
 * senecaProbe in real Seneca 3.38 services answering over its HTTP transport on
 * 127.0.0.1, called with Seneca's client and with a plain `POST /act`, as the chapter
 * does with curl (its programs: ../shared/seed-programs/ch-microservices-pm2-*).
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/peers.js';
import { context, createProbe, type ErrorRecord, notify, onError, prometheus, type Probe, type Snapshot } from '../../src/index.js';
import { senecaPlugin } from '../../src/seneca.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Seneca's own typings are `any`
type Instance = any;
type Reply = (err: Error | null, out?: unknown) => void;
const Seneca = createRequire(import.meta.url)('seneca') as (options?: object) => Instance;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function registry(): Probe {
  const p = createProbe();
  cleanups.push(() => p.close());
  return p;
}


/** A Seneca instance instrumented into `p`, closed after the test. */
function service(p: Probe): Instance {
  const s = Seneca({ log: 'silent' }).use(senecaPlugin({ registry: p }));
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

/** Makes `s` listen over HTTP on a free port; resolves with the port once it answers. */
async function listen(s: Instance): Promise<number> {
  const port = await freePort();
  s.listen({ type: 'http', port, host: '127.0.0.1' });
  await new Promise<void>((resolve) => s.ready(() => resolve()));
  return port;
}

/** One act; resolves with the error, the output and Seneca's reply metadata. */
function act(s: Instance, msg: unknown): Promise<{ err: Error | null; out: Record<string, unknown>; meta: { id: string } }> {
  return new Promise((resolve) => s.act(msg, (err: Error | null, out: Record<string, unknown>, meta: { id: string }) => resolve({ err, out, meta })));
}

/** `POST /act` with a JSON body, as curl does. */
async function post(port: number, body: object): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/act`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A histogram family's series as `method error → count`, sorted. */
function series(s: Snapshot, name: string): string[] {
  const f = s.metrics.find((m) => m.exportName === name);
  if (f === undefined || f.kind !== 'histogram') return [];
  return f.series.map((x) => `${x.labels.rpc_method} ${x.labels.error_type || '-'} ×${x.value.count}`).sort();
}

/** The bucket counts of one histogram series, as `le → cumulative count`. */
function buckets(s: Snapshot, name: string, method: string): Record<string, number> {
  const f = s.metrics.find((m) => m.exportName === name);
  if (f === undefined || f.kind !== 'histogram') throw new Error(`no ${name}`);
  const x = f.series.find((y) => y.labels.rpc_method === method);
  if (x === undefined) throw new Error(`no ${method} series in ${name}`);
  const { bounds, counts } = x.buckets;
  return { ...Object.fromEntries(bounds.map((b, i) => [String(b), counts[i] as number])), '+Inf': counts[bounds.length] as number };
}

describe('Seneca 3.38 over its HTTP transport', () => {
  it("records the chapter's greeting, division, counter and meter actions called with the client and with POST /act, and notify() in an action carries its pattern and the client's message id", async () => {
    const p = registry();
    const records: ErrorRecord[] = [];
    cleanups.push(onError((r) => records.push(r)));
    const active = p.counter({ name: 'Active calls' });
    const calls = p.meter({ name: 'Calls per minute', samples: 60, timeframe: 3600 });
    const names: string[] = [];
    const s = service(p);
    s.add({ cmd: 'memory-leak' }, (args: { name: string }, done: Reply) => {
      names.push(args.name);
      done(null, { result: `Hello ${args.name}` });
    });
    s.add({ cmd: 'exception' }, (args: { number: number }, done: Reply) => {
      notify(new Error('Unexpected Exception!'));
      done(null, { result: 100 / args.number });
    });
    s.add({ cmd: 'counter' }, (_args: unknown, done: Reply) => {
      active.inc();
      setImmediate(() => {
        active.dec();
        done(null, { result: 'counted' });
      });
    });
    s.add({ cmd: 'meter' }, (_args: unknown, done: Reply) => {
      calls.mark();
      done(null, { result: 'marked' });
    });
    const port = await listen(s);

    const client = Seneca({ log: 'silent' }).client({ type: 'http', port, host: '127.0.0.1', pin: 'cmd:*' });
    cleanups.push(() => new Promise<void>((resolve) => client.close(() => resolve())));
    expect((await act(client, { cmd: 'memory-leak', name: 'David' })).out).toEqual({ result: 'Hello David' });
    expect(await post(port, { cmd: 'memory-leak', name: 'Eve' })).toEqual({ status: 200, json: { result: 'Hello Eve' } });
    const divided = await act(client, { cmd: 'exception', number: 4 });
    expect(divided.out).toEqual({ result: 25 });
    expect(await post(port, { cmd: 'exception', number: 5 })).toEqual({ status: 200, json: { result: 20 } });
    for (let i = 0; i < 3; i++) await act(client, { cmd: 'counter' });
    await post(port, { cmd: 'meter' });
    await act(client, { cmd: 'meter' });
    const missing = await post(port, { cmd: 'no-such-thing' });
    expect([missing.status, missing.json.code]).toEqual([500, 'act_not_found']);

    expect(names).toEqual(['David', 'Eve']);
    const snap = p.snapshot();
    expect(series(snap, 'rpc_server_duration')).toEqual(['cmd:counter - ×3', 'cmd:exception - ×2', 'cmd:memory-leak - ×2', 'cmd:meter - ×2', 'unmatched act_not_found ×1']);
    expect(records.map((r) => [r.message, r.context.pattern])).toEqual([
      ['Unexpected Exception!', 'cmd:exception'],
      ['Unexpected Exception!', 'cmd:exception'],
    ]);
    // The message id travels with the message: the server's context has the client's id.
    expect(records[0]?.context.messageId).toBe(divided.meta.id);
    const text = await prometheus.text({ registry: p });
    expect(text).toContain('rpc_server_calls_total{rpc_system="seneca",rpc_method="cmd:memory-leak"} 2\n');
    expect(text).toContain('active_calls 0\n');
    expect(text).toContain('calls_per_minute_events_total 2\n');
  });

  it('shows a slow dependency in the client-side series of the service that calls it, and its own duration includes it', async () => {
    // The chapter's mortgage service calls an applications service and a credit-rating
    // service; here the credit service answers in 150 ms and the applications one at once.
    const creditRegistry = registry();
    const credit = service(creditRegistry);
    credit.add('role:credit,cmd:rating', (_m: unknown, done: Reply) => setTimeout(() => done(null, { rating: 'A' }), 150));
    const applications = service(registry());
    applications.add('role:applications,cmd:get', (msg: { id: string }, done: Reply) => done(null, { id: msg.id, amount: 200_000 }));
    const [creditPort, applicationsPort] = [await listen(credit), await listen(applications)];

    const p = registry();
    const mortgage = service(p)
      .client({ type: 'http', port: creditPort, host: '127.0.0.1', pin: 'role:credit' })
      .client({ type: 'http', port: applicationsPort, host: '127.0.0.1', pin: 'role:applications' });
    mortgage.add('role:mortgage,cmd:quote', function (this: Instance, msg: { id: string }, done: Reply) {
      this.act({ role: 'applications', cmd: 'get', id: msg.id }, (err: Error | null, application: { amount: number }) => {
        if (err) return done(err);
        this.act({ role: 'credit', cmd: 'rating' }, (err2: Error | null, rating: { rating: string }) => done(err2, { amount: application.amount, rating: rating.rating, user: context.get('user') }));
      });
    });
    const mortgagePort = await listen(mortgage);

    for (let i = 0; i < 3; i++) expect((await post(mortgagePort, { role: 'mortgage', cmd: 'quote', id: `a${i}` })).json).toEqual({ amount: 200_000, rating: 'A' });
    const quoted = await context.run({ user: 'ada' }, () => act(mortgage, { role: 'mortgage', cmd: 'quote', id: 'a3' }));
    expect(quoted.out).toEqual({ amount: 200_000, rating: 'A', user: 'ada' });

    const snap = p.snapshot();
    expect(series(snap, 'rpc_client_duration')).toEqual(['role:applications - ×4', 'role:credit - ×4']);
    expect(series(snap, 'rpc_server_duration')).toEqual(['cmd:quote,role:mortgage - ×4']);
    // Every credit call took at least its 150 ms (none under 0.1 s); the applications calls did not.
    expect(buckets(snap, 'rpc_client_duration', 'role:credit')['0.1']).toBe(0);
    expect(buckets(snap, 'rpc_client_duration', 'role:credit')['+Inf']).toBe(4);
    expect(buckets(snap, 'rpc_server_duration', 'cmd:quote,role:mortgage')['0.1']).toBe(0);
    expect(buckets(creditRegistry.snapshot(), 'rpc_server_duration', 'cmd:rating,role:credit')['0.1']).toBe(0);
  });

  it("counts nothing for a client without a pin until the app calls through it (Seneca's plugin init messages left out), then each call under *", async () => {
    const p = registry();
    const port = await freePort(); // nothing listens there
    const s = service(p).client({ type: 'http', port, host: '127.0.0.1' });
    await new Promise<void>((resolve) => s.ready(() => resolve()));
    expect(series(p.snapshot(), 'rpc_client_duration')).toEqual([]);
    await act(s, { role: 'anything', cmd: 'x' });
    expect(series(p.snapshot(), 'rpc_client_duration')).toEqual(['* ECONNREFUSED ×1']);
  });

  it('counts a call to a service that is down under its pin with the connection error, and the caller gets the error', async () => {
    const p = registry();
    const port = await freePort(); // nothing listens there
    const s = service(p).client({ type: 'http', port, host: '127.0.0.1', pin: 'role:down' });
    await new Promise<void>((resolve) => s.ready(() => resolve()));
    const { err } = await act(s, { role: 'down', cmd: 'x' });
    expect(err?.message).toMatch(/ECONNREFUSED/);
    expect(series(p.snapshot(), 'rpc_client_duration')).toEqual(['role:down ECONNREFUSED ×1']);
  });
});
