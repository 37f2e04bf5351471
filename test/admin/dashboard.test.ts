import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_STREAMS } from '../../src/admin/feed.js';
import { admin, type AdminOptions, type AdminServer } from '../../src/admin/server.js';
import { createProbe } from '../../src/probes/probe.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(options: Partial<AdminOptions> = {}): Promise<AdminServer> {
  const s = await admin.serve({ port: 0, ...options });
  cleanups.push(() => s.close());
  return s;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens the stream and resolves with the response once its first bytes (hello and series) arrived. */
function openStream(port: number, path: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; first: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.once('data', (c: Buffer) => resolve({ res, first: c.toString('utf8') }));
      res.on('error', () => {});
      cleanups.push(() => res.destroy());
    });
    req.on('error', reject);
    req.end();
  });
}

const own = (file: string): Buffer => readFileSync(new URL(`../../src/admin/dashboard/${file}`, import.meta.url));
const uplot = (file: string): Buffer => readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${file}`));

describe('the dashboard', () => {
  it('serves the page publicly, even with a token set: HTML with no data, only relative URLs, and a policy that allows only its own files', async () => {
    const s = await start({ token: 'sekret' });
    const a = await get(s.port, '/dashboard');
    const html = a.body.toString('utf8');
    expect([a.status, a.headers['content-type'], a.headers['cache-control']]).toEqual([200, 'text/html; charset=utf-8', 'no-store']);
    expect(a.headers['content-security-policy']).toContain("default-src 'none'; script-src 'self'; style-src 'self'");
    const urls = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(urls).toEqual(['data:,', 'dashboard/uplot.css', 'dashboard/app.css', 'dashboard/uplot.js', 'dashboard/app.js']);
    expect(html).not.toMatch(/<script>|\sstyle="|\son\w+="/);
  });

  it('serves its script and styles, and uPlot from the installed package, byte for byte and publicly', async () => {
    const s = await start({ token: 'sekret' });
    const files: Array<[string, Buffer, string]> = [
      ['app.js', own('app.js'), 'text/javascript; charset=utf-8'],
      ['app.css', own('app.css'), 'text/css; charset=utf-8'],
      ['uplot.js', uplot('uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
      ['uplot.css', uplot('uPlot.min.css'), 'text/css; charset=utf-8'],
    ];
    for (const [name, bytes, type] of files) {
      const a = await get(s.port, `/dashboard/${name}`);
      expect([name, a.status, a.headers['content-type'], a.body.equals(bytes)]).toEqual([name, 200, type, true]);
    }
    expect((await get(s.port, '/dashboard/../server.ts')).status).toBe(404);
    expect((await get(s.port, '/dashboard/nope.js')).status).toBe(404);
    const slash = await get(s.port, '/dashboard/');
    expect([slash.status, slash.headers.location]).toEqual([301, '../dashboard']);
  });

  it('guards the stream like every data route: 401 without the token, 403 with a wrong one, and server-sent events with it', async () => {
    const s = await start({ token: 'sekret' });
    expect((await get(s.port, '/stream')).status).toBe(401);
    expect((await get(s.port, '/stream', { Authorization: 'Bearer nope' })).status).toBe(403);
    const { res, first } = await openStream(s.port, '/stream', { Authorization: 'Bearer sekret', 'Accept-Encoding': 'gzip' });
    expect([res.statusCode, res.headers['content-type'], res.headers['content-encoding']]).toEqual([200, 'text/event-stream; charset=utf-8', undefined]);
    expect(first).toMatch(/^retry: 2000\n\nevent: hello\ndata: \{"pid":\d+,/);
  });

  it('serves the page and the stream under the base path, the page still linking relatively', async () => {
    const s = await start({ basePath: '/ops' });
    expect((await get(s.port, '/ops/dashboard')).status).toBe(200);
    expect((await get(s.port, '/ops/dashboard/app.js')).status).toBe(200);
    expect((await get(s.port, '/dashboard')).status).toBe(404);
    const { res } = await openStream(s.port, '/ops/stream');
    expect(res.statusCode).toBe(200);
  });

  it('ends open streams at once when the server closes', async () => {
    const s = await admin.serve({ port: 0 });
    const { res } = await openStream(s.port, '/stream');
    const ended = new Promise<void>((resolve) => res.once('end', resolve));
    const t0 = performance.now();
    await s.close();
    await ended;
    // Well under the server's grace for lingering connections (1 s): the stream was ended, not cut.
    expect(performance.now() - t0).toBeLessThan(900);
  });

  it(`answers 503 to a stream beyond the ${MAX_STREAMS} open at once`, async () => {
    const s = await start();
    for (let i = 0; i < MAX_STREAMS; i++) await openStream(s.port, '/stream');
    const over = await get(s.port, '/stream');
    expect([over.status, JSON.parse(over.body.toString('utf8')).error.code]).toEqual([503, 'too_many_streams']);
  });

  it('serves neither page nor stream with dashboard: false, and rejects a non-boolean', async () => {
    const s = await start({ dashboard: false });
    expect([(await get(s.port, '/dashboard')).status, (await get(s.port, '/stream')).status]).toEqual([404, 404]);
    await expect(admin.serve({ port: 0, dashboard: 'yes' as never })).rejects.toMatchObject({
      name: 'TypeError',
      code: 'PROBEKIT_INVALID_OPTION',
      message: expect.stringMatching(/^probekit: admin\.serve\(\) option "dashboard" must be a boolean/),
    });
  });

  it('shows the registry it is given in /metrics.json, /metrics and the stream, and rejects anything else as registry', async () => {
    const registry = createProbe();
    registry.counter({ name: 'own_jobs', monotonic: true }).inc(4);
    const s = await start({ registry });
    const json = JSON.parse((await get(s.port, '/metrics.json')).body.toString('utf8')) as { metrics: Array<{ exportName: string; series: Array<{ value: number }> }> };
    expect(json.metrics.filter((m) => !m.exportName.startsWith('probekit_')).map((m) => [m.exportName, m.series[0]?.value])).toEqual([['own_jobs', 4]]);
    expect((await get(s.port, '/metrics')).body.toString('utf8')).toContain('own_jobs_total 4\n');
    const { first } = await openStream(s.port, '/stream');
    expect(first).toContain('"family":"own_jobs"');
    await expect(admin.serve({ port: 0, registry: {} as never })).rejects.toMatchObject({ name: 'TypeError', message: expect.stringMatching(/^probekit: admin\.serve\(\) option "registry" must be a probekit registry/) });
  });
});
