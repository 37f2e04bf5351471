import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOSED, type ClientOptions, createClient, type HttpClient, QUEUE_FULL, TIMEOUT } from '../../src/transport/client.js';
import { bad, rejection, thrown, expectError } from '../support/helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

// ---------------------------------------------------------------------------------------
// Bookkeeping: every server and client a test makes is released after it.
// ---------------------------------------------------------------------------------------

const servers: Server[] = [];
const clients: HttpClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
});

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

interface Backend {
  readonly port: number;
  readonly url: string;
  /** Every request the server received, in the order they arrived. */
  readonly seen: Seen[];
  /** Connections the server accepted. */
  connections: number;
}

/** A node:http server on 127.0.0.1 that reads each body and lets `answer` reply. */
async function backend(answer: (req: Seen, res: ServerResponse, index: number) => void): Promise<Backend> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(s);
      answer(s, res, seen.length - 1);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const b: Backend = { port, url: `http://127.0.0.1:${port}`, seen, connections: 0 };
  server.on('connection', () => (b.connections += 1));
  return b;
}

function client(options: ClientOptions): HttpClient {
  const c = createClient(options);
  clients.push(c);
  return c;
}

function reply(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
  res.end(body);
}

/** Polls `condition` every 5 ms, at most 400 times. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
}

const code = (err: Error): unknown => (err as Error & { code?: unknown }).code;
const attempts = (err: Error): unknown => (err as Error & { attempts?: unknown }).attempts;

// ---------------------------------------------------------------------------------------

describe('requests', () => {
  it('sends method, path under the base path, default and own headers and the body, and resolves the response', async () => {
    const b = await backend((_req, res) => reply(res, 201, 'made', { 'X-Id': '7' }));
    const c = client({ url: `${b.url}/base/`, headers: { 'X-Default': 'd', 'X-Both': 'default' } });
    const res = await c.request({ method: 'PUT', path: '/items?x=1', headers: { 'X-Both': 'own' }, body: 'payload' });
    expect([res.status, res.body.toString('utf8'), res.headers['x-id'], res.truncated, res.attempts]).toEqual([201, 'made', '7', false, 1]);
    const [seen] = b.seen;
    expect(seen?.method).toBe('PUT');
    expect(seen?.url).toBe('/base/items?x=1');
    expect(seen?.headers['x-default']).toBe('d');
    expect(seen?.headers['x-both']).toBe('own');
    expect(seen?.headers['content-length']).toBe('7');
    expect(seen?.body.toString('utf8')).toBe('payload');
  });

  it('gzips the body when asked and says so in Content-Encoding', async () => {
    const b = await backend((_req, res) => reply(res, 204));
    const c = client({ url: b.url });
    const text = JSON.stringify({ values: 'v'.repeat(5000) });
    await c.request({ method: 'POST', path: '/in', body: text, gzip: true });
    const [seen] = b.seen;
    expect(seen?.headers['content-encoding']).toBe('gzip');
    expect(seen?.headers['content-length']).toBe(String(seen?.body.length));
    expect(gunzipSync(seen?.body ?? Buffer.alloc(0)).toString('utf8')).toBe(text);
  });

  it('cuts a response body longer than maxResponseBytes and marks it truncated', async () => {
    const b = await backend((_req, res) => reply(res, 200, 'x'.repeat(100_000)));
    const c = client({ url: b.url, maxResponseBytes: 10 });
    const res = await c.request({ method: 'GET', path: '/' });
    expect([res.status, res.body.toString('utf8'), res.truncated]).toEqual([200, 'xxxxxxxxxx', true]);
    // the client stays usable afterwards
    expect((await c.request({ method: 'GET', path: '/' })).truncated).toBe(true);
  });

  it('reuses one keep-alive connection for requests made one after another', async () => {
    const b = await backend((_req, res) => reply(res, 200, 'ok'));
    const c = client({ url: b.url });
    for (let i = 0; i < 3; i++) expect((await c.request({ method: 'GET', path: '/' })).status).toBe(200);
    expect(b.connections).toBe(1);
  });
});

describe('one request in flight', () => {
  it('runs five requests fired together one at a time, in the order they were made', async () => {
    let active = 0;
    let most = 0;
    const b = await backend((req, res) => {
      active += 1;
      most = Math.max(most, active);
      setTimeout(() => {
        active -= 1;
        reply(res, 200, `got ${req.body.toString('utf8')}`);
      }, 10);
    });
    const c = client({ url: b.url });
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => c.request({ method: 'POST', path: '/', body: String(i) })));
    expect(results.map((r) => r.body.toString('utf8'))).toEqual(['got 0', 'got 1', 'got 2', 'got 3', 'got 4']);
    expect(b.seen.map((s) => s.body.toString('utf8'))).toEqual(['0', '1', '2', '3', '4']);
    expect(most).toBe(1);
  });

  it('finishes the retries of a request before the next request starts', async () => {
    const b = await backend((req, res, i) => (i === 0 ? reply(res, 503) : reply(res, 200, req.body.toString('utf8'))));
    const c = client({ url: b.url, random: () => 0 });
    const results = await Promise.all(['a', 'b'].map((body) => c.request({ method: 'POST', path: '/', body })));
    expect(results.map((r) => [r.body.toString('utf8'), r.attempts])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(b.seen.map((s) => s.body.toString('utf8'))).toEqual(['a', 'a', 'b']);
  });

  it('rejects at once with PROBEKIT_QUEUE_FULL beyond maxQueue waiting requests', async () => {
    const held: ServerResponse[] = [];
    const b = await backend((_req, res) => held.push(res));
    const c = client({ url: b.url, maxQueue: 2 });
    const first = c.request({ method: 'GET', path: '/1' });
    const waiting = [c.request({ method: 'GET', path: '/2' }), c.request({ method: 'GET', path: '/3' })];
    const err = await rejection(c.request({ method: 'GET', path: '/4' }));
    expect(code(err)).toBe(QUEUE_FULL);
    expect(err.message).toBe('probekit: the client queue is full (2 requests waiting); the request was dropped');
    await until(() => held.length === 1);
    for (let i = 0; i < 3; i++) {
      await until(() => held.length === i + 1);
      reply(held[i] as ServerResponse, 200, String(i + 1));
    }
    const all = await Promise.all([first, ...waiting]);
    expect(all.map((r) => r.body.toString('utf8'))).toEqual(['1', '2', '3']);
  });
});

describe('timeouts and retries', () => {
  it('rejects with PROBEKIT_TIMEOUT when the server does not answer within timeoutMs', async () => {
    const b = await backend(() => {});
    const c = client({ url: b.url, timeoutMs: 50, retries: 0 });
    const err = await rejection(c.request({ method: 'GET', path: '/slow' }));
    expect(code(err)).toBe(TIMEOUT);
    expect(err.message).toBe(`probekit: the request GET ${b.url}/slow timed out after 50 ms`);
    expect(attempts(err)).toBe(1);
  });

  it('bounds the response body by the timeout too', async () => {
    const b = await backend((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    const c = client({ url: b.url, timeoutMs: 50, retries: 0 });
    expect(code(await rejection(c.request({ method: 'GET', path: '/' })))).toBe(TIMEOUT);
  });

  it('retries a timeout, then rejects with the last error and the attempt count', async () => {
    const b = await backend(() => {});
    const errors: Error[] = [];
    const c = client({ url: b.url, timeoutMs: 30, retries: 2, random: () => 0, onError: (e) => errors.push(e) });
    const err = await rejection(c.request({ method: 'GET', path: '/' }));
    expect([code(err), attempts(err)]).toEqual([TIMEOUT, 3]);
    expect(b.seen.length).toBe(3);
    expect(errors.map(code)).toEqual([TIMEOUT, TIMEOUT, TIMEOUT]);
  });

  it('retries 503 and resolves with the first success, counting attempts', async () => {
    const b = await backend((_req, res, i) => (i < 2 ? reply(res, 503, 'busy') : reply(res, 200, 'ok')));
    const c = client({ url: b.url, random: () => 0 });
    const res = await c.request({ method: 'POST', path: '/', body: 'x' });
    expect([res.status, res.body.toString('utf8'), res.attempts]).toEqual([200, 'ok', 3]);
    expect(b.seen.map((s) => s.body.toString('utf8'))).toEqual(['x', 'x', 'x']);
  });

  it('retries 429, 502, 503 and 504', async () => {
    const statuses = [429, 502, 503, 504, 200];
    const b = await backend((_req, res, i) => reply(res, statuses[i] ?? 200));
    const c = client({ url: b.url, retries: 4, random: () => 0 });
    const res = await c.request({ method: 'GET', path: '/' });
    expect([res.status, res.attempts, b.seen.length]).toEqual([200, 5, 5]);
  });

  it('does not retry 400, 404 or 500: the response resolves after one attempt', async () => {
    for (const status of [400, 404, 500]) {
      const b = await backend((_req, res) => reply(res, status, 'no'));
      const c = client({ url: b.url, random: () => 0 });
      const res = await c.request({ method: 'GET', path: '/' });
      expect([res.status, res.attempts, b.seen.length]).toEqual([status, 1, 1]);
    }
  });

  it('resolves with the last retried response when every attempt answers 503', async () => {
    const b = await backend((_req, res) => reply(res, 503));
    const c = client({ url: b.url, retries: 2, random: () => 0 });
    const res = await c.request({ method: 'GET', path: '/' });
    expect([res.status, res.attempts, b.seen.length]).toEqual([503, 3, 3]);
  });

  it('waits random() * min(maxBackoffMs, backoffMs * 2^n) before retry n', async () => {
    const delays: number[] = [];
    const b = await backend((_req, res) => reply(res, 502));
    const c = client({ url: b.url, retries: 4, backoffMs: 100, maxBackoffMs: 300, random: () => 0.5, sleep: async (ms) => void delays.push(ms) });
    await c.request({ method: 'GET', path: '/' });
    expect(delays).toEqual([50, 100, 150, 150]);
  });

  it('honours a Retry-After in seconds on 429 and 503 instead of the backoff', async () => {
    const delays: number[] = [];
    const answers: [number, string | undefined][] = [
      [429, '2'],
      [503, '0'],
      [502, '7'], // not honoured on 502
      [200, undefined],
    ];
    const b = await backend((_req, res, i) => {
      const [status, after] = answers[i] ?? [200, undefined];
      reply(res, status, '', after === undefined ? {} : { 'Retry-After': after });
    });
    const c = client({ url: b.url, backoffMs: 10, random: () => 1, sleep: async (ms) => void delays.push(ms) });
    const res = await c.request({ method: 'GET', path: '/' });
    expect([res.status, res.attempts]).toEqual([200, 4]);
    expect(delays).toEqual([2000, 0, 40]);
  });

  it('resolves a 429 at once when its Retry-After is longer than maxBackoffMs', async () => {
    const delays: number[] = [];
    const b = await backend((_req, res) => reply(res, 429, '', { 'Retry-After': '60' }));
    const c = client({ url: b.url, random: () => 0, sleep: async (ms) => void delays.push(ms) });
    const res = await c.request({ method: 'GET', path: '/' });
    expect([res.status, res.attempts, res.headers['retry-after'], delays]).toEqual([429, 1, '60', []]);
  });

  it('retries a refused connection and rejects with its error after the last attempt', async () => {
    const b = await backend(() => {});
    const port = b.port;
    const s = servers.pop() as Server;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const errors: Error[] = [];
    const c = client({ url: `http://127.0.0.1:${port}`, retries: 2, random: () => 0, onError: (e) => errors.push(e) });
    const err = await rejection(c.request({ method: 'GET', path: '/' }));
    expect([code(err), attempts(err)]).toEqual(['ECONNREFUSED', 3]);
    expect(errors.length).toBe(3);
  });

  it('survives an onError that throws', async () => {
    const b = await backend(() => {});
    const c = client({
      url: b.url,
      timeoutMs: 20,
      retries: 1,
      random: () => 0,
      onError: () => {
        throw new Error('onError failed');
      },
    });
    expect(code(await rejection(c.request({ method: 'GET', path: '/' })))).toBe(TIMEOUT);
  });
});

describe('close()', () => {
  it('rejects the request in flight and the queued ones with PROBEKIT_CLOSED, and later requests too', async () => {
    const b = await backend(() => {});
    const c = client({ url: b.url });
    const pending = [0, 1, 2].map((i) => rejection(c.request({ method: 'GET', path: `/${i}` })));
    await until(() => b.seen.length === 1);
    c.close();
    c.close();
    const errors = await Promise.all(pending);
    expect(errors.map(code)).toEqual([CLOSED, CLOSED, CLOSED]);
    expect(errors[0]?.message).toBe('probekit: the client was closed before the request completed');
    expect(code(await rejection(c.request({ method: 'GET', path: '/' })))).toBe(CLOSED);
    expect(b.seen.length).toBe(1);
  });

  it('cancels a retry wait at once', async () => {
    const b = await backend((_req, res) => reply(res, 503));
    const c = client({ url: b.url, backoffMs: 60_000, maxBackoffMs: 60_000, random: () => 1 });
    const pending = rejection(c.request({ method: 'GET', path: '/' }));
    await until(() => b.seen.length === 1);
    const started = Date.now();
    c.close();
    expect(code(await pending)).toBe(CLOSED);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('lets a process that made a request and never closed the client exit on its own within 2 s', async () => {
    const b = await backend((_req, res) => reply(res, 200, 'pong'));
    const started = Date.now();
    const child = spawn(process.execPath, [`${FIXTURES}client-exit.mjs`, String(b.port)], { cwd: FIXTURES, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', (exitCode, signal) => {
        clearTimeout(timer);
        resolve({ code: exitCode, signal });
      });
    });
    expect({ ...exit, stdout, stderr }).toEqual({ code: 0, signal: null, stdout: '200 pong\n', stderr: '' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(b.connections).toBe(1);
  });
});

describe('options', () => {
  it('rejects a URL that is not http: or https:', () => {
    const err = thrown(() => createClient({ url: 'ftp://example.com' }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'url' });
  });

  it('rejects an unknown option', () => {
    const err = thrown(() => createClient(bad({ url: 'http://127.0.0.1:1', retry: 1 })));
    expectError(err, { type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'retry' });
  });

  it('rejects a negative retries and a zero timeoutMs with RangeErrors naming them', () => {
    const r = thrown(() => createClient({ url: 'http://127.0.0.1:1', retries: -1 }));
    expectError(r, { type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'retries' });
    const t = thrown(() => createClient({ url: 'http://127.0.0.1:1', timeoutMs: 0 }));
    expectError(t, { type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'timeoutMs' });
  });

  it('rejects a request with a path that does not start with "/" without queueing it', async () => {
    const c = client({ url: 'http://127.0.0.1:1' });
    const err = await rejection(c.request({ method: 'GET', path: 'x' }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
    expect(err.message.startsWith('probekit: request() "path" ')).toBe(true);
  });
});
