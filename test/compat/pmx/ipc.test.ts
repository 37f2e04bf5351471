/**
 * The pmx facade over a real Node IPC channel: each fixture runs in a child spawned with
 * an `ipc` stdio and PM2's `pm_id` in its environment, as PM2 starts an app, and this
 * test plays the PM2 daemon. The fixtures load the built package by name
 * (`require('probekit/pmx')`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, prometheus } from '../../../src/index.js';
import { type IpcProcess, MAX_IN_FLIGHT, processLink, underPm2 } from '../../../src/compat/pmx/ipc.js';
import type { Registry } from '../../../src/probes/probe.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface Child {
  readonly child: ChildProcess;
  readonly messages: Array<{ type: string; data: unknown; at: number }>;
  stdout: string;
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(fixture: string, args: string[] = [], env: Record<string, string> = { pm_id: '0', name: 'app' }): Child {
  const child = spawn(process.execPath, [`${fixtures}${fixture}`, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, ...env } });
  children.push(child);
  const run: Child = {
    child,
    messages: [],
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  child.on('message', (m: { type: string; data: unknown }) => run.messages.push({ ...m, at: Date.now() }));
  child.stdout?.on('data', (d: Buffer) => (run.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (run.stderr += d.toString()));
  return run;
}

/** Waits (at most `ms`) until `done()` holds. */
async function until(done: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Resolves with how the child ended, or 'still running' after `ms`. */
function endedWithin(run: Child, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'> {
  return Promise.race([run.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms))]);
}

describe('The pmx facade under PM2 (a real IPC channel)', () => {
  it('sends the configuration, the actions, the exception, the event and an axm:monitor about once a second', async () => {
    const run = start('app.cjs');
    const monitors = () => run.messages.filter((m) => m.type === 'axm:monitor');
    await until(() => monitors().length >= 3);
    const types = [...new Set(run.messages.map((m) => m.type))];
    expect(types).toEqual(['axm:option:configuration', 'axm:action', 'process:exception', 'human:event', 'axm:monitor']);
    const [first, second, third] = monitors();
    const gaps = [(second?.at ?? 0) - (first?.at ?? 0), (third?.at ?? 0) - (second?.at ?? 0)];
    expect(gaps.every((g) => g > 700 && g < 1500)).toBe(true);
    const data = third?.data as Record<string, Record<string, unknown>>;
    expect({ lastCall: data['Last call'], calls: data['Number of calls'], cpm: data['Calls per minute'], defaults: ['Loop delay', 'Active requests', 'Active handles'].map((k) => k in data) }).toEqual({
      lastCall: { value: '2026-12-03T08:00:00.000Z', type: 'Last call', historic: true, agg_type: 'avg' },
      calls: { value: 2, type: 'Number of calls', historic: true, agg_type: 'avg' },
      cpm: { value: 1, type: 'Calls per minute', historic: true, agg_type: 'avg' },
      defaults: [true, true, true],
    });
    const exception = run.messages.find((m) => m.type === 'process:exception')?.data as Record<string, unknown>;
    expect({ name: exception.name, message: exception.message, metadata: exception.metadata }).toEqual({ name: 'Error', message: 'Unexpected Exception!', metadata: {} });
    expect(run.messages.find((m) => m.type === 'human:event')?.data).toEqual({ version: 2, __name: 'deploy' });
    expect(run.messages.find((m) => m.type === 'axm:action')?.data).toEqual({ action_name: 'memory-leak', action_type: 'custom', arity: 1, opts: null });
  });

  it('runs an action PM2 triggers (a bare name, as `pm2 trigger app memory-leak` sends it) and answers with axm:reply', async () => {
    const run = start('app.cjs');
    await until(() => run.messages.some((m) => m.type === 'axm:action'));
    run.child.send('memory-leak');
    await until(() => run.messages.some((m) => m.type === 'axm:reply'));
    const reply = run.messages.find((m) => m.type === 'axm:reply')?.data as Record<string, unknown>;
    expect({ ...reply, at: typeof reply.at }).toEqual({ action_name: 'memory-leak', return: { result: 'Hello David' }, at: 'number' });
  });

  it('lets a script that finished its work end with code 0 although the channel stays open', async () => {
    const run = start('ends.cjs');
    expect(await endedWithin(run, 5000)).toEqual({ code: 0, signal: null });
    expect(run.messages.map((m) => m.type)).toContain('process:exception');
  });

  it('keeps a script alive while the application itself listens for messages, as it would without probekit', async () => {
    const run = start('ends.cjs', ['own-listener']);
    expect(await endedWithin(run, 1500)).toBe('still running');
  });

  it('leaves SIGINT ending the process as the signal does', async () => {
    const run = start('sigint.cjs');
    await until(() => run.stdout.includes('ready'));
    run.child.kill('SIGINT');
    expect(await endedWithin(run, 5000)).toEqual({ code: null, signal: 'SIGINT' });
  });

  it('reports an uncaught exception to PM2 before the process ends with code 1, as Node would end it', async () => {
    const run = start('crash.cjs');
    const ended = await endedWithin(run, 8000);
    const exception = run.messages.find((m) => m.type === 'process:exception')?.data as Record<string, unknown> | undefined;
    expect({ ended, message: exception?.message, printed: run.stderr.includes('Error: crash after init') }).toEqual({
      ended: { code: 1, signal: null },
      message: 'crash after init',
      printed: true,
    });
  });

  it('counts sends on a closed channel as failures and never throws', async () => {
    const run = start('closed.cjs');
    expect(await endedWithin(run, 8000)).toEqual({ code: 0, signal: null });
    expect({ stdout: run.stdout, stderr: run.stderr }).toEqual({
      // process:exception, human:event, axm:action and one axm:monitor
      stdout: 'probekit_exporter_errors_total{exporter="pm2"} 4\nprobekit_exporter_dropped_total{exporter="pm2"} 0\n',
      stderr: '',
    });
  });

  it('sends nothing and keeps nothing alive with an IPC channel but no PM2 environment', async () => {
    const run = start('ends.cjs', [], {});
    expect(await endedWithin(run, 5000)).toEqual({ code: 0, signal: null });
    expect(run.messages).toEqual([]);
  });
});

describe('Loading probekit/pmx', () => {
  it('works with require from CommonJS and with import, as one module instance, printing nothing on Node 20.20', () => {
    const program = [
      "const a = require('probekit/pmx');",
      "import('probekit/pmx').then((b) => console.log(a.init === b.init, typeof a.init({ http: false, errors: false }).probe().metric));",
    ].join('\n');
    const run = spawnSync(process.execPath, ['-e', program], { cwd: root, encoding: 'utf8', timeout: 10_000 });
    expect({ stdout: run.stdout, stderr: run.stderr, status: run.status }).toEqual({ stdout: 'true function\n', stderr: '', status: 0 });
  });
});

describe('The PM2 link', () => {
  /** A process whose send() is under the test's control. */
  function fakeProcess(send: IpcProcess['send'], connected = true): IpcProcess & { callbacks: Array<(e: Error | null) => void> } {
    const callbacks: Array<(e: Error | null) => void> = [];
    return {
      send,
      connected,
      channel: undefined,
      callbacks,
      on: () => undefined,
      off: () => undefined,
      listenerCount: () => 0,
    };
  }

  async function selfMetrics(registry: Registry): Promise<string[]> {
    return (await prometheus.text({ registry })).split('\n').filter((l) => l.includes('exporter="pm2"'));
  }

  it('is used only with process.send and PM2 pm_id in the environment', () => {
    expect([underPm2({ send: () => true }, { pm_id: '3' }), underPm2({ send: () => true }, {}), underPm2({}, { pm_id: '3' })]).toEqual([true, false, false]);
  });

  it(`holds at most ${MAX_IN_FLIGHT} unwritten messages: later ones are dropped and counted, so memory stays bounded`, async () => {
    const registry = createProbe() as unknown as Registry;
    const held: Array<(e: Error | null) => void> = [];
    const link = processLink(
      registry,
      fakeProcess((_m, _h, _o, cb) => {
        held.push(cb);
        return false;
      }),
    );
    const sent = Array.from({ length: MAX_IN_FLIGHT + 10 }, () => link.send('axm:monitor', {}));
    expect({ accepted: sent.filter(Boolean).length, metrics: await selfMetrics(registry) }).toEqual({
      accepted: MAX_IN_FLIGHT,
      metrics: ['probekit_exporter_errors_total{exporter="pm2"} 0', 'probekit_exporter_dropped_total{exporter="pm2"} 10'],
    });
    for (const cb of held.splice(0)) cb(null);
    expect(link.send('axm:monitor', {})).toBe(true);
  });

  it('counts a send that throws, fails with EPIPE, or finds the channel closed, and never throws', async () => {
    const registry = createProbe() as unknown as Registry;
    const throwing = processLink(
      registry,
      fakeProcess(() => {
        throw Object.assign(new Error('channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' });
      }),
    );
    const epipe = processLink(
      registry,
      fakeProcess((_m, _h, _o, cb) => {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        return true;
      }),
    );
    const closed = processLink(registry, fakeProcess(() => true, false));
    expect([throwing.send('a', 1), epipe.send('b', 2), closed.send('c', 3)]).toEqual([false, true, false]);
    expect(await selfMetrics(registry)).toEqual(['probekit_exporter_errors_total{exporter="pm2"} 3', 'probekit_exporter_dropped_total{exporter="pm2"} 0']);
    await epipe.drain();
  });

  it('drain() resolves once every message handed over was written', async () => {
    const registry = createProbe() as unknown as Registry;
    const held: Array<(e: Error | null) => void> = [];
    const link = processLink(
      registry,
      fakeProcess((_m, _h, _o, cb) => {
        held.push(cb);
        return true;
      }),
    );
    link.send('process:exception', {});
    let drained = false;
    void link.drain().then(() => (drained = true));
    await new Promise((resolve) => setImmediate(resolve));
    const before = drained;
    held[0]?.(null);
    await new Promise((resolve) => setImmediate(resolve));
    expect([before, drained]).toEqual([false, true]);
  });
});
