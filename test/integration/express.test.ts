/**
 * expressMetrics() and expressErrors() in real Express 4.22 and 5.3 apps over real HTTP.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { context, createProbe, errors, expressErrors, expressMetrics, type Probe, type Snapshot } from '../../src/index.js';
import { setFaultHook } from '../../src/middleware/core.js';

const load = createRequire(import.meta.url);
type Express = ((...args: unknown[]) => unknown) & { Router: (...args: unknown[]) => unknown };
const versions: Array<[string, Express]> = [
  ['Express 4.22', load('express4') as Express],
  ['Express 5.3', load('express') as Express],
];

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Starts `a` on a free loopback port, closed after the test; resolves with its base URL. */
async function listen(a: { listen: (port: number, host: string, cb: () => void) => Server }): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = a.listen(0, '127.0.0.1', () => resolve(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The duration histogram's series as `route status error → count`, sorted. */
function routes(s: Snapshot): string[] {
  const f = s.metrics.find((m) => m.exportName === 'http_server_request_duration');
  if (f === undefined || f.kind !== 'histogram') return [];
  return f.series.map((x) => `${x.labels.http_request_method} ${x.labels.http_route} ${x.labels.http_response_status_code} ${x.labels.error_type || '-'} ×${x.value.count}`).sort();
}

describe('Express 4.22 without the express option', () => {
  it('still labels routes that are not mounted, from req.route.path, and the rest as unmatched', async () => {
    const express = versions[0]?.[1] as Express;
    const p = createProbe();
    cleanups.push(() => p.close());
    const a = express() as { use: (...x: unknown[]) => void; get: (...x: unknown[]) => void; listen: (port: number, host: string, cb: () => void) => Server };
    a.use(expressMetrics({ registry: p }));
    a.get('/plain/:id', (_req: unknown, res: { send: (b: string) => void }) => res.send('x'));
    const url = await listen(a);
    await fetch(`${url}/plain/1`);
    await fetch(`${url}/missing`);
    expect(routes(p.snapshot())).toEqual(['GET /plain/:id 200 - ×1', 'GET unmatched 404 - ×1']);
  });
});

describe.each(versions)('%s', (version, express) => {
  const five = version.startsWith('Express 5');

  async function app(p: Probe): Promise<string> {
    const a = express() as { use: (...x: unknown[]) => void; get: (...x: unknown[]) => void; listen: (port: number, host: string, cb: () => void) => Server };
    a.use(expressMetrics({ registry: p, express }));
    a.get('/users/:id', (_req: unknown, res: { send: (b: string) => void }) => res.send('user'));
    const api = express.Router() as { use: (...x: unknown[]) => void };
    const items = express.Router({ mergeParams: true }) as { get: (...x: unknown[]) => void };
    items.get('/:id', (_req: unknown, res: { send: (b: string) => void }) => res.send(`item ${String(context.get('route'))}`));
    api.use('/:ver/items', items);
    a.use('/api', api);
    a.get(/^\/re\/\d+$/, (_req: unknown, res: { send: (b: string) => void }) => res.send('re'));
    a.get(['/one', '/two'], (_req: unknown, res: { send: (b: string) => void }) => res.send('array'));
    a.get('/boom', () => {
      throw new TypeError('boom');
    });
    if (five) {
      a.get('/async', async () => {
        await Promise.resolve();
        throw new RangeError('rejected');
      });
    }
    a.use(expressErrors());
    return listen(a);
  }

  function registry(): Probe {
    const p = createProbe();
    cleanups.push(() => p.close());
    return p;
  }

  it('labels each request with its route template, mounted routers included, and every other request as unmatched', async () => {
    const p = registry();
    const url = await app(p);
    const bodies: string[] = [];
    for (const path of ['/users/1', '/users/2', '/api/v1/items/42', '/api/v2/items/7', '/re/123', '/one', '/two', '/nope', '/api/v1/nothing']) {
      bodies.push(`${(await fetch(`${url}${path}`)).status}`);
    }
    expect(bodies).toEqual(['200', '200', '200', '200', '200', '200', '200', '404', '404']);
    expect(routes(p.snapshot())).toEqual(
      [
        'GET /users/:id 200 - ×2',
        'GET /api/:ver/items/:id 200 - ×2',
        'GET /^\\/re\\/\\d+$/ 200 - ×1',
        ...(five ? ['GET /one 200 - ×1', 'GET /two 200 - ×1'] : ['GET [/one,/two] 200 - ×2']),
        'GET unmatched 404 - ×2',
      ].sort(),
    );
  });

  it('gives the handler the route template in its context', async () => {
    const p = registry();
    const url = await app(p);
    expect(await (await fetch(`${url}/api/v1/items/42`)).text()).toBe('item /api/:ver/items/:id');
  });

  it(`notifies a thrown error${''} with the request context and records it as a 500 with its error type`, async () => {
    const p = registry();
    const url = await app(p);
    const seen: Array<[string, unknown]> = [];
    const off = errors.onError((r) => seen.push([r.message, r.context.route]));
    cleanups.push(off);
    expect((await fetch(`${url}/boom`)).status).toBe(500);
    if (five) expect((await fetch(`${url}/async`)).status).toBe(500);
    expect(seen).toEqual([['boom', '/boom'], ...(five ? [['rejected', '/async'] as [string, unknown]] : [])]);
    expect(routes(p.snapshot())).toEqual(['GET /boom 500 TypeError ×1', ...(five ? ['GET /async 500 RangeError ×1'] : [])].sort());
  });

  it('records a request the client aborted once, as 499 aborted', async () => {
    const p = registry();
    const a = express() as { use: (...x: unknown[]) => void; get: (...x: unknown[]) => void; listen: (port: number, host: string, cb: () => void) => Server };
    a.use(expressMetrics({ registry: p, express }));
    let closed!: () => void;
    const done = new Promise<void>((resolve) => (closed = resolve));
    a.get('/slow/:n', (_req: unknown, res: { on: (e: string, f: () => void) => void }) => res.on('close', () => setImmediate(closed)));
    const url = await listen(a);
    const ac = new AbortController();
    const pending = fetch(`${url}/slow/1`, { signal: ac.signal }).catch(() => undefined);
    setTimeout(() => ac.abort(), 50);
    await done;
    await pending;
    expect(routes(p.snapshot())).toEqual(['GET /slow/:n 499 aborted ×1']);
  });

  it('lets the fault hook hold a request back or answer it with an error before the routes run, by path', async () => {
    const p = registry();
    setFaultHook((r) => (r.path === '/users/slow' ? { kind: 'delay', ms: 25 } : r.path === '/users/down' ? { kind: 'error', status: 500, message: 'injected' } : undefined));
    cleanups.push(() => setFaultHook(undefined));
    const url = await app(p);
    const started = performance.now();
    expect(await (await fetch(`${url}/users/slow`)).text()).toBe('user');
    expect(performance.now() - started).toBeGreaterThanOrEqual(24);
    const down = await fetch(`${url}/users/down`);
    expect([down.status, await down.text()]).toEqual([500, '{"error":"injected"}']);
    expect(routes(p.snapshot())).toEqual(['GET /users/:id 200 - ×1', 'GET unmatched 500 injected_fault ×1']);
  });

  it('serves /metrics itself, uncounted, through the Prometheus handler', async () => {
    const p = registry();
    const url = await app(p);
    await fetch(`${url}/users/1`);
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toContain('http_server_request_duration_seconds_count{http_request_method="GET",url_scheme="http",http_route="/users/:id",http_response_status_code="200",error_type=""} 1\n');
    expect(routes(p.snapshot())).toEqual(['GET /users/:id 200 - ×1']);
  });
});
