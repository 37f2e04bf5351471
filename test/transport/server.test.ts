import { spawnSync } from 'node:child_process';
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, type HttpServer, isLoopback, listen, type ListenOptions, type Reply, type Request, type Route, safeEqual } from '../../src/transport/server.js';
import { bad, rejection, thrown, expectError } from '../support/helpers.js';

// ---------------------------------------------------------------------------------------
// Bookkeeping: every server and agent a test starts is released after it.
// ---------------------------------------------------------------------------------------

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

const servers: HttpServer[] = [];
const agents: Agent[] = [];
const netServers: NetServer[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(netServers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function start(options: Omit<ListenOptions, 'port'> & { port?: number }): Promise<HttpServer> {
  const s = await listen({ port: 0, ...options });
  servers.push(s);
  return s;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

/** One request on a fresh connection (or on `agent`); resolves with the whole answer. */
function call(
  server: HttpServer,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: Agent } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path, method: init.method ?? 'GET', headers: init.headers, agent: init.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

function errorBody(status: number, code: string, message: string): string {
  return JSON.stringify({ error: { status, code, message } });
}

const JSON_TYPE = 'application/json; charset=utf-8';

const hello: Route = { method: 'GET', path: '/hello', handle: () => ({ body: 'hello' }) };
const echo: Route = { method: 'POST', path: '/echo', handle: (req: Request) => ({ body: { got: req.json() } }) };

// ---------------------------------------------------------------------------------------

describe('routing', () => {
  it('answers a GET route with its reply, text/plain by default, with Content-Length', async () => {
    const s = await start({ routes: [hello] });
    const a = await call(s, '/hello');
    expect(a.status).toBe(200);
    expect(a.text).toBe('hello');
    expect(a.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(a.headers['content-length']).toBe('5');
  });

  it('gives the handler the path without the query, the parsed query and the method', async () => {
    let seen: { method: string; path: string; q: string | null; body: number } | undefined;
    const s = await start({
      routes: [{ method: 'GET', path: '/q', handle: (r) => ((seen = { method: r.method, path: r.path, q: r.query.get('a'), body: r.body.length }), {}) }],
    });
    const a = await call(s, '/q?a=1%202&b=3');
    expect(a.status).toBe(200);
    expect(a.body.length).toBe(0);
    expect(seen).toEqual({ method: 'GET', path: '/q', q: '1 2', body: 0 });
  });

  it('sends an object body as JSON and a Buffer as application/octet-stream', async () => {
    const s = await start({
      routes: [
        { method: 'GET', path: '/json', handle: () => ({ status: 201, body: { a: [1, 'x'] } }) },
        { method: 'GET', path: '/bin', handle: () => ({ body: Buffer.from([1, 2, 3]), headers: { 'X-Kind': 'raw' } }) },
      ],
    });
    const j = await call(s, '/json');
    expect([j.status, j.text, j.headers['content-type']]).toEqual([201, '{"a":[1,"x"]}', JSON_TYPE]);
    const b = await call(s, '/bin');
    expect([b.status, [...b.body], b.headers['content-type'], b.headers['x-kind']]).toEqual([200, [1, 2, 3], 'application/octet-stream', 'raw']);
  });

  it('keeps a Content-Type the handler set', async () => {
    const s = await start({ routes: [{ method: 'GET', path: '/t', handle: () => ({ body: 'a,b', headers: { 'content-type': 'text/csv' } }) }] });
    expect((await call(s, '/t')).headers['content-type']).toBe('text/csv');
  });

  it('answers 404 with the uniform JSON error body for a path with no route', async () => {
    const s = await start({ routes: [hello] });
    const a = await call(s, '/nothing?x=1');
    expect(a.status).toBe(404);
    expect(a.headers['content-type']).toBe(JSON_TYPE);
    expect(a.text).toBe(errorBody(404, 'not_found', 'no route for this path; served here: /hello'));
    expect(a.headers['content-length']).toBe(String(a.body.length));
  });

  it('answers 405 with an Allow header naming GET and HEAD for a POST to a GET route', async () => {
    const s = await start({ routes: [hello] });
    const a = await call(s, '/hello', { method: 'POST', body: 'x' });
    expect(a.status).toBe(405);
    expect(a.headers.allow).toBe('GET, HEAD');
    expect(a.headers['content-type']).toBe(JSON_TYPE);
    expect(a.text).toBe(errorBody(405, 'method_not_allowed', 'method POST is not allowed here; allowed: GET, HEAD'));
  });

  it('lists every method of a path in Allow, without HEAD when there is no GET', async () => {
    const s = await start({ routes: [{ ...echo, method: 'PUT' }, echo] });
    const a = await call(s, '/echo', { method: 'DELETE' });
    expect(a.status).toBe(405);
    expect(a.headers.allow).toBe('POST, PUT');
  });

  it('serves HEAD from a GET route with the same headers and no body', async () => {
    const s = await start({ routes: [{ method: 'GET', path: '/big', handle: () => ({ body: 'x'.repeat(3000) }) }] });
    const get = await call(s, '/big', { headers: { 'Accept-Encoding': 'gzip' } });
    const head = await call(s, '/big', { method: 'HEAD', headers: { 'Accept-Encoding': 'gzip' } });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers['content-encoding']).toBe('gzip');
    expect(head.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('gives a HEAD route precedence over the GET route of the same path', async () => {
    const s = await start({ routes: [hello, { method: 'HEAD', path: '/hello', handle: () => ({ status: 204 }) }] });
    expect((await call(s, '/hello', { method: 'HEAD' })).status).toBe(204);
  });

  it('names only the unguarded paths in a 404, so a stranger gets no map of the guarded ones', async () => {
    const s = await start({ routes: [hello, { method: 'POST', path: '/admin/gc', guarded: true, handle: () => ({ status: 204 }) }] });
    expect((await call(s, '/nothing')).text).toBe(errorBody(404, 'not_found', 'no route for this path; served here: /hello'));
  });

  it('answers a 404 to HEAD with headers only', async () => {
    const s = await start({ routes: [hello] });
    const a = await call(s, '/nope', { method: 'HEAD' });
    expect(a.status).toBe(404);
    expect(a.body.length).toBe(0);
    expect(a.headers['content-length']).toBe(String(errorBody(404, 'not_found', 'no route for this path; served here: /hello').length));
  });
});

describe('prefix routes, headers on every response, streamed replies', () => {
  it('serves a path ending in /* for every longer path under it, and 404 for the bare prefix', async () => {
    const seen: string[] = [];
    const s = await start({ routes: [{ method: 'POST', path: '/run/*', handle: (r) => (seen.push(r.path), { body: 'ran' }) }] });
    expect((await call(s, '/run/a%20b', { method: 'POST' })).text).toBe('ran');
    expect((await call(s, '/run/x/y', { method: 'POST' })).status).toBe(200);
    expect((await call(s, '/run/', { method: 'POST' })).status).toBe(404);
    expect((await call(s, '/run', { method: 'POST' })).status).toBe(404);
    const wrong = await call(s, '/run/a');
    expect([wrong.status, wrong.headers.allow]).toEqual([405, 'POST']);
    expect(seen).toEqual(['/run/a%20b', '/run/x/y']);
  });

  it('prefers an exact route over a prefix route for the same path', async () => {
    const s = await start({
      routes: [
        { method: 'GET', path: '/a/*', handle: () => ({ body: 'prefix' }) },
        { method: 'GET', path: '/a/b', handle: () => ({ body: 'exact' }) },
      ],
    });
    expect([(await call(s, '/a/b')).text, (await call(s, '/a/c')).text]).toEqual(['exact', 'prefix']);
  });

  it('sends the headers option with every response: replies, 404, 405, 413, 401 and 500', async () => {
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    const s = await start({
      headers,
      token: 't',
      maxBodyBytes: 4,
      routes: [
        hello,
        { method: 'POST', path: '/p', handle: () => ({ status: 204 }) },
        { method: 'GET', path: '/g', guarded: true, handle: () => ({}) },
        { method: 'GET', path: '/boom', handle: () => { throw new Error('x'); } },
      ],
      onError: () => {},
    });
    const answers = [
      await call(s, '/hello'),
      await call(s, '/nope'),
      await call(s, '/p'),
      await call(s, '/p', { method: 'POST', body: 'too long' }),
      await call(s, '/g'),
      await call(s, '/boom'),
    ];
    expect(answers.map((a) => [a.status, a.headers['cache-control'], a.headers['x-content-type-options']])).toEqual(
      [200, 404, 405, 413, 401, 500].map((status) => [status, 'no-store', 'nosniff']),
    );
  });

  it('streams a Readable body chunk by chunk, without Content-Length', async () => {
    const { Readable } = await import('node:stream');
    const s = await start({ routes: [{ method: 'GET', path: '/s', handle: () => ({ headers: { 'Content-Type': 'text/plain' }, body: Readable.from(['a', 'b', 'c']) }) }] });
    const a = await call(s, '/s');
    expect([a.status, a.text, a.headers['content-length'], a.headers['transfer-encoding']]).toEqual([200, 'abc', undefined, 'chunked']);
  });

  it('cuts the connection of a stream that fails half-way and reports the error', async () => {
    const { Readable } = await import('node:stream');
    const errors: string[] = [];
    const failing = (): Reply => ({
      body: new Readable({
        read() {
          this.push('part');
          this.destroy(new Error('disk gone'));
        },
      }),
    });
    const s = await start({ routes: [{ method: 'GET', path: '/s', handle: failing }], onError: (e) => errors.push(e.message) });
    const err = await rejection(call(s, '/s'));
    expect(err.message).toMatch(/aborted|socket hang up|ECONNRESET/);
    expect(errors).toEqual(['disk gone']);
  });
});

describe('request bodies', () => {
  it('reads a JSON body fully and hands it to the handler', async () => {
    const s = await start({ routes: [echo] });
    const a = await call(s, '/echo', { method: 'POST', body: '{"n":[1,2]}', headers: { 'content-type': 'application/json' } });
    expect(a.status).toBe(200);
    expect(a.text).toBe('{"got":{"n":[1,2]}}');
  });

  it('answers 400 invalid_json when json() meets a body that is not JSON', async () => {
    const s = await start({ routes: [echo] });
    const a = await call(s, '/echo', { method: 'POST', body: '{nope' });
    expect(a.status).toBe(400);
    expect(a.headers['content-type']).toBe(JSON_TYPE);
    expect(a.text).toBe(errorBody(400, 'invalid_json', 'the request body is not valid JSON'));
  });

  it('answers 413 and closes the connection for a body twice the limit', async () => {
    let called = 0;
    const s = await start({ maxBodyBytes: 1024, routes: [{ ...echo, handle: () => ((called += 1), {}) }] });
    const a = await call(s, '/echo', { method: 'POST', body: Buffer.alloc(2048, 120) });
    expect(a.status).toBe(413);
    expect(a.headers.connection).toBe('close');
    expect(a.text).toBe(errorBody(413, 'payload_too_large', 'the request body exceeds 1024 bytes'));
    expect(called).toBe(0);
  });

  it('answers 413 to a body twice the default limit of 64 KiB, declared or chunked, and closes the connection', async () => {
    const s = await start({ routes: [echo] });
    for (const chunked of [false, true]) {
      const a = await new Promise<{ status: number; text: string; closed: boolean }>((resolve, reject) => {
        const headers = chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(2 * 65536) };
        const req = request({ host: '127.0.0.1', port: s.port, path: '/echo', method: 'POST', headers, agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => {
            const socket = req.socket;
            if (socket === null || socket.destroyed) resolve({ status: res.statusCode ?? 0, text, closed: true });
            else socket.once('close', () => resolve({ status: res.statusCode ?? 0, text, closed: true }));
          });
        });
        req.on('error', reject);
        for (let i = 0; i < 8; i++) req.write(Buffer.alloc(16384, 97));
        req.end();
      });
      expect([chunked, a.status, a.text, a.closed]).toEqual([chunked, 413, errorBody(413, 'payload_too_large', 'the request body exceeds 65536 bytes'), true]);
    }
  });

  it('answers 413 for a chunked body over the limit that declares no length', async () => {
    const s = await start({ routes: [{ ...echo, maxBodyBytes: 10 }] });
    const a = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: '/echo', method: 'POST', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write('0123456789');
      req.end('abc');
    });
    expect(a.status).toBe(413);
    expect(a.text).toBe(errorBody(413, 'payload_too_large', 'the request body exceeds 10 bytes'));
  });

  it('accepts a body exactly at the limit', async () => {
    const s = await start({ maxBodyBytes: 8, routes: [{ ...echo, handle: (r) => ({ body: String(r.body.length) }) }] });
    const a = await call(s, '/echo', { method: 'POST', body: '12345678' });
    expect([a.status, a.text]).toEqual([200, '8']);
  });
});

describe('the bearer guard', () => {
  const guarded: Route = { method: 'GET', path: '/secret', guarded: true, handle: () => ({ body: 'in' }) };

  it('answers 401 with WWW-Authenticate: Bearer when the token is missing', async () => {
    const s = await start({ token: 's3cret', routes: [guarded] });
    const a = await call(s, '/secret');
    expect(a.status).toBe(401);
    expect(a.headers['www-authenticate']).toBe('Bearer');
    expect(a.headers['content-type']).toBe(JSON_TYPE);
    expect(a.text).toBe(errorBody(401, 'unauthorized', 'a valid bearer token is required'));
  });

  it('answers 401 for another scheme or no scheme, since no bearer token was given', async () => {
    const s = await start({ token: 's3cret', routes: [guarded] });
    for (const header of ['Basic czNjcmV0', 's3cret', 'Bearer']) {
      const a = await call(s, '/secret', { headers: { Authorization: header } });
      expect([header, a.status]).toEqual([header, 401]);
    }
  });

  it('answers 403 for a wrong bearer token, a prefix of the token and a longer one', async () => {
    const s = await start({ token: 's3cret', routes: [guarded] });
    for (const header of ['Bearer wrong', 'Bearer s3cre', 'Bearer s3cret2']) {
      const a = await call(s, '/secret', { headers: { Authorization: header } });
      expect([header, a.status, a.text]).toEqual([header, 403, errorBody(403, 'forbidden', 'the bearer token is not valid')]);
    }
  });

  it('serves the route for the right token, whatever the case of the scheme', async () => {
    const s = await start({ token: 's3cret', routes: [guarded] });
    for (const header of ['Bearer s3cret', 'bearer s3cret']) {
      const a = await call(s, '/secret', { headers: { Authorization: header } });
      expect([a.status, a.text]).toEqual([200, 'in']);
    }
  });

  it('does not ask for the token on routes that are not guarded', async () => {
    const s = await start({ token: 's3cret', routes: [guarded, hello] });
    expect((await call(s, '/hello')).status).toBe(200);
  });

  it('serves guarded routes without a token on a loopback host', async () => {
    const s = await start({ routes: [guarded] });
    expect((await call(s, '/secret')).status).toBe(200);
  });

  it('throws at listen() for guarded routes on a non-loopback host without a token', async () => {
    const err = await rejection(listen({ port: 0, host: '0.0.0.0', routes: [guarded] }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'token' });
    expect(err.message).toContain('"0.0.0.0"');
  });

  it('compares tokens with safeEqual: equal strings only, whatever their lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('', 'x'.repeat(10_000))).toBe(false);
    expect(safeEqual('é', 'e\u0301')).toBe(false);
  });

  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
      expect([h, isLoopback(h)]).toEqual([h, true]);
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', '::2', '::ffff:10.0.0.1']) {
      expect([h, isLoopback(h)]).toEqual([h, false]);
    }
  });
});

describe('gzip', () => {
  const big: Route = { method: 'GET', path: '/big', handle: () => ({ body: { items: 'y'.repeat(2000) } }) };
  const small: Route = { method: 'GET', path: '/small', handle: () => ({ body: 'z'.repeat(1023) }) };

  it('gzips a reply of 1 KiB or more when the client accepts gzip', async () => {
    const s = await start({ routes: [big] });
    const a = await call(s, '/big', { headers: { 'Accept-Encoding': 'br, gzip' } });
    expect(a.status).toBe(200);
    expect(a.headers['content-encoding']).toBe('gzip');
    expect(a.headers.vary).toBe('Accept-Encoding');
    expect(a.headers['content-length']).toBe(String(a.body.length));
    expect(gunzipSync(a.body).toString('utf8')).toBe(JSON.stringify({ items: 'y'.repeat(2000) }));
  });

  it('does not gzip when the client does not accept it, but still says the reply varies', async () => {
    const s = await start({ routes: [big] });
    for (const headers of [{}, { 'Accept-Encoding': 'gzip;q=0' }] as Record<string, string>[]) {
      const a = await call(s, '/big', { headers });
      expect(a.headers['content-encoding']).toBeUndefined();
      expect(a.headers.vary).toBe('Accept-Encoding');
      expect(a.text).toBe(JSON.stringify({ items: 'y'.repeat(2000) }));
    }
  });

  it('does not gzip a reply under 1 KiB', async () => {
    const s = await start({ routes: [small] });
    const a = await call(s, '/small', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(a.headers['content-encoding']).toBeUndefined();
    expect(a.headers.vary).toBeUndefined();
    expect(a.body.length).toBe(1023);
  });
});

describe('failures', () => {
  it('answers 500 with a generic message when a handler throws, and calls onError exactly once', async () => {
    const errors: Error[] = [];
    const boom = new Error('database password is hunter2');
    const s = await start({
      onError: (e) => errors.push(e),
      routes: [
        {
          method: 'GET',
          path: '/boom',
          handle: () => {
            throw boom;
          },
        },
      ],
    });
    const a = await call(s, '/boom');
    expect(a.status).toBe(500);
    expect(a.headers['content-type']).toBe(JSON_TYPE);
    expect(a.text).toBe(errorBody(500, 'internal_error', 'internal server error'));
    expect(errors).toEqual([boom]);
  });

  it('answers 500 for a handler that rejects with a non-Error, reported as an Error', async () => {
    const errors: Error[] = [];
    const s = await start({ onError: (e) => errors.push(e), routes: [{ method: 'GET', path: '/x', handle: () => Promise.reject(bad('nope')) }] });
    expect((await call(s, '/x')).status).toBe(500);
    expect(errors.map((e) => [e instanceof Error, e.message])).toEqual([[true, 'nope']]);
  });

  it('answers an HttpError with its status and code without calling onError', async () => {
    const errors: Error[] = [];
    const s = await start({
      onError: (e) => errors.push(e),
      routes: [
        {
          method: 'GET',
          path: '/x',
          handle: () => {
            throw new HttpError(409, 'the job is already running', 'job_running');
          },
        },
        {
          method: 'GET',
          path: '/y',
          handle: () => {
            throw new HttpError(403, 'no');
          },
        },
      ],
    });
    expect((await call(s, '/x')).text).toBe(errorBody(409, 'job_running', 'the job is already running'));
    const y = await call(s, '/y');
    expect([y.status, y.text]).toEqual([403, errorBody(403, 'forbidden', 'no')]);
    expect(errors).toEqual([]);
  });

  it('refuses an HttpError status outside 400 to 599', () => {
    const err = thrown(() => new HttpError(200, 'fine'));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe('probekit: HttpError status must be an integer from 400 to 599, got 200 (number)');
  });

  it('answers 500 and reports a reply that cannot be sent (a body JSON cannot encode)', async () => {
    const errors: Error[] = [];
    const s = await start({ onError: (e) => errors.push(e), routes: [{ method: 'GET', path: '/x', handle: () => ({ body: { n: 1n } }) }] });
    const a = await call(s, '/x');
    expect(a.status).toBe(500);
    expect(errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(TypeError);
  });

  it('survives an onError that throws', async () => {
    const s = await start({
      onError: () => {
        throw new Error('onError failed');
      },
      routes: [
        {
          method: 'GET',
          path: '/boom',
          handle: () => {
            throw new Error('boom');
          },
        },
        hello,
      ],
    });
    expect((await call(s, '/boom')).status).toBe(500);
    expect((await call(s, '/hello')).status).toBe(200);
  });

  it('destroys a connection that sends a malformed request and reports it', async () => {
    const errors: Error[] = [];
    const s = await start({ onError: (e) => errors.push(e), routes: [hello] });
    await new Promise<void>((resolve) => {
      const socket = connect(s.port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      socket.resume();
    });
    expect(errors.length).toBe(1);
    expect((errors[0] as Error & { code: string }).code).toMatch(/^HPE_/);
  });

  it('drops a connection whose request is not complete within requestTimeoutMs', async () => {
    const errors: Error[] = [];
    const s = await start({ requestTimeoutMs: 200, onError: (e) => errors.push(e), routes: [echo] });
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const socket = connect(s.port, '127.0.0.1', () => socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'));
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      socket.resume();
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errors.map((e) => (e as Error & { code: string }).code)).toEqual(['ERR_HTTP_REQUEST_TIMEOUT']);
  });

  it('rejects listen() with EADDRINUSE when the port is taken', async () => {
    const blocker = createNetServer();
    netServers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as { port: number }).port;
    const err = await rejection(listen({ port, routes: [hello] }));
    expect((err as Error & { code: string }).code).toBe('EADDRINUSE');
  });
});

describe('close()', () => {
  it('resolves with an open keep-alive connection, and again when called twice', async () => {
    const s = await listen({ port: 0, routes: [hello] });
    const agent = new Agent({ keepAlive: true });
    agents.push(agent);
    expect((await call(s, '/hello', { agent })).status).toBe(200);
    expect(Object.values(agent.freeSockets).flat().length).toBe(1);
    const first = s.close();
    expect(s.close()).toBe(first);
    await first;
    await s.close();
    expect(s.server.listening).toBe(false);
  });

  it('destroys a connection whose request is still in flight after the grace', async () => {
    let release: (() => void) | undefined;
    const s = await listen({
      port: 0,
      routes: [{ method: 'GET', path: '/slow', handle: () => new Promise<Reply>((resolve) => (release = () => resolve({ body: 'late' }))) }],
    });
    servers.push(s);
    const pending = call(s, '/slow').then(
      () => 'answered',
      () => 'reset',
    );
    for (let i = 0; i < 100 && release === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await s.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await pending).toBe('reset');
    release?.();
  });

  it('lets the process exit once closed, with the client keep-alive connection still open', () => {
    const started = Date.now();
    const run = spawnSync(process.execPath, [`${FIXTURES}server-exit.mjs`], { cwd: FIXTURES, encoding: 'utf8', timeout: 5000, killSignal: 'SIGKILL' });
    expect({ status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, signal: null, stdout: '200 pong\n', stderr: '' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports the host and the url, IPv6 in brackets', async () => {
    const s = await start({ routes: [hello] });
    expect(s.host).toBe('127.0.0.1');
    expect(s.url).toBe(`http://127.0.0.1:${s.port}`);
    const six = await start({ host: '::1', routes: [hello] }).catch(() => undefined);
    if (six !== undefined) expect(six.url).toBe(`http://[::1]:${six.port}`);
  });
});

describe('options', () => {
  const cases: [string, unknown, typeof TypeError | typeof RangeError, string, string | undefined][] = [
    ['an unknown key', { port: 0, routes: [], prot: 1 }, TypeError, 'PROBEKIT_UNKNOWN_OPTION', 'prot'],
    ['a port out of range', { port: 70000, routes: [] }, RangeError, 'PROBEKIT_OUT_OF_RANGE', 'port'],
    ['a port that is a string', { port: '80', routes: [] }, TypeError, 'PROBEKIT_INVALID_OPTION', 'port'],
    ['routes that are not an array', { port: 0, routes: {} }, TypeError, 'PROBEKIT_INVALID_OPTION', 'routes'],
    ['a route that is not an object', { port: 0, routes: [null] }, TypeError, 'PROBEKIT_INVALID_OPTION', 'routes[0]'],
    ['an unknown method', { port: 0, routes: [{ method: 'PATCH', path: '/', handle() {} }] }, TypeError, 'PROBEKIT_INVALID_OPTION', 'routes[0].method'],
    ['a path without a leading slash', { port: 0, routes: [{ method: 'GET', path: 'x', handle() {} }] }, TypeError, 'PROBEKIT_INVALID_OPTION', 'routes[0].path'],
    ['a route without a handler', { port: 0, routes: [{ method: 'GET', path: '/x' }] }, TypeError, 'PROBEKIT_INVALID_OPTION', 'routes[0].handle'],
    ['a duplicate method and path', { port: 0, routes: [hello, { ...hello }] }, TypeError, 'PROBEKIT_INVALID_OPTION', 'routes'],
    ['an empty token', { port: 0, routes: [], token: '' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'token'],
    ['a token with a space', { port: 0, routes: [], token: 'a b' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'token'],
    ['a negative maxBodyBytes', { port: 0, routes: [], maxBodyBytes: -1 }, RangeError, 'PROBEKIT_OUT_OF_RANGE', 'maxBodyBytes'],
    ['an onError that is not a function', { port: 0, routes: [], onError: 1 }, TypeError, 'PROBEKIT_INVALID_OPTION', 'onError'],
    ['headers with a non-string value', { port: 0, routes: [], headers: { 'X-A': 1 } }, TypeError, 'PROBEKIT_INVALID_OPTION', 'headers.X-A'],
    ['a prefix route whose * is not the last segment', { port: 0, routes: [{ method: 'GET', path: '/a*', handle() {} }] }, TypeError, 'PROBEKIT_INVALID_OPTION', 'routes[0].path'],
  ];
  for (const [what, options, type, code, option] of cases) {
    it(`rejects ${what}`, async () => {
      const err = await rejection(listen(bad(options)));
      expectError(err, { type, code, option });
    });
  }
});
