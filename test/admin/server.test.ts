import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { actions } from '../../src/admin/actions.js';
import { globMatch, seeded } from '../../src/admin/faults.js';
import { health } from '../../src/admin/health.js';
import { snapshotRoom } from '../../src/admin/profiles.js';
import { admin, type AdminOptions, type AdminServer, peerAllowed } from '../../src/admin/server.js';
import { errors } from '../../src/errors/store.js';
import { instrumentServer } from '../../src/middleware/http.js';
import { probe } from '../../src/probes/probe.js';
import { bad, expectError, rejection, thrown } from '../support/helpers.js';

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.restoreAllMocks();
});

async function start(options: Partial<AdminOptions> = {}): Promise<AdminServer> {
  const s = await admin.serve({ port: 0, ...options });
  cleanups.push(() => s.close());
  return s;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  json(): unknown;
}

function call(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const post = (port: number, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> =>
  call(port, path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });

const errorOf = (status: number, code: string, message: string): unknown => ({ error: { status, code, message } });

describe('admin.serve() routes', () => {
  it('answers /livez with 200 and no dependencies, with Cache-Control: no-store and X-Content-Type-Options: nosniff', async () => {
    const s = await start();
    const a = await call(s.port, '/livez');
    expect([a.status, a.json(), a.headers['cache-control'], a.headers['x-content-type-options']]).toEqual([200, { status: 'ok' }, 'no-store', 'nosniff']);
    expect(s.url).toBe(`http://127.0.0.1:${s.port}/`);
  });

  it('answers /healthz and /readyz 200 with every check, and 503 listing the failing critical ones (a non-critical failure is only reported)', async () => {
    cleanups.push(health.check('db', () => ({ pool: 3 })));
    cleanups.push(health.check('cache', () => false, { critical: false }));
    const s = await start();
    const ok = await call(s.port, '/healthz');
    expect(ok.status).toBe(200);
    expect((ok.json() as { checks: Array<{ name: string; ok: boolean; detail?: unknown; error?: string }> }).checks.map(({ name, ok: passed, detail, error }) => ({ name, passed, detail, error }))).toEqual([
      { name: 'db', passed: true, detail: { pool: 3 }, error: undefined },
      { name: 'cache', passed: false, detail: undefined, error: 'returned false' },
    ]);
    cleanups.push(health.check('queue', () => Promise.reject(new Error('broker down'))));
    for (const path of ['/healthz', '/readyz']) {
      const a = await call(s.port, path);
      expect([path, a.status, (a.json() as { status: string; failing: string[] }).status, (a.json() as { failing: string[] }).failing]).toEqual([path, 503, 'failing', ['queue']]);
    }
  });

  it('answers 503 for a check that hangs past its timeout, and joins the hanging run instead of starting another', async () => {
    let calls = 0;
    cleanups.push(health.check('slow', () => (calls++, new Promise(() => {})), { timeoutMs: 50 }));
    const s = await start();
    const [a, b] = await Promise.all([call(s.port, '/readyz'), call(s.port, '/readyz')]);
    for (const r of [a, b]) {
      expect([r.status, r.json()]).toEqual([503, { status: 'failing', failing: ['slow'], checks: [{ name: 'slow', ok: false, critical: true, ms: 50, error: 'timed out after 50 ms' }] }]);
    }
    expect(calls).toBe(1);
  });

  it('serves the Prometheus exposition on /metrics, the snapshot on /metrics.json and the recent errors on /errors', async () => {
    const c = probe.counter({ name: 'admin_test_jobs', monotonic: true });
    c.inc(3);
    errors.clear();
    errors.notify(new Error('admin test error'));
    const s = await start();
    const m = await call(s.port, '/metrics');
    expect([m.status, m.headers['content-type'], /^admin_test_jobs_total 3$/m.test(m.text)]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8', true]);
    const j = (await call(s.port, '/metrics.json')).json() as { metrics: Array<{ exportName: string; series: Array<{ value: number }> }> };
    expect(j.metrics.find((f) => f.exportName === 'admin_test_jobs')?.series).toEqual([{ labels: {}, value: 3 }]);
    const e = (await call(s.port, '/errors')).json() as { total: number; recent: Array<{ count: number; last: { message: string } }> };
    expect([e.total, e.recent[0]?.count, e.recent[0]?.last.message]).toEqual([1, 1, 'admin test error']);
  });

  it('serves every route under basePath, and nothing at the root', async () => {
    const s = await start({ basePath: '/ops' });
    expect(s.url).toBe(`http://127.0.0.1:${s.port}/ops/`);
    expect((await call(s.port, '/ops/livez')).status).toBe(200);
    expect((await call(s.port, '/livez')).status).toBe(404);
  });

  it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    const s = await start();
    const a = await call(s.port, '/nope');
    expect([a.status, (a.json() as { error: { code: string } }).error.code, a.headers['cache-control']]).toEqual([404, 'not_found', 'no-store']);
    const b = await call(s.port, '/livez', { method: 'POST' });
    expect([b.status, b.headers.allow]).toEqual([405, 'GET, HEAD']);
    const c = await call(s.port, '/actions/x');
    expect([c.status, c.headers.allow]).toEqual([405, 'POST']);
  });
});

describe('actions over HTTP', () => {
  it('lists the built-in actions and registered ones with their input schemas', async () => {
    cleanups.push(admin.action('reindex', () => 'ok', { input: { index: 'string', full: 'boolean' }, description: 'Rebuilds an index' }));
    const s = await start();
    const list = (await call(s.port, '/actions')).json() as { actions: Array<{ name: string; input: unknown }> };
    expect(list.actions.filter((a) => ['cpu-profile', 'heap-snapshot', 'reindex', 'fault'].includes(a.name))).toEqual([
      { name: 'reindex', scoped: false, input: { index: 'string', full: 'boolean' }, description: 'Rebuilds an index' },
      { name: 'cpu-profile', scoped: false, input: { seconds: 'number' }, description: 'CPU profile for {seconds} (default 10, at most 60), as a .cpuprofile' },
      { name: 'heap-snapshot', scoped: false, input: {}, description: 'Heap snapshot, as a .heapsnapshot' },
    ]);
  });

  it("runs an action with its JSON body and answers its JSON result; a string result is JSON too", async () => {
    cleanups.push(admin.action('double', (input) => ({ twice: (input.n as number) * 2 }), { input: { n: 'number' } }));
    cleanups.push(admin.action('hello', () => 'hi'));
    const s = await start();
    const a = await post(s.port, '/actions/double', { n: 21 });
    expect([a.status, a.json()]).toEqual([200, { twice: 42 }]);
    const b = await call(s.port, '/actions/hello', { method: 'POST' });
    expect([b.status, b.headers['content-type'], b.text]).toEqual([200, 'application/json; charset=utf-8', '"hi"']);
  });

  it('answers a scoped action with its streamed chunks and its end value', async () => {
    cleanups.push(
      actions.register('steps', {
        scoped: true,
        fn: (_p: unknown, out: { send(d: unknown): void; end(d?: unknown): void }) => {
          out.send('one');
          out.send('two');
          out.end({ done: true });
        },
      }),
    );
    const s = await start();
    expect((await post(s.port, '/actions/steps', {})).json()).toEqual({ chunks: ['one', 'two'], value: { done: true } });
  });

  it('answers 400 for malformed JSON, a body that is not an object, an unknown field and a field of the wrong type, before the action runs', async () => {
    let runs = 0;
    cleanups.push(admin.action('typed', () => ++runs, { input: { n: 'number' } }));
    const s = await start();
    const cases: Array<[string, string, string]> = [
      ['{"n":', 'invalid_json', 'the request body is not valid JSON'],
      ['[1]', 'invalid_input', 'the body must be a JSON object'],
      ['{"m":1}', 'invalid_input', 'unknown field "m"; known fields are: n'],
      ['{"n":"1"}', 'invalid_input', 'field "n" must be a number'],
    ];
    for (const [body, code, message] of cases) {
      const a = await post(s.port, '/actions/typed', body);
      expect([body, a.status, a.json()]).toEqual([body, 400, errorOf(400, code, message)]);
    }
    expect(runs).toBe(0);
  });

  it('answers 413 for a body over maxBodyBytes', async () => {
    cleanups.push(admin.action('big', () => 1));
    const s = await start({ maxBodyBytes: 100 });
    const a = await post(s.port, '/actions/big', { pad: 'x'.repeat(200) });
    expect([a.status, (a.json() as { error: { code: string } }).error.code, a.headers['x-content-type-options']]).toEqual([413, 'payload_too_large', 'nosniff']);
  });

  it('answers 404 for an unknown action and 500 with the error for an action that throws or times out', async () => {
    cleanups.push(admin.action('broken', () => {
      throw new Error('out of cheese');
    }));
    cleanups.push(actions.register('silent', { fn: () => undefined }));
    const s = await start({ actionTimeoutMs: 50 });
    const a = await post(s.port, '/actions/missing', {});
    expect([a.status, a.json()]).toEqual([404, errorOf(404, 'unknown_action', 'no action named "missing"; GET /actions lists them')]);
    const b = await post(s.port, '/actions/broken', {});
    expect([b.status, b.json()]).toEqual([500, errorOf(500, 'action_failed', 'action "broken" failed: Error: out of cheese')]);
    const c = await post(s.port, '/actions/silent', {});
    expect([c.status, c.json()]).toEqual([500, errorOf(500, 'action_failed', 'action "silent" did not answer within 50 ms')]);
  });

  it('takes its built-in actions out of the registry when closed', async () => {
    const s = await admin.serve({ port: 0 });
    expect(actions.has('cpu-profile')).toBe(true);
    await s.close();
    expect([actions.has('cpu-profile'), actions.has('heap-snapshot')]).toEqual([false, false]);
  });
});

describe('the security model', () => {
  it('asks for the bearer token on every route but the health routes: 401 without, 403 with a wrong one, 200 with it', async () => {
    const s = await start({ token: 's3cret' });
    for (const path of ['/livez', '/readyz', '/healthz']) expect([path, (await call(s.port, path)).status]).toEqual([path, 200]);
    for (const path of ['/metrics', '/metrics.json', '/errors', '/actions']) {
      const none = await call(s.port, path);
      const wrong = await call(s.port, path, { headers: { Authorization: 'Bearer guess' } });
      const right = await call(s.port, path, { headers: { Authorization: 'Bearer s3cret' } });
      expect([path, none.status, none.headers['www-authenticate'], wrong.status, right.status]).toEqual([path, 401, 'Bearer', 403, 200]);
    }
    const run = await post(s.port, '/actions/heap-snapshot', {});
    expect(run.status).toBe(401);
  });

  it('serves /metrics without the token with publicMetrics, and still guards /metrics.json', async () => {
    const s = await start({ token: 's3cret', publicMetrics: true });
    expect([(await call(s.port, '/metrics')).status, (await call(s.port, '/metrics.json')).status]).toEqual([200, 401]);
  });

  it('refuses to bind a non-loopback host without a token', async () => {
    const err = await rejection(admin.serve({ port: 0, host: '0.0.0.0' }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'host' });
    expect(err.message).toContain('a loopback host (127.0.0.1, ::1, localhost) when no token is set');
  });

  it('lets actions answer any peer with a token set, and only loopback peers without one', () => {
    expect([
      peerAllowed(undefined, '127.0.0.1'),
      peerAllowed(undefined, '::ffff:127.0.0.1'),
      peerAllowed(undefined, '::1'),
      peerAllowed(undefined, '10.0.0.7'),
      peerAllowed(undefined, undefined),
      peerAllowed('t', '10.0.0.7'),
    ]).toEqual([true, true, true, false, false, true]);
  });

  const cases: Array<[string, unknown, typeof TypeError | typeof RangeError, string, string]> = [
    ['no port', {}, TypeError, 'PROBEKIT_INVALID_OPTION', 'port'],
    ['an unknown option', { port: 0, tokn: 'x' }, TypeError, 'PROBEKIT_UNKNOWN_OPTION', 'tokn'],
    ['a token with a space', { port: 0, token: 'a b' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'token'],
    ['a basePath without a leading slash', { port: 0, basePath: 'ops' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'basePath'],
    ['faults that is not a boolean', { port: 0, faults: 'yes' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'faults'],
    ['a shutdownDelay that is not a duration', { port: 0, shutdownDelay: '5 parsecs' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'shutdownDelay'],
    ['a negative maxBodyBytes', { port: 0, maxBodyBytes: -1 }, RangeError, 'PROBEKIT_OUT_OF_RANGE', 'maxBodyBytes'],
  ];
  for (const [what, options, type, code, option] of cases) {
    it(`rejects ${what}`, async () => {
      expectError(await rejection(admin.serve(bad(options))), { type, code, option });
    });
  }

  it('rejects an action input schema of another shape', () => {
    expectError(
      thrown(() => admin.action('x', () => 1, bad({ input: { n: 'int' } }))),
      { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'input.n' },
    );
  });
});

describe('profiles and snapshots', () => {
  it('answers a CPU profile as a .cpuprofile whose JSON has nodes, startTime and endTime', async () => {
    const s = await start();
    const a = await post(s.port, '/actions/cpu-profile', { seconds: 0.2 });
    const profile = a.json() as { nodes: unknown[]; startTime: number; endTime: number };
    expect(a.status).toBe(200);
    expect(a.headers['content-disposition']).toMatch(/^attachment; filename="\d+-[\dT-]+Z\.cpuprofile"$/);
    expect([Array.isArray(profile.nodes), profile.nodes.length > 0, profile.endTime - profile.startTime >= 150_000]).toEqual([true, true, true]);
  });

  it('answers 409 to a second profile or snapshot while a profile runs', async () => {
    const s = await start();
    const first = post(s.port, '/actions/cpu-profile', { seconds: 0.3 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await post(s.port, '/actions/cpu-profile', { seconds: 0.1 });
    const snapshot = await post(s.port, '/actions/heap-snapshot', {});
    expect([second.status, second.json()]).toEqual([409, errorOf(409, 'profile_running', 'a cpu-profile is already running; try again when it ends')]);
    expect(snapshot.status).toBe(409);
    expect((await first).status).toBe(200);
  });

  it('refuses a heap snapshot with 503 and Retry-After when twice the used heap exceeds the free memory', async () => {
    vi.spyOn(os, 'freemem').mockReturnValue(1024 * 1024);
    const s = await start();
    const a = await post(s.port, '/actions/heap-snapshot', {});
    expect([a.status, a.headers['retry-after'], (a.json() as { error: { code: string } }).error.code]).toEqual([503, '60', 'insufficient_memory']);
  });

  it('weighs a heap snapshot against the free memory and what a memory limit leaves above the resident set', () => {
    const MiB = 1024 * 1024;
    expect([
      snapshotRoom({ usedHeap: 100 * MiB, free: 300 * MiB, constrained: undefined, rss: 150 * MiB }),
      snapshotRoom({ usedHeap: 100 * MiB, free: 150 * MiB, constrained: 0, rss: 150 * MiB }),
      snapshotRoom({ usedHeap: 100 * MiB, free: 8000 * MiB, constrained: 300 * MiB, rss: 150 * MiB }),
      snapshotRoom({ usedHeap: 100 * MiB, free: 8000 * MiB, constrained: 400 * MiB, rss: 150 * MiB }),
    ]).toEqual([
      { fits: true, needed: 200 * MiB, available: 300 * MiB },
      { fits: false, needed: 200 * MiB, available: 150 * MiB },
      { fits: false, needed: 200 * MiB, available: 150 * MiB },
      { fits: true, needed: 200 * MiB, available: 250 * MiB },
    ]);
  });
});

describe('fault injection', () => {
  async function app(): Promise<{ port: number; server: Server }> {
    const server = createServer((_req, res) => res.end('done'));
    const instrumented = instrumentServer(server, { route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : req.url) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    cleanups.push(() => instrumented.close());
    return { port: (server.address() as AddressInfo).port, server };
  }

  const injected = (): Record<string, number> =>
    Object.fromEntries(
      (probe.snapshot().metrics.find((m) => m.exportName === 'probekit_faults_injected')?.series ?? []).map((s) => [JSON.stringify(s.labels), (s as { value: number }).value]),
    );

  it('has no fault action unless the code opts in with faults: true', async () => {
    const s = await start();
    expect((await post(s.port, '/actions/fault', { route: '*', fraction: 1 })).status).toBe(404);
  });

  it('answers the seeded fraction of the requests on a route pattern with the error, counts them, and switches itself off when its time is up', async () => {
    let now = 1_000_000;
    const s = await start({ faults: true, clock: () => now });
    const target = await app();
    const before = injected()[JSON.stringify({ kind: 'error', route: '/users/:id' })] ?? 0;
    const on = await post(s.port, '/actions/fault', { route: '/users/*', fraction: 0.3, status: 503, seed: 42, seconds: 60 });
    expect([on.status, on.json()]).toEqual([
      200,
      { on: true, route: '/users/*', fraction: 0.3, fault: { kind: 'error', status: 503, message: 'probekit: injected fault' }, seed: 42, until: new Date(1_060_000).toISOString() },
    ]);
    const random = seeded(42);
    const expected = Array.from({ length: 100 }, () => (random() < 0.3 ? 503 : 200));
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await call(target.port, `/users/${i}`)).status);
    expect((await call(target.port, '/other')).status).toBe(200);
    expect(statuses).toEqual(expected);
    const hits = expected.filter((x) => x === 503).length;
    expect(hits).toBe(32);
    expect((injected()[JSON.stringify({ kind: 'error', route: '/users/:id' })] ?? 0) - before).toBe(hits);
    now += 60_000;
    const after: number[] = [];
    for (let i = 0; i < 20; i++) after.push((await call(target.port, `/users/${i}`)).status);
    expect(after).toEqual(Array(20).fill(200));
  });

  it('holds requests back by the delay and stops on { off: true }, reporting how many it delayed', async () => {
    const s = await start({ faults: true });
    const target = await app();
    await post(s.port, '/actions/fault', { route: '/slow', fraction: 1, delayMs: 40, seconds: 5 });
    const t0 = performance.now();
    expect((await call(target.port, '/slow')).text).toBe('done');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(39);
    const off = await post(s.port, '/actions/fault', { off: true });
    expect(off.json()).toEqual({ on: false, injected: 1 });
  });

  it('answers 500 with the reason for a plan it cannot run', async () => {
    const s = await start({ faults: true });
    const cases: Array<[unknown, string]> = [
      [{ route: '/x', fraction: 2 }, 'field "fraction" must be a number from 0 to 1'],
      [{ fraction: 0.5 }, 'field "route" must be a route pattern of 1 to 256 characters ("/users/:id", "/api/*")'],
      [{ route: '/x', fraction: 0.5, delayMs: 10, status: 500 }, 'give either "delayMs" (a delay) or "status" (an error), not both'],
      [{ route: '/x', fraction: 0.5, status: 200 }, 'field "status" must be an HTTP error status from 400 to 599'],
      [{ route: '/x', fraction: 0.5, seconds: 7200 }, 'field "seconds" must be a number above 0, at most 3600'],
    ];
    for (const [body, message] of cases) {
      const a = await post(s.port, '/actions/fault', body);
      expect([a.status, a.json()]).toEqual([500, errorOf(500, 'action_failed', `action "fault" failed: Error: ${message}`)]);
    }
  });

  it('matches route patterns with * as any run of characters', () => {
    const rows: Array<[string, string, boolean]> = [
      ['/users/:id', '/users/:id', true],
      ['/users/*', '/users/7/orders', true],
      ['*', '/anything', true],
      ['/a*c*e', '/abcde', true],
      ['/a*c*e', '/abcd', false],
      ['/users', '/users/7', false],
      ['*.json', '/x.json', true],
    ];
    expect(rows.map(([p, t]) => globMatch(p, t))).toEqual(rows.map((r) => r[2]));
  });
});
