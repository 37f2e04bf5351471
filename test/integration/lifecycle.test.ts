/**
 * How a process that uses probekit ends, against the real StatsD daemon: each case is a
 * program of its own (test/integration/fixtures/lifecycle) whose exporter never flushes on
 * its timer, so whatever reaches the daemon came from the lifecycle.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatsdDaemon } from '../support/statsd-daemon.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/lifecycle/', import.meta.url));
const daemon = new StatsdDaemon();

beforeAll(() => daemon.start(), 20_000);
afterAll(() => daemon.close());

interface Ended {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Runs a fixture; `signals` are sent one after another once it printed `ready` (each after
 * the given delay). A child still running after 15 s is killed with SIGKILL.
 */
function run(fixture: string, args: string[], signals: Array<[NodeJS.Signals, number]> = []): Promise<Ended> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [`${FIXTURES}${fixture}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!sent && stdout.includes('ready\n')) {
        sent = true;
        let at = 0;
        for (const [signal, delay] of signals) {
          at += delay;
          setTimeout(() => child.kill(signal), at);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (status, signal) => {
      clearTimeout(kill);
      resolve({ status, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** What the daemon holds for a fixture's prefix, waiting until the counter arrived. */
async function delivered(prefix: string) {
  await daemon.until(`${prefix}.jobs`, () => daemon.counter(`${prefix}.jobs`), 7);
  return { jobs: daemon.counter(`${prefix}.jobs`), latency: daemon.timers(`${prefix}.latency`), depth: daemon.gauge(`${prefix}.depth`) };
}

const ALL = { jobs: 7, latency: [12], depth: 3 };

describe('The lifecycle against the real StatsD daemon', () => {
  it('delivers the last interval of a process that records and ends on its own, which exits with code 0 at once', async () => {
    const ended = await run('ends.mjs', [String(daemon.port), 'l1']);
    expect({ status: ended.status, signal: ended.signal, stderr: ended.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(ended.ms).toBeLessThan(3000); // Node's start and the import included
    expect(await delivered('l1')).toEqual(ALL);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'delivers it on %s with handleShutdown(), and the process ends by that signal, as it does without probekit',
    async (signal) => {
      // The control: the same program, its exporter open, without handleShutdown().
      const control = await run('signal.mjs', [String(daemon.port), `l2c${signal.toLowerCase()}`, 'none'], [[signal, 0]]);
      expect({ status: control.status, signal: control.signal }).toEqual({ status: null, signal });
      const prefix = `l2${signal.toLowerCase()}`;
      const ended = await run('signal.mjs', [String(daemon.port), prefix, 'handle'], [[signal, 0]]);
      expect({ status: ended.status, signal: ended.signal, stderr: ended.stderr }).toEqual({ status: null, signal, stderr: '' });
      expect(await delivered(prefix)).toEqual(ALL);
    },
  );

  it.each([
    { how: 'process.on()', app: 'app', prefix: 'l3' },
    { how: 'process.once()', app: 'app-once', prefix: 'l3once' },
  ])("leaves the exit to the application's own SIGTERM handler added with $how, and still delivers the last interval", async ({ app, prefix }) => {
    const ended = await run('signal.mjs', [String(daemon.port), prefix, 'handle', app], [['SIGTERM', 0]]);
    expect({ status: ended.status, signal: ended.signal, stdout: ended.stdout, stderr: ended.stderr }).toEqual({
      status: 3,
      signal: null,
      stdout: 'ready\napp handler\n',
      stderr: '',
    });
    expect(await delivered(prefix)).toEqual(ALL);
  });

  it('ends the process at once on a second SIGTERM while the shutdown waits for a hook that never settles', async () => {
    const ended = await run('signal.mjs', ['0', 'none', 'stuck'], [
      ['SIGTERM', 0],
      ['SIGTERM', 300],
    ]);
    expect({ status: ended.status, signal: ended.signal }).toEqual({ status: null, signal: 'SIGTERM' });
    expect(ended.ms).toBeLessThan(5000); // the shutdown deadline is 10 s
  });

  it('delivers it when the application awaits shutdown() before process.exit(0)', async () => {
    const ended = await run('exit.mjs', [String(daemon.port), 'l4', 'shutdown']);
    expect({ status: ended.status, stdout: ended.stdout, stderr: ended.stderr }).toEqual({
      status: 0,
      stdout: '{"timedOut":false,"failures":0}\n',
      stderr: '',
    });
    expect(await delivered('l4')).toEqual(ALL);
  });

  it('loses it on a bare process.exit(0), which cannot wait for anything (why the README says to await shutdown())', async () => {
    const ended = await run('exit.mjs', [String(daemon.port), 'l5']);
    expect({ status: ended.status, stderr: ended.stderr }).toEqual({ status: 0, stderr: '' });
    // The daemon flushes every 200 ms: four of its flushes later, nothing has come.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(daemon.counter('l5.jobs')).toBe(0);
  });
});
