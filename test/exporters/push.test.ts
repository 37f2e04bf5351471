import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { afterEach, describe, expect, it } from 'vitest';
import { createErrorStore, createProbe, errors, httpPush, type Probe, type PushExporter, type PushPayload } from '../../src/index.js';
import { groupPath } from '../../src/exporters/push/pushgateway.js';
import { bad, expectError, thrown } from '../support/helpers.js';

type Behaviour = 'ok' | '500' | '503' | '400' | 'hang' | 'reset';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly at: number;
}

/** A local endpoint that answers each request as the next scripted behaviour says (then 'ok'), recording what came and how many overlapped. */
async function faultServer(script: Behaviour[] = []): Promise<{ url: string; received: Received[]; maxInFlight: () => number; connections: () => number; close: () => Promise<void> }> {
  const received: Received[] = [];
  let connections = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server: Server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const behaviour = script.shift() ?? 'ok';
      const done = (): void => {
        inFlight--;
      };
      if (behaviour === 'hang') {
        res.on('close', done);
        return; // never answers: the client's timeout ends it
      }
      if (behaviour === 'reset') {
        done();
        req.socket.destroy();
        return;
      }
      done();
      const status = behaviour === 'ok' ? 200 : Number(behaviour);
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status === 400 ? 'pushed metrics are invalid or inconsistent with existing metrics' : '');
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    maxInFlight: () => maxInFlight,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function registry(): Probe {
  const p = createProbe({ clock: () => 1_000_000 });
  cleanups.push(() => p.close());
  return p;
}

function start(options: Parameters<typeof httpPush>[0]): PushExporter {
  const pusher = httpPush({ interval: 0, ...options });
  cleanups.push(() => pusher.close());
  return pusher;
}

async function server(script: Behaviour[] = []) {
  const s = await faultServer(script);
  cleanups.push(() => s.close());
  return s;
}

describe('The Pushgateway group path', () => {
  it.each<{ job: string; grouping: Record<string, string>; path: string }>([
    { job: 'nightly', grouping: {}, path: '/metrics/job/nightly' },
    { job: 'nightly', grouping: { instance: 'web-1' }, path: '/metrics/job/nightly/instance/web-1' },
    { job: 'a/b', grouping: { path: '/var/tmp' }, path: '/metrics/job@base64/YS9i/path@base64/L3Zhci90bXA' },
    { job: 'nightly', grouping: { empty: '' }, path: '/metrics/job/nightly/empty@base64/=' },
    { job: 'nächtlich job', grouping: { q: 'a b?c' }, path: '/metrics/job/n%C3%A4chtlich%20job/q/a%20b%3Fc' },
  ])('is $path for job $job and grouping $grouping', ({ job, grouping, path }) => {
    expect(groupPath(job, grouping)).toBe(path);
  });
});

describe('httpPush() to a Pushgateway', () => {
  it('PUTs the text format 0.0.4, no timestamps, under job and instance (the hostname) by default', async () => {
    const s = await server();
    const p = registry();
    p.counter({ name: 'jobs', monotonic: true }).inc(3);
    const pusher = start({ url: s.url, job: 'report', registry: p });
    expect(await pusher.push()).toEqual({ ok: true, status: 200, attempts: 1, error: null });
    const [req] = s.received;
    const { hostname } = await import('node:os');
    expect(req?.method).toBe('PUT');
    expect(req?.url).toBe(`/metrics/job/report/instance/${encodeURIComponent(hostname())}`);
    expect(req?.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(req?.body).toContain('\n# TYPE jobs_total counter\njobs_total 3\n');
    expect(req?.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).every((l) => l.split(' ').length === 2)).toBe(true); // name and value, no timestamp
  });

  it("groups per process with grouping: 'process', under a base path, and POSTs when asked", async () => {
    const s = await server();
    const { hostname } = await import('node:os');
    const pusher = start({ url: `${s.url}/gateway/`, job: 'report', grouping: 'process', method: 'POST', registry: registry() });
    await pusher.push();
    expect(s.received[0]?.method).toBe('POST');
    expect(s.received[0]?.url).toBe(`/gateway/metrics/job/report/instance/${encodeURIComponent(hostname())}/pid/${process.pid}`);
  });

  it("keeps the URL's query string on every push (an API key)", async () => {
    const s = await server();
    const pusher = start({ url: `${s.url}/ingest?key=abc`, format: 'json', registry: registry() });
    await pusher.push();
    expect(s.received[0]?.url).toBe('/ingest?key=abc');
  });

  it('sends basic auth from the URL user info (not the URL itself) and the headers given', async () => {
    const s = await server();
    const url = s.url.replace('http://', 'http://us%40er:p%3Ass@');
    const pusher = start({ url, job: 'j', grouping: {}, headers: { 'X-Tenant': 'blue' }, registry: registry() });
    await pusher.push();
    expect(s.received[0]?.headers.authorization).toBe(`Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
    expect(s.received[0]?.headers['x-tenant']).toBe('blue');
    expect(s.received[0]?.url).toBe('/metrics/job/j');
  });

  it("reports the gateway's 400 with its text, counted, and does not retry it", async () => {
    const s = await server(['400']);
    const failures: Error[] = [];
    const p = registry();
    const pusher = start({ url: s.url, job: 'j', grouping: {}, registry: p, onError: (e) => failures.push(e) });
    const out = await pusher.push();
    expect({ ok: out.ok, status: out.status, attempts: out.attempts }).toEqual({ ok: false, status: 400, attempts: 1 });
    expect(s.received).toHaveLength(1);
    expect(failures.map((e) => e.message)).toEqual([
      `probekit: httpPush(): PUT ${s.url}/metrics/job/j answered 400: pushed metrics are invalid or inconsistent with existing metrics`,
    ]);
    const self = p.snapshot().metrics.find((f) => f.exportName === 'probekit_exporter_errors');
    expect(self?.kind === 'counter' && self.series.find((x) => x.labels.exporter === 'push')?.value).toBe(1);
  });

  it('sends DELETE for the group on close() with deleteOnClose, instead of a last push', async () => {
    const s = await server();
    const pusher = httpPush({ url: s.url, job: 'j', grouping: { instance: 'x' }, interval: 0, deleteOnClose: true, registry: registry() });
    await pusher.push();
    await pusher.close();
    expect(s.received.map((r) => `${r.method} ${r.url}`)).toEqual(['PUT /metrics/job/j/instance/x', 'DELETE /metrics/job/j/instance/x']);
  });

  it('pushes once more on close(), with the values recorded since', async () => {
    const s = await server();
    const p = registry();
    const c = p.counter({ name: 'jobs', monotonic: true });
    c.inc();
    const pusher = httpPush({ url: s.url, job: 'j', grouping: {}, interval: 0, registry: p });
    await pusher.push();
    c.inc(4);
    await pusher.close();
    expect(s.received.map((r) => /^jobs_total (\d+)$/m.exec(r.body)?.[1])).toEqual(['1', '5']);
  });

  it('pushes 20 times over one keep-alive connection, so frequent pushes do not pile up sockets', async () => {
    const s = await server();
    const pusher = start({ url: s.url, job: 'j', registry: registry() });
    for (let i = 0; i < 20; i++) expect((await pusher.push()).ok).toBe(true);
    expect([s.received.length, s.connections()]).toEqual([20, 1]);
  });

  it('bounds close() by closeTimeout when the last push hangs, and counts that push as failed', async () => {
    const s = await server(['hang', 'hang', 'hang']);
    const failures: Error[] = [];
    const pusher = httpPush({ url: s.url, job: 'j', interval: 0, timeout: 10_000, closeTimeout: 200, registry: registry(), onError: (e) => failures.push(e) });
    const started = Date.now();
    await pusher.close();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(2000);
    await new Promise((r) => setTimeout(r, 20)); // the aborted attempt settles
    expect(failures.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['PROBEKIT_CLOSED']);
  });

  it('gzips the body when asked', async () => {
    const s = await server();
    const p = registry();
    p.counter({ name: 'jobs', monotonic: true }).inc(2);
    await start({ url: s.url, job: 'j', gzip: true, registry: p }).push();
    expect(s.received[0]?.headers['content-encoding']).toBe('gzip');
    expect(s.received[0]?.body).toContain('jobs_total 2\n');
  });
});

describe('httpPush() when the receiver fails', () => {
  it('retries 500s, a hang past the timeout, a reset connection and a 503 (backed off with jitter), one push at a time, then carries every increment', async () => {
    const s = await server(['500', 'hang', 'reset', '503']);
    const p = registry();
    const c = p.counter({ name: 'jobs', monotonic: true });
    const failures: Error[] = [];
    c.inc(2);
    const pusher = start({ url: s.url, job: 'j', grouping: {}, timeout: 300, retries: 5, registry: p, onError: (e) => failures.push(e) });
    const first = pusher.push();
    for (let i = 0; i < 200 && s.received.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    c.inc(3); // recorded while the first push is still failing: its retries resend the body it made
    const second = pusher.push();
    expect(await first).toEqual({ ok: true, status: 200, attempts: 5, error: null });
    expect(await second).toEqual({ ok: true, status: 200, attempts: 1, error: null });
    expect(s.maxInFlight()).toBe(1);
    expect(s.received.map((r) => /^jobs_total (\d+)$/m.exec(r.body)?.[1])).toEqual(['2', '2', '2', '2', '2', '5']);
    // No failure reached onError: every failed attempt was retried and the push succeeded.
    expect(failures).toEqual([]);
  });

  it('gives up after the retries, reports once and resolves (never rejects), and the next push carries every increment', async () => {
    const s = await server(['500', '500']);
    const p = registry();
    const c = p.counter({ name: 'jobs', monotonic: true });
    c.inc(2);
    const failures: Error[] = [];
    const pusher = start({ url: s.url, job: 'j', grouping: {}, retries: 1, registry: p, onError: (e) => failures.push(e) });
    const out = await pusher.push();
    expect({ ok: out.ok, status: out.status, attempts: out.attempts }).toEqual({ ok: false, status: 500, attempts: 2 });
    expect(failures).toHaveLength(1);
    c.inc(3);
    expect((await pusher.push()).ok).toBe(true);
    expect(/^jobs_total (\d+)$/m.exec(s.received.at(-1)?.body ?? '')?.[1]).toBe('5');
  });

  it('resolves with the connection error when nothing listens, and counts it', async () => {
    const s = await server();
    await s.close();
    const p = registry();
    const out = await start({ url: s.url, job: 'j', retries: 0, registry: p }).push();
    expect({ ok: out.ok, status: out.status, code: (out.error as NodeJS.ErrnoException | null)?.code }).toEqual({ ok: false, status: null, code: 'ECONNREFUSED' });
  });
});

describe('httpPush() in JSON', () => {
  const schema = JSON.parse(readFileSync(fileURLToPath(new URL('../../schema/push-payload.v1.json', import.meta.url)), 'utf8')) as object;
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, formats: { 'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/ } });
  const validate = ajv.compile(schema);

  it('POSTs the versioned payload, which the JSON Schema in schema/ accepts, with every probe kind', async () => {
    const s = await server();
    const p = registry();
    p.counter({ name: 'jobs', monotonic: true, labels: ['kind'] }).labels({ kind: 'mail' }).inc(2);
    p.counter({ name: 'active' }).dec();
    p.meter({ name: 'rps' }).mark(3);
    p.histogram({ name: 'latency', unit: 'ms' }).observe(12);
    p.metric({ name: 'version', value: 'v1' });
    p.metric({ name: 'broken', value: () => { throw new Error('no'); } });
    p.metric({ name: 'depth', labels: ['q'] }).labels({ q: 'a' }).set(1);
    const pusher = start({ url: `${s.url}/ingest`, format: 'json', service: { name: 'billing', instance: 'b-1' }, registry: p });
    expect((await pusher.push()).ok).toBe(true);
    const req = s.received[0] as Received;
    expect([req.method, req.url, req.headers['content-type']]).toEqual(['POST', '/ingest', 'application/json']);
    const payload = JSON.parse(req.body) as PushPayload;
    expect(validate(payload) ? [] : validate.errors).toEqual([]);
    expect(payload.version).toBe(1);
    expect(payload.service).toEqual({ name: 'billing', instance: 'b-1', pid: process.pid, hostname: (await import('node:os')).hostname() });
    const own = (metrics: readonly { name: string }[]) => metrics.filter((f) => !f.name.startsWith('probekit_'));
    expect(own(payload.probes.metrics)).toEqual(own(JSON.parse(JSON.stringify(p.snapshot())).metrics));
    expect(payload.probes.metrics.map((f) => f.name)).toContain('probekit_failed_reads');
  });

  it('rejects a payload the schema does not describe (the schema is not vacuous)', () => {
    expect(validate({ version: 2, sentAt: 'now', service: {}, probes: {}, errors: [] })).toBe(false);
    expect(validate({ version: 1, sentAt: '2026-12-03T00:00:00.000Z', service: { name: 'x', instance: 'y', pid: 1, hostname: 'h' }, probes: { time: 1, metrics: [{ kind: 'counter' }] }, errors: [] })).toBe(false);
  });

  it('delivers each error record exactly once, after a receiver that was down comes back', async () => {
    const s = await server(['500', '500', 'reset']);
    const p = registry();
    const pusher = start({ url: s.url, format: 'json', retries: 0, registry: p });
    errors.notify(new Error('first'));
    expect((await pusher.push()).ok).toBe(false);
    errors.notify(new Error('second'));
    expect((await pusher.push()).ok).toBe(false);
    expect((await pusher.push()).ok).toBe(false);
    errors.notify(new Error('third'));
    expect((await pusher.push()).ok).toBe(true);
    expect((await pusher.push()).ok).toBe(true);
    const carried = s.received.map((r) => (JSON.parse(r.body) as PushPayload).errors.map((e) => e.message));
    expect(carried).toEqual([['first'], ['first', 'second'], ['first', 'second'], ['first', 'second', 'third'], []]);
  });

  it('holds at most maxPendingErrors records while the receiver is down for 10,000 errors, dropping the oldest, counted, and sends the newest once it is back', async () => {
    const s = await server(['500']);
    const p = registry();
    const store = createErrorStore({ probe: p });
    const pusher = start({ url: s.url, format: 'json', retries: 0, maxPendingErrors: 100, registry: p, store });
    for (let i = 0; i < 10_000; i++) store.notify(new Error(`e${i}`));
    expect((await pusher.push()).ok).toBe(false);
    const dropped = p.snapshot().metrics.find((f) => f.exportName === 'probekit_exporter_dropped');
    expect(dropped?.kind === 'counter' && dropped.series.find((x) => x.labels.exporter === 'push')?.value).toBe(9_900);
    expect((await pusher.push()).ok).toBe(true);
    const sent = (JSON.parse(s.received.at(-1)?.body ?? '{}') as PushPayload).errors.map((e) => e.message);
    expect([sent.length, sent[0], sent[99]]).toEqual([100, 'e9900', 'e9999']);
  });
});

describe('httpPush() options', () => {
  it.each([
    { what: 'no options', options: undefined, type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined },
    { what: 'no url', options: { job: 'j' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'url' },
    { what: 'an ftp url', options: { url: 'ftp://x', job: 'j' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'url' },
    { what: 'no job for the Pushgateway', options: { url: 'http://127.0.0.1:1' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'job' },
    { what: 'an empty job', options: { url: 'http://127.0.0.1:1', job: '' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'job' },
    { what: 'a grouping label named job', options: { url: 'http://127.0.0.1:1', job: 'j', grouping: { job: 'x' } }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'grouping.job' },
    { what: 'a grouping label with a dash', options: { url: 'http://127.0.0.1:1', job: 'j', grouping: { 'a-b': 'x' } }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'grouping.a-b' },
    { what: 'a grouping value that is a number', options: { url: 'http://127.0.0.1:1', job: 'j', grouping: { a: 1 } }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'grouping.a' },
    { what: "format 'xml'", options: { url: 'http://127.0.0.1:1', format: 'xml' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'format' },
    { what: 'method GET', options: { url: 'http://127.0.0.1:1', job: 'j', method: 'GET' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'method' },
    { what: 'a negative interval', options: { url: 'http://127.0.0.1:1', job: 'j', interval: -1 }, type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'interval' },
    { what: 'timeout 0', options: { url: 'http://127.0.0.1:1', job: 'j', timeout: 0 }, type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'timeout' },
    { what: 'an unknown option', options: { url: 'http://127.0.0.1:1', job: 'j', gateway: 'x' }, type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'gateway' },
    { what: 'user info that is not valid percent-encoding', options: { url: 'http://a%zz:b@127.0.0.1:1', job: 'j' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'url' },
    { what: 'an agent that is not one', options: { url: 'http://127.0.0.1:1', job: 'j', agent: {} }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'agent' },
    { what: 'a header value with a line break', options: { url: 'http://127.0.0.1:1', job: 'j', headers: { 'X-A': 'a\r\nX-Evil: 1' } }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'headers.X-A' },
    { what: 'a header name with a space', options: { url: 'http://127.0.0.1:1', job: 'j', headers: { 'X A': 'a' } }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'headers.X A' },
  ])('throws for $what', ({ options, type, code, option }) => {
    expectError(thrown(() => httpPush(bad(options))), { type, code, option });
  });
});

/** Runs a fixture asynchronously (the endpoint answers from this process). */
async function runChild(fixture: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearTimeout(kill);
  return { status, stdout, stderr };
}

describe('A process that pushes', () => {
  it('deletes its group on shutdown() as on close(), with deleteOnClose', async () => {
    const s = await server();
    const r = await runChild('push-shutdown.mjs', [s.url]);
    expect(r).toEqual({ status: 0, stdout: '{"timedOut":false,"failures":0}\n', stderr: '' });
    expect(s.received.map((x) => `${x.method} ${x.url}`)).toEqual(['PUT /metrics/job/j', 'DELETE /metrics/job/j']);
  });

  it('exits promptly after close(), the keep-alive connection closed with it', async () => {
    const s = await server();
    const started = Date.now();
    expect(await runChild('push-close.mjs', [s.url])).toEqual({ status: 0, stdout: 'pushed 200\n', stderr: '' });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
