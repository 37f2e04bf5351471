import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { context, createErrorStore, createProbe, instrumentAllServers, instrumentServer, prometheus, type Probe, type Snapshot } from '../../src/index.js';
import { bad, expectError, thrown } from '../support/helpers.js';
import { type FaultRequest, setFaultHook } from '../../src/middleware/core.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, port: (server.address() as AddressInfo).port };
}

function registry(): Probe {
  const p = createProbe();
  cleanups.push(() => p.close());
  return p;
}

/** One request; resolves with the status and body. */
function call(port: number, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The duration histogram's series as `labels → count`. */
function counts(s: Snapshot, exportName = 'http_server_request_duration'): Array<[Record<string, string>, number]> {
  const f = s.metrics.find((m) => m.exportName === exportName);
  if (f === undefined || f.kind !== 'histogram') throw new Error(`no histogram ${exportName}`);
  return f.series.map((x) => [x.labels, x.value.count]);
}

const labels = (method: string, route: string, status: string, error = '') => ({
  http_request_method: method,
  url_scheme: 'http',
  http_route: route,
  http_response_status_code: status,
  error_type: error,
});

describe('instrumentServer()', () => {
  it('records every request under its route template, the rest under one constant route, methods outside the standard set as _OTHER', async () => {
    const p = registry();
    const { server, port } = await serve((req, res) => {
      res.statusCode = req.url === '/boom' ? 500 : req.url?.startsWith('/users/') ? 200 : 404;
      res.end();
    });
    instrumentServer(server, { registry: p, route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : req.url === '/boom' ? '/boom' : undefined) });
    for (const path of ['/users/1', '/users/2', '/users/3?x=1', '/nope', '/boom']) await call(port, path);
    await call(port, '/users/9', { method: 'PURGE' });
    expect(counts(p.snapshot())).toEqual([
      [labels('GET', '/users/:id', '200'), 3],
      [labels('GET', 'unmatched', '404'), 1],
      [labels('GET', '/boom', '500', '500'), 1],
      [labels('_OTHER', '/users/:id', '200'), 1],
    ]);
  });

  it('creates no new series for 100,000 random URLs', async () => {
    const p = registry();
    const { server, port } = await serve((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    instrumentServer(server, { registry: p });
    await call(port, '/first');
    const before = p.snapshot().metrics.reduce((n, f) => n + f.series.length, 0);
    // Each request is handled in-process through the instrumented emit: no sockets needed.
    for (let i = 0; i < 100_000; i++) {
      const req = { method: 'GET', url: `/${Math.random().toString(36).slice(2)}`, headers: {}, socket: {} } as unknown as IncomingMessage;
      const listeners: Record<string, Array<(this: unknown) => void>> = {};
      const res = {
        req,
        statusCode: 404,
        writableFinished: true,
        end() {},
        on(event: string, fn: () => void) {
          (listeners[event] ??= []).push(fn);
          return this;
        },
        off(event: string, fn: () => void) {
          listeners[event] = (listeners[event] ?? []).filter((f) => f !== fn);
          return this;
        },
      } as unknown as ServerResponse;
      server.emit('request', req, res);
      for (const fn of listeners.finish ?? []) fn.call(res);
    }
    const after = p.snapshot();
    expect(after.metrics.reduce((n, f) => n + f.series.length, 0)).toBe(before);
    expect(counts(after)).toEqual([[labels('GET', 'unmatched', '404'), 100_001]]);
  });

  it('runs the handler in a request context with the X-Request-Id it was sent, so notify() carries it', async () => {
    const p = registry();
    const store = createErrorStore({ probe: p });
    const notified: unknown[] = [];
    store.onError((record) => notified.push(record.context));
    const seen: unknown[] = [];
    const { server, port } = await serve((_req, res) => {
      setTimeout(() => {
        seen.push(context.get());
        store.notify(new Error('inside'));
        res.end();
      }, 1);
    });
    instrumentServer(server, { registry: p, route: () => '/r' });
    await call(port, '/r', { headers: { 'X-Request-Id': 'req-42' } });
    expect(seen).toEqual([{ requestId: 'req-42', method: 'GET', route: '/r' }]);
    expect(notified).toEqual([{ requestId: 'req-42', method: 'GET', route: '/r' }]);
  });

  it.each([
    { what: 'longer than 128 characters', id: 'x'.repeat(129) },
    { what: 'holding a character outside the safe set', id: 'a b<script>' },
  ])('generates a request id when the one sent is $what', async ({ id }) => {
    const p = registry();
    let got: unknown;
    const { server, port } = await serve((_req, res) => {
      got = context.get('requestId');
      res.end();
    });
    instrumentServer(server, { registry: p });
    await call(port, '/', { headers: { 'X-Request-Id': id } });
    expect(got).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('records a request the client aborted once, as 499 with error_type aborted, never as a 200, and the active gauge goes back to 0', async () => {
    const p = registry();
    let ended!: () => void;
    const closed = new Promise<void>((resolve) => (ended = resolve));
    const { server, port } = await serve((_req, res) => {
      res.on('close', () => setImmediate(ended));
      setTimeout(() => {
        if (!res.destroyed) res.end('late');
      }, 300);
    });
    instrumentServer(server, { registry: p, route: () => '/slow' });
    const req = request({ host: '127.0.0.1', port, path: '/slow', agent: false });
    req.on('error', () => {});
    req.end();
    setTimeout(() => req.destroy(), 50);
    await closed;
    await new Promise((r) => setTimeout(r, 350)); // past the handler's late end()
    expect(counts(p.snapshot())).toEqual([[labels('GET', '/slow', '499', 'aborted'), 1]]);
    const active = p.snapshot().metrics.find((m) => m.exportName === 'http_server_active_requests');
    expect(active?.kind === 'counter' && active.series.map((x) => x.value)).toEqual([0]);
  });

  it('runs handlers outside any request context with context: false, and records the same series', async () => {
    const p = registry();
    const seen: unknown[] = [];
    const { server, port } = await serve((_req, res) => {
      seen.push(context.get());
      res.end();
    });
    instrumentServer(server, { registry: p, context: false, route: () => '/x' });
    await call(port, '/x', { headers: { 'X-Request-Id': 'abc' } });
    expect(seen).toEqual([undefined]);
    expect(counts(p.snapshot())).toEqual([[labels('GET', '/x', '200'), 1]]);
  });

  it('counts requests in flight in http_server_active_requests', async () => {
    const p = registry();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { server, port } = await serve((_req, res) => void gate.then(() => res.end()));
    instrumentServer(server, { registry: p });
    const pending = [call(port, '/a'), call(port, '/b')];
    for (let i = 0; i < 200; i++) {
      const a = p.snapshot().metrics.find((m) => m.exportName === 'http_server_active_requests');
      if (a?.kind === 'counter' && a.series[0]?.value === 2) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const during = p.snapshot().metrics.find((m) => m.exportName === 'http_server_active_requests');
    expect(during?.kind === 'counter' && during.series).toEqual([{ labels: { http_request_method: 'GET', url_scheme: 'http' }, value: 2 }]);
    release();
    await Promise.all(pending);
  });

  it('leaves out skipped and excluded paths, adds static labels and collapses statuses to their class', async () => {
    const p = registry();
    const { server, port } = await serve((req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 201;
      res.end();
    });
    instrumentServer(server, { registry: p, excludePaths: ['/health', /^\/internal\//], skip: (req) => req.headers['x-probe'] === '1', labels: { service: 'api' }, statusClass: true });
    for (const path of ['/health', '/internal/x', '/a', '/missing']) await call(port, path);
    await call(port, '/a', { headers: { 'x-probe': '1' } });
    expect(counts(p.snapshot())).toEqual([
      [{ ...labels('GET', 'unmatched', '2xx'), service: 'api' }, 1],
      [{ ...labels('GET', 'unmatched', '4xx'), service: 'api' }, 1],
    ]);
  });

  it("names the series as express-prom-bundle does with naming: 'classic', and takes the route from normalizePath when none was found", async () => {
    const p = registry();
    const { server, port } = await serve((_req, res) => res.end());
    instrumentServer(server, { registry: p, naming: 'classic', normalizePath: (req) => (req.url?.startsWith('/docs/') ? '/docs/#page' : undefined) });
    await call(port, '/docs/intro');
    await call(port, '/other');
    expect(counts(p.snapshot(), 'http_request_duration')).toEqual([
      [{ method: 'GET', path: '/docs/#page', status_code: '200' }, 1],
      [{ method: 'GET', path: 'unmatched', status_code: '200' }, 1],
    ]);
    expect(p.snapshot().metrics.map((m) => m.exportName)).not.toContain('http_server_active_requests');
  });

  it('counts a request once when the server is instrumented twice, and stops after close()', async () => {
    const p = registry();
    const { server, port } = await serve((_req, res) => res.end());
    const first = instrumentServer(server, { registry: p });
    const second = instrumentServer(server, { registry: p });
    await call(port, '/');
    second.close();
    first.close();
    await call(port, '/');
    expect(counts(p.snapshot())).toEqual([[labels('GET', 'unmatched', '200'), 1]]);
  });

  it('keeps serving when a route or skip function throws', async () => {
    const p = registry();
    const { server, port } = await serve((_req, res) => res.end('ok'));
    instrumentServer(server, {
      registry: p,
      route: () => {
        throw new Error('route bug');
      },
      skip: () => {
        throw new Error('skip bug');
      },
    });
    expect(await call(port, '/x')).toEqual({ status: 200, body: 'ok' });
    expect(counts(p.snapshot())).toEqual([[labels('GET', 'unmatched', '200'), 1]]);
  });

  it.each([
    { what: 'a server that is not one', call: () => instrumentServer(bad({})), type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined },
    { what: "naming 'prom'", call: () => instrumentServer(createServer(), bad({ naming: 'prom' })), type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'naming' },
    { what: 'a static label name with a dash', call: () => instrumentServer(createServer(), { labels: { 'a-b': 'x' } }), type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'labels.a-b' },
    { what: 'an excluded path that is a number', call: () => instrumentServer(createServer(), bad({ excludePaths: [5] })), type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'excludePaths[]' },
    { what: 'an unknown option', call: () => instrumentServer(createServer(), bad({ routes: [] })), type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'routes' },
  ])('throws for $what', ({ call: run, type, code, option }) => {
    expectError(thrown(run), { type, code, option });
  });
});

describe('instrumentAllServers()', () => {
  it('records the requests of every server with no patching, leaves out probekit\'s own servers, and stops on close()', async () => {
    const p = registry();
    const all = instrumentAllServers({ registry: p, route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) });
    cleanups.push(() => all.close());
    const { server, port } = await serve((_req, res) => res.end());
    const emit = server.emit;
    await call(port, '/users/1');
    await call(port, '/other');
    const metrics = await prometheus.serve({ port: 0, registry: registry() });
    cleanups.push(() => metrics.close());
    await fetch(metrics.url);
    expect(server.emit).toBe(emit);
    all.close();
    await call(port, '/users/2');
    expect(counts(p.snapshot())).toEqual([
      [labels('GET', '/users/:id', '200'), 1],
      [labels('GET', 'unmatched', '200'), 1],
    ]);
  });

  it("counts a request an adapter also sees once, under the adapter's route", async () => {
    const p = registry();
    const all = instrumentAllServers({ registry: p });
    cleanups.push(() => all.close());
    const { server, port } = await serve((_req, res) => res.end());
    instrumentServer(server, { registry: p, route: () => '/adapter' });
    await call(port, '/x');
    expect(counts(p.snapshot())).toEqual([[labels('GET', '/adapter', '200'), 1]]);
    const active = p.snapshot().metrics.find((m) => m.exportName === 'http_server_active_requests');
    expect(active?.kind === 'counter' && active.series.map((x) => x.value)).toEqual([0]);
  });

  it('throws when it is already on in the process', () => {
    const all = instrumentAllServers({ registry: registry() });
    cleanups.push(() => all.close());
    expectError(
      thrown(() => instrumentAllServers()),
      { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' },
    );
  });
});

describe('The fault hook (for the admin server\'s fault injection)', () => {
  it('holds the handler back by the delay, in its request context, or answers the error itself with error_type injected_fault; a hook that throws or answers nonsense injects nothing', async () => {
    const p = registry();
    const asked: FaultRequest[] = [];
    setFaultHook((r) => {
      asked.push(r);
      if (r.path === '/slow') return { kind: 'delay', ms: 30 };
      if (r.path === '/fail') return { kind: 'error', status: 503, message: 'injected by a test' };
      if (r.path === '/throw') throw new Error('injector bug');
      if (r.path === '/nonsense') return { kind: 'error', status: 200 } as never;
      return undefined;
    });
    cleanups.push(() => setFaultHook(undefined));
    const handled: string[] = [];
    const { server, port } = await serve((req, res) => {
      handled.push(`${req.url} ${String(context.get('route'))}`);
      res.end('handled');
    });
    instrumentServer(server, { registry: p, route: (req) => req.url });
    const started = performance.now();
    expect(await call(port, '/slow')).toEqual({ status: 200, body: 'handled' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(await call(port, '/fail')).toEqual({ status: 503, body: '{"error":"injected by a test"}' });
    expect(await call(port, '/throw')).toEqual({ status: 200, body: 'handled' });
    expect(await call(port, '/nonsense')).toEqual({ status: 200, body: 'handled' });
    expect(handled).toEqual(['/slow /slow', '/throw /throw', '/nonsense /nonsense']);
    expect(asked.map((r) => [r.kind, r.method, r.route, r.path])).toEqual([
      ['http', 'GET', '/slow', '/slow'],
      ['http', 'GET', '/fail', '/fail'],
      ['http', 'GET', '/throw', '/throw'],
      ['http', 'GET', '/nonsense', '/nonsense'],
    ]);
    expect(counts(p.snapshot())).toEqual([
      [labels('GET', '/slow', '200'), 1],
      [labels('GET', '/fail', '503', 'injected_fault'), 1],
      [labels('GET', '/throw', '200'), 1],
      [labels('GET', '/nonsense', '200'), 1],
    ]);
    const slow = p.snapshot().metrics.find((m) => m.exportName === 'http_server_request_duration');
    expect(slow?.kind === 'histogram' && (slow.series[0]?.value.sum ?? 0) >= 0.029).toBe(true);
  });
});
