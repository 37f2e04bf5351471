import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createProbe,
  type MetricsServer,
  OPENMETRICS_CONTENT_TYPE,
  type Probe,
  prometheus,
  type ServeOptions,
  TEXT_CONTENT_TYPE,
} from '../../src/index.js';
import { bad, rejection, expectError } from '../support/helpers.js';

// ---------------------------------------------------------------------------------------
// Bookkeeping: every server, registry and agent a test makes is released after it.
// ---------------------------------------------------------------------------------------

const started: MetricsServer[] = [];
const plain: Server[] = [];
const probes: Probe[] = [];
const registries: client.Registry[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  await Promise.all(
    started.splice(0).map((s) => {
      s.server.closeAllConnections();
      return s.close();
    }),
  );
  await Promise.all(
    plain.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
  for (const p of probes.splice(0)) p.close();
  for (const r of registries.splice(0)) r.clear();
});

/** A registry whose exposition does not change between scrapes (fixed clock, no failing reads), with non-ASCII bytes. */
function fixture(): Probe {
  const p = createProbe({ clock: () => 1_000_000 });
  probes.push(p);
  const requests = p.counter({ name: 'requests', monotonic: true, labels: ['route'] });
  requests.labels({ route: '/a' }).inc(3);
  requests.labels({ route: '/ünïcødé/🚀' }).inc();
  p.histogram({ name: 'latency', unit: 'ms', buckets: [10, 100] }).observe(42);
  p.metric({ name: 'version', value: '1.2.3' });
  return p;
}

/** `prometheus.serve()` on 127.0.0.1, port 0, closed after the test. */
async function start(options: Partial<ServeOptions> = {}): Promise<MetricsServer> {
  const server = await prometheus.serve({ port: 0, registry: fixture(), ...options });
  started.push(server);
  return server;
}

/** A plain node:http server on 127.0.0.1:0 around `handler`, closed after the test; returns its port. */
async function mount(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  plain.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The raw bytes, not decoded. */
  readonly body: Buffer;
}

interface Send {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly agent?: Agent | false;
}

/** One node:http request (no fetch: it would add Accept-Encoding and decode), bounded to 10 s. */
function send(port: number, { method = 'GET', path = '/metrics', headers = {}, agent = false }: Send = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}


/** Resolves after `ms` milliseconds. */
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The Accept header Prometheus 2.42 sends by default. */
const PROMETHEUS_2_42_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

// ---------------------------------------------------------------------------------------

describe('prometheus.serve()', () => {
  it('listens on a real port on 127.0.0.1 and reports its URL', async () => {
    const s = await start();
    expect(s.port).toBeGreaterThan(0);
    expect(s.port).toBe((s.server.address() as AddressInfo).port);
    expect(s.host).toBe('127.0.0.1');
    expect(s.url).toBe(`http://127.0.0.1:${s.port}/metrics`);
    expect(s.server.listening).toBe(true);
  });

  it('answers a plain GET with 200 and the text format 0.0.4, byte for byte what text() writes', async () => {
    const registry = fixture();
    const s = await start({ registry });
    const reply = await send(s.port);
    const expected = await prometheus.text({ registry });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(TEXT_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers.vary).toBe('Accept, Accept-Encoding');
    expect(reply.body.toString('utf8')).toBe(expected);
    // Content-Length counts bytes, not characters (the fixture has non-ASCII label values).
    expect(reply.headers['content-length']).toBe(String(Buffer.byteLength(expected)));
    expect(Buffer.byteLength(expected)).toBeGreaterThan(expected.length);
    expect(reply.body.toString('utf8')).toContain('requests_total{route="/ünïcødé/🚀"} 1\n');
  });

  it('answers the Accept header of Prometheus 2.42 with OpenMetrics 1.0 ending in # EOF', async () => {
    const registry = fixture();
    const s = await start({ registry });
    const reply = await send(s.port, { headers: { accept: PROMETHEUS_2_42_ACCEPT } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(OPENMETRICS_CONTENT_TYPE).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const body = reply.body.toString('utf8');
    expect(body.endsWith('\n# EOF\n')).toBe(true);
    expect(body).toBe(await prometheus.text({ registry, openMetrics: true }));
    expect(reply.headers['content-length']).toBe(String(reply.body.length));
  });

  it.each([
    { accept: 'text/plain', openMetrics: false },
    { accept: 'text/plain;version=0.0.4', openMetrics: false },
    { accept: '*/*', openMetrics: false },
    { accept: 'application/openmetrics-text', openMetrics: true },
    { accept: 'application/openmetrics-text; version=1.0.0', openMetrics: true },
    { accept: 'application/openmetrics-text;q=0,text/plain', openMetrics: false },
    { accept: 'application/openmetrics-text;version=1.0.0;q=0', openMetrics: false },
    { accept: 'application/openmetrics-text;q=0.4,text/plain;q=0.5', openMetrics: false },
    { accept: 'application/openmetrics-text;q=0.5,*/*;q=0.8', openMetrics: false },
    { accept: 'text/plain;q=0.5,application/openmetrics-text;q=0.5', openMetrics: true },
  ])('answers Accept: $accept with OpenMetrics $openMetrics', async ({ accept, openMetrics }) => {
    const s = await start();
    const reply = await send(s.port, { headers: { accept } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE);
    expect(reply.body.toString('utf8').endsWith('# EOF\n')).toBe(openMetrics);
  });

  it.each([
    { format: 'text', accept: 'text/plain' },
    { format: 'OpenMetrics', accept: PROMETHEUS_2_42_ACCEPT },
  ])('gzips the $format body for Accept-Encoding: gzip, and it gunzips to the plain body', async ({ accept }) => {
    const s = await start();
    const plainReply = await send(s.port, { headers: { accept } });
    const zipped = await send(s.port, { headers: { accept, 'accept-encoding': 'gzip' } });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers['content-type']).toBe(plainReply.headers['content-type']);
    expect(zipped.headers.vary).toBe('Accept, Accept-Encoding');
    expect(zipped.headers['content-length']).toBe(String(zipped.body.length));
    expect(zipped.body[0]).toBe(0x1f);
    expect(zipped.body[1]).toBe(0x8b);
    expect(gunzipSync(zipped.body).equals(plainReply.body)).toBe(true);
  });

  it.each([
    { acceptEncoding: 'gzip', gzip: true },
    { acceptEncoding: 'GZIP', gzip: true },
    { acceptEncoding: 'br, gzip;q=0.5', gzip: true },
    { acceptEncoding: '*', gzip: true },
    { acceptEncoding: 'gzip;q=0', gzip: false },
    { acceptEncoding: 'gzip; q=0.000', gzip: false },
    { acceptEncoding: 'identity', gzip: false },
    { acceptEncoding: 'br, deflate', gzip: false },
  ])('answers Accept-Encoding: $acceptEncoding gzipped: $gzip', async ({ acceptEncoding, gzip }) => {
    const s = await start();
    const reply = await send(s.port, { headers: { 'accept-encoding': acceptEncoding } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBe(gzip ? 'gzip' : undefined);
    const text = (gzip ? gunzipSync(reply.body) : reply.body).toString('utf8');
    expect(text).toContain('# TYPE requests_total counter\n');
  });

  it('does not gzip when gzip is refused with q=0 even though * is accepted', async () => {
    const s = await start();
    const reply = await send(s.port, { headers: { 'accept-encoding': 'gzip;q=0, *' } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBeUndefined();
  });

  it.each<{ what: string; headers: Record<string, string> }>([
    { what: 'plain', headers: {} },
    { what: 'gzipped', headers: { 'accept-encoding': 'gzip' } },
    { what: 'OpenMetrics', headers: { accept: PROMETHEUS_2_42_ACCEPT } },
  ])('answers HEAD with 200, the headers of the $what GET (same Content-Length) and no body', async ({ headers }) => {
    const s = await start();
    const get = await send(s.port, { headers });
    const head = await send(s.port, { method: 'HEAD', headers });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(get.body.length).toBeGreaterThan(0);
    for (const name of ['content-type', 'content-length', 'content-encoding', 'cache-control', 'vary']) {
      expect(head.headers[name], name).toBe(get.headers[name]);
    }
    expect(head.headers['content-length']).toBe(String(get.body.length));
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])('answers %s with a JSON 405 and Allow: GET, HEAD', async (method) => {
    const s = await start();
    const reply = await send(s.port, { method });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD');
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(reply.body.toString('utf8'))).toEqual({
      error: { status: 405, code: 'method_not_allowed', message: `method ${method} is not allowed here; allowed: GET, HEAD` },
    });
  });

  it.each(['/', '/metric', '/metrics/', '/metricsx', '/METRICS', '/other/metrics', '/favicon.ico'])('answers GET %s with a JSON 404 naming the metrics path', async (path) => {
    const s = await start();
    const reply = await send(s.port, { path });
    expect(reply.status).toBe(404);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(reply.body.toString('utf8'))).toEqual({ error: { status: 404, code: 'not_found', message: 'no route for this path; served here: /metrics' } });
  });

  it.each(['/metrics?', '/metrics?x=1', '/metrics?name[]=a&name[]=b', '/metrics?/other'])('accepts the query string in GET %s', async (path) => {
    const registry = fixture();
    const s = await start({ registry });
    const reply = await send(s.port, { path });
    expect(reply.status).toBe(200);
    expect(reply.body.toString('utf8')).toBe(await prometheus.text({ registry }));
  });

  it('serves at a custom path, and 404s the default one', async () => {
    const s = await start({ path: '/probe/metrics' });
    expect(s.url).toBe(`http://127.0.0.1:${s.port}/probe/metrics`);
    expect((await send(s.port, { path: '/probe/metrics' })).status).toBe(200);
    const miss = await send(s.port, { path: '/metrics' });
    expect(miss.status).toBe(404);
    expect(JSON.parse(miss.body.toString('utf8'))).toEqual({ error: { status: 404, code: 'not_found', message: 'no route for this path; served here: /probe/metrics' } });
  });

  it('passes windowQuantiles on to the exposition', async () => {
    const s = await start({ windowQuantiles: true });
    expect((await send(s.port)).body.toString('utf8')).toContain('\nlatency_seconds_window{quantile="0.5"} 0.042\n');
  });

  it('serves concurrent scrapes the same body', async () => {
    const s = await start();
    const replies = await Promise.all(Array.from({ length: 8 }, () => send(s.port)));
    for (const r of replies) {
      expect(r.status).toBe(200);
      expect(r.body.equals((replies[0] as Reply).body)).toBe(true);
    }
  });

  it('stops with close(): the port is released and a new connection is refused', async () => {
    const s = await prometheus.serve({ port: 0, registry: fixture() });
    const port = s.port;
    expect((await send(port)).status).toBe(200);
    await s.close();
    expect(s.server.listening).toBe(false);
    const err = await rejection(send(port));
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('stops with close() while a keep-alive connection sits idle', async () => {
    const s = await prometheus.serve({ port: 0, registry: fixture() });
    const agent = new Agent({ keepAlive: true });
    agents.push(agent);
    const reply = await send(s.port, { agent });
    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe('keep-alive');
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await Promise.race([closing, sleep(5_000)]);
    expect(closed).toBe(true);
  });

  it('rejects with EADDRINUSE when the port is taken, and leaves the first server serving', async () => {
    const first = await start();
    const err = await rejection(prometheus.serve({ port: first.port, registry: fixture() }));
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect((await send(first.port)).status).toBe(200);
  });

  it('survives a slow client that disconnects in the middle of a large response', async () => {
    const registry = fixture();
    // A 32 MiB body: more than the loopback socket buffers hold, so the client really
    // leaves while the server is still writing.
    registry.metric({ name: 'blob', value: 'x'.repeat(32 * 2 ** 20) });
    const errors: Error[] = [];
    const s = await start({ registry, onError: (e) => errors.push(e) });
    const responses: ServerResponse[] = [];
    s.server.on('request', (_req, res: ServerResponse) => responses.push(res));

    let status = 0;
    let contentLength = 0;
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: '/metrics', agent: false }, (res) => {
        status = res.statusCode ?? 0;
        contentLength = Number(res.headers['content-length']);
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        res.once('data', () => {
          res.pause(); // a slow reader: stops reading after the first chunk...
          setTimeout(() => {
            req.destroy(); // ...and goes away
            resolve();
          }, 100);
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
      req.on('error', (err) => {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
      });
      req.end();
    });
    expect(status).toBe(200);
    expect(contentLength).toBeGreaterThan(32 * 2 ** 20);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(contentLength); // it left in the middle of the body
    const res = responses[0] as ServerResponse;
    if (!res.closed) await new Promise((resolve) => res.once('close', resolve));
    expect(errors).toEqual([]);
    // The server goes on serving.
    const next = await send(s.port, { path: '/metrics', headers: { 'accept-encoding': 'gzip' } });
    expect(next.status).toBe(200);
    expect(gunzipSync(next.body).length).toBeGreaterThan(32 * 2 ** 20);
  });

  it('writes nothing and reports nothing when the client leaves before the scrape is done', async () => {
    const p = fixture();
    const reg = new client.Registry();
    registries.push(reg);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let collected = 0;
    new client.Gauge({
      name: 'slow',
      help: 'Slow to collect',
      registers: [reg],
      async collect() {
        if (collected++ === 0) await gate;
        this.set(1);
      },
    });
    const errors: Error[] = [];
    const s = await start({ registry: [p, reg], onError: (e) => errors.push(e) });
    const responses: ServerResponse[] = [];
    s.server.on('request', (_req, res: ServerResponse) => responses.push(res));

    const req = request({ host: '127.0.0.1', port: s.port, path: '/metrics', agent: false });
    const clientError = new Promise<unknown>((resolve) => req.on('error', resolve));
    req.end();
    while (responses.length === 0) await sleep(5);
    const res = responses[0] as ServerResponse;
    req.destroy();
    await clientError;
    if (!res.closed) await new Promise((resolve) => res.once('close', resolve));
    release();
    await sleep(50); // the scrape completes and finds the response gone
    expect(res.headersSent).toBe(false);
    expect(errors).toEqual([]);
    const next = await send(s.port);
    expect(next.status).toBe(200);
    expect(next.body.toString('utf8').endsWith('\nslow 1\n')).toBe(true);
  });
});

describe('prometheus.handler() in a node:http server of the application', () => {
  it('serves the exposition on whatever path it is mounted at, negotiating the format', async () => {
    const registry = fixture();
    const port = await mount(prometheus.handler({ registry }));
    const text = await send(port, { path: '/anything' });
    expect(text.status).toBe(200);
    expect(text.headers['content-type']).toBe(TEXT_CONTENT_TYPE);
    expect(text.body.toString('utf8')).toBe(await prometheus.text({ registry }));
    const om = await send(port, { path: '/', headers: { accept: PROMETHEUS_2_42_ACCEPT, 'accept-encoding': 'gzip' } });
    expect(om.status).toBe(200);
    expect(om.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(gunzipSync(om.body).toString('utf8')).toBe(await prometheus.text({ registry, openMetrics: true }));
  });

  it('answers 405 to POST and HEAD like the standalone server', async () => {
    const port = await mount(prometheus.handler({ registry: fixture() }));
    const post = await send(port, { method: 'POST', path: '/metrics' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await send(port, { method: 'HEAD', path: '/metrics' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it('leaves the rest of the application to the application', async () => {
    const metrics = prometheus.handler({ registry: fixture() });
    const port = await mount((req, res) => {
      if (req.url === '/metrics') return metrics(req, res);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('app\n');
    });
    expect((await send(port, { path: '/' })).body.toString('utf8')).toBe('app\n');
    expect((await send(port, { path: '/metrics' })).body.toString('utf8')).toContain('# TYPE requests_total counter\n');
  });
});

// ---------------------------------------------------------------------------------------
// Bad serve() options
// ---------------------------------------------------------------------------------------

const ERRORS = { TypeError, RangeError } as const;

const badServe: readonly { what: string; options: unknown; type: keyof typeof ERRORS; code: string; option: string | undefined }[] = [
  { what: 'port -1', options: { port: -1 }, type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'port' },
  { what: 'port 70000', options: { port: 70000 }, type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'port' },
  { what: 'port 1.5', options: { port: 1.5 }, type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'port' },
  { what: "port 'x'", options: { port: 'x' }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'port' },
  { what: 'no port', options: {}, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'port' },
  { what: "path 'metrics'", options: { port: 0, path: 'metrics' }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'path' },
  { what: 'host 5', options: { port: 0, host: 5 }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'host' },
  { what: 'null options', options: null, type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined },
  { what: 'windowQuantiles 1', options: { port: 0, windowQuantiles: 1 }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'windowQuantiles' },
  { what: 'registry 5', options: { port: 0, registry: 5 }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'registry' },
  { what: 'an unknown option', options: { port: 0, colour: 'red' }, type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'colour' },
];

describe('bad serve() options', () => {
  it.each(badServe)('rejects $what with a $type', async ({ options, type, code, option }) => {
    const err = await rejection(
      prometheus.serve(bad(options)).then(async (s) => {
        await s.close(); // never left listening if it wrongly started
        return s;
      }),
    );
    expectError(err, { type: ERRORS[type], code, option });
  });
});
