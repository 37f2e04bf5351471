/**
 * The admin server in a process of its own (test/integration/fixtures/admin, built code
 * from dist/): readiness during a SIGTERM shutdown, and a heap snapshot of a small heap.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURES = fileURLToPath(new URL('./fixtures/admin/', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Starts the fixture and resolves once it printed `ready <port>`; killed after 15 s. */
function start(delayMs: number): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${FIXTURES}serve.mjs`, String(delayMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null; at: number }>((done) =>
      child.once('exit', (status, signal) => {
        clearTimeout(kill);
        done({ status, signal, at: Date.now() });
      }),
    );
    let out = '';
    let err = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /^ready (\d+)$/m.exec(out);
      if (m !== null) resolve({ child, port: Number(m[1]), exited });
    });
    void exited.then(() => reject(new Error(`the fixture ended before it was ready: ${err}`)));
  });
}

function get(port: number, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('The admin server in its own process', () => {
  it('answers /readyz 503 as soon as SIGTERM arrives, keeps answering for shutdownDelay, then closes and ends by the signal', async () => {
    const { child, port, exited } = await start(800);
    expect((await get(port, '/readyz')).status).toBe(200);
    const sent = Date.now();
    child.kill('SIGTERM');
    let ready = await get(port, '/readyz');
    for (let i = 0; i < 50 && ready.status === 200; i++) ready = await get(port, '/readyz');
    expect([ready.status, JSON.parse(ready.body.toString('utf8'))]).toEqual([503, { status: 'shutting_down', failing: [], checks: [] }]);
    expect([(await get(port, '/livez')).status, (await get(port, '/healthz')).status]).toEqual([200, 200]);
    const end = await exited;
    expect([end.status, end.signal]).toEqual([null, 'SIGTERM']);
    expect(end.at - sent).toBeGreaterThanOrEqual(750);
  });

  it('streams a heap snapshot that parses, with snapshot.meta', async () => {
    const { child, port, exited } = await start(0);
    const a = await get(port, '/actions/heap-snapshot', { method: 'POST', headers: { Authorization: 'Bearer t' } });
    expect(a.status).toBe(200);
    const snapshot = JSON.parse(a.body.toString('utf8')) as { snapshot: { meta: { node_fields: string[] }; node_count: number } };
    expect([snapshot.snapshot.meta.node_fields.includes('name'), snapshot.snapshot.node_count > 1000]).toEqual([true, true]);
    child.kill('SIGTERM');
    expect((await exited).signal).toBe('SIGTERM');
  });
});
