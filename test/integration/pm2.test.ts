/**
 * probekit/pmx under the real PM2 7 (fork mode): the examples, written as the chapter writes
 * its pmx programs, run under a PM2 daemon of this test's own (a temporary PM2_HOME), and
 * are checked through `pm2 jlist`, `pm2 show`, `pm2 trigger`, PM2's bus and a Prometheus
 * scrape of the same process.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../support/peers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pm2Bin = join(root, 'node_modules/.bin/pm2');
const home = tempDir('probekit-pm2-');
const ports = { metrics: 0, actions: 0 };

interface Pm2Process {
  name: string;
  pm2_env: { status: string; exit_code?: number; axm_monitor?: Record<string, { value: unknown; unit?: string; type?: string; agg_type?: string }>; axm_actions?: Array<{ action_name: string }> };
}

/** Runs the pm2 CLI against this test's daemon; resolves with its output, whatever its status. */
function pm2(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(pm2Bin, args, { cwd: root, env: { ...process.env, PM2_HOME: home.path, ...envFor(args) }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/** The environment a started app gets (PM2 passes the CLI's environment on). */
function envFor(args: string[]): Record<string, string> {
  if (args[0] !== 'start') return {};
  const port = args.includes('metrics') ? ports.metrics : ports.actions;
  return { PORT: String(port), METRICS_PORT: '0' };
}

async function jlist(): Promise<Pm2Process[]> {
  const { stdout } = await pm2('jlist');
  return JSON.parse(stdout.slice(stdout.indexOf('['))) as Pm2Process[];
}

async function app(name: string): Promise<Pm2Process | undefined> {
  return (await jlist()).find((p) => p.name === name);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Calls a Seneca pattern of an example over its HTTP transport. */
async function act(port: number, pattern: Record<string, unknown>): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}/act`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(pattern) });
  return res.json();
}

/** The URL an example printed to its PM2 log (`metrics at http://…`). */
function metricsUrl(name: string): string | undefined {
  const log = join(home.path, 'logs', `${name}-out.log`);
  if (!existsSync(log)) return undefined;
  return /metrics at (\S+)/.exec(readFileSync(log, 'utf8'))?.[1];
}

beforeAll(async () => {
  ports.metrics = await freePort();
  ports.actions = await freePort();
  for (const [name, file] of [
    ['metrics', 'examples/pmx-metrics.cjs'],
    ['actions', 'examples/pmx-actions.cjs'],
  ] as const) {
    const started = await pm2('start', file, '--name', name);
    if (started.code !== 0) throw new Error(`pm2 start ${file} failed: ${started.stderr}`);
  }
  // Serving once Seneca answers (any answer: `ping` is no pattern of theirs) and /metrics is up.
  const answers = (port: number): Promise<boolean> =>
    fetch(`http://127.0.0.1:${port}/act`, { method: 'POST', body: '{"cmd":"ping"}' }).then(
      () => true,
      () => false,
    );
  await waitFor('both examples to serve', async () => ((await answers(ports.metrics)) && (await answers(ports.actions)) && metricsUrl('metrics') !== undefined ? true : undefined), 20_000);
}, 60_000);

afterAll(async () => {
  await pm2('kill');
  home.remove();
}, 30_000);

describe('probekit/pmx under the real PM2 7', () => {
  it("shows the probes' values in pm2 jlist and pm2 show: Last call as the ISO string, the counter, the meter, and PM2's default probes", async () => {
    // inc, inc, inc, dec → 2; three calls per minute.
    await act(ports.metrics, { cmd: 'last-call' });
    for (let i = 0; i < 3; i++) await act(ports.metrics, { cmd: 'counter' });
    await act(ports.metrics, { cmd: 'counter', op: 'dec' });
    for (let i = 0; i < 3; i++) await act(ports.metrics, { cmd: 'calls-minute' });
    const monitor = await waitFor(
      'the values in pm2 jlist',
      async () => {
        const m = (await app('metrics'))?.pm2_env.axm_monitor;
        return m?.['Number of calls']?.value === 2 && m['Calls per minute']?.value === 3 && typeof m['Last call']?.value === 'string' ? m : undefined;
      },
      10_000,
    );
    expect({
      lastCall: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(String(monitor['Last call']?.value)),
      calls: monitor['Number of calls'],
      perMinute: monitor['Calls per minute'],
      loopDelay: { unit: monitor['Loop delay']?.unit, type: monitor['Loop delay']?.type, isNumber: typeof monitor['Loop delay']?.value },
      defaults: ['Active requests', 'Active handles'].map((k) => typeof monitor[k]?.value),
    }).toEqual({
      lastCall: true,
      calls: { value: 2, type: 'Number of calls', historic: true, agg_type: 'avg' },
      perMinute: { value: 3, type: 'Calls per minute', historic: true, agg_type: 'avg' },
      loopDelay: { unit: 'ms', type: 'libuv/latency', isNumber: 'number' },
      defaults: ['number', 'number'],
    });
    const show = (await pm2('show', 'metrics')).stdout;
    expect(['Last call', 'Number of calls', 'Calls per minute', 'Loop delay'].filter((k) => !show.includes(k))).toEqual([]);
    expect(show).toContain(String(monitor['Last call']?.value));
  });

  it('serves the same probes to a Prometheus scrape of that process, Last call as a timestamp', async () => {
    const monitor = (await app('metrics'))?.pm2_env.axm_monitor;
    const text = await (await fetch(metricsUrl('metrics') as string)).text();
    const lines = text.split('\n').filter((l) => /^(last_call|number_of_calls|calls_per_minute)[ {_]/.test(l));
    expect(lines).toEqual([
      `last_call ${Date.parse(String(monitor?.['Last call']?.value)) / 1000}`,
      'number_of_calls 2',
      'calls_per_minute 3',
      'calls_per_minute_events_total 3',
    ]);
  });

  it('lists the actions and runs them with pm2 trigger, which prints the reply', async () => {
    const actions = (await app('actions'))?.pm2_env.axm_actions?.map((a) => a.action_name);
    expect(actions).toEqual(expect.arrayContaining(['memory-leak', 'division']));
    const greeting = await pm2('trigger', 'actions', 'memory-leak');
    expect(greeting.stdout).toMatch(/\[actions:\d+:default\]=\{"result":"Hello David","names":1\}/);
    const division = await pm2('trigger', 'actions', 'division', '4');
    expect(division.stdout).toMatch(/\[actions:\d+:default\]=\{"result":25\}/);
  });

  it("puts a notified error on PM2's bus as process:exception", async () => {
    // pm2's programmatic API reads PM2_HOME when it is first required.
    process.env.PM2_HOME = home.path;
    const pm2Api = createRequire(import.meta.url)('pm2') as {
      connect(cb: (err: Error | null) => void): void;
      launchBus(cb: (err: Error | null, bus: { on(event: string, fn: (packet: { data: Record<string, unknown>; process: { name: string } }) => void): void; close?(): void }) => void): void;
      disconnect(): void;
      disconnectBus?(): void;
    };
    await new Promise<void>((resolve, reject) => pm2Api.connect((err) => (err ? reject(err) : resolve())));
    try {
      const seen = new Promise<{ data: Record<string, unknown>; process: { name: string } }>((resolve, reject) => {
        pm2Api.launchBus((err, bus) => {
          if (err) return reject(err);
          bus.on('process:exception', (packet) => {
            if (packet.process.name === 'actions') resolve(packet);
          });
        });
      });
      // Give the bus a moment to subscribe, then make the division action notify.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await pm2('trigger', 'actions', 'division', '5');
      const packet = await Promise.race([seen, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no process:exception within 10 s')), 10_000))]);
      expect({ name: packet.data.name, message: packet.data.message, stack: String(packet.data.stack).split('\n')[0] }).toEqual({
        name: 'Error',
        message: 'Unexpected Exception!',
        stack: 'Error: Unexpected Exception!',
      });
    } finally {
      pm2Api.disconnectBus?.();
      pm2Api.disconnect();
    }
  });

  it('leaves how a process ends as it was: a finished script stops with code 0 (PM2 without its agent), a crash with code 1', async () => {
    const ends = join(root, 'test/compat/pmx/fixtures/ends.cjs');
    const crash = join(root, 'test/compat/pmx/fixtures/crash.cjs');
    await pm2('start', ends, '--name', 'ends', '--no-autorestart', '--no-pmx');
    await pm2('start', crash, '--name', 'crash', '--no-autorestart');
    const ended = await waitFor(
      'both scripts to stop',
      async () => {
        const list = await jlist();
        const states = ['ends', 'crash'].map((n) => list.find((p) => p.name === n)?.pm2_env);
        return states.every((s) => s?.status === 'stopped') ? states.map((s) => s?.exit_code) : undefined;
      },
      15_000,
    );
    expect(ended).toEqual([0, 1]);
  });
});
