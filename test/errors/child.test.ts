import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChildWatch, createErrorStore, createProbe, type ErrorRecord, type Probe, watchChild, type WatchChildOptions } from '../../src/index.js';

// The parent side runs here, in the test process, with an isolated store; the children
// are fixtures that import the built package (dist/).

const FIXTURES = fileURLToPath(new URL('./fixtures/child/', import.meta.url));
const TAG = 'probekit:error-record';

const children = new Set<ChildProcess>();
let p: Probe | undefined;

afterEach(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  p?.close();
  p = undefined;
});

/** Starts a fixture: `fork` (with an IPC channel) or `spawn` (without); stdout and stderr piped; killed after 10 s. */
function start(how: 'fork' | 'spawn', fixture: string, args: readonly string[] = []): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  const file = `${FIXTURES}${fixture}.mjs`;
  const common = { env, timeout: 10_000, killSignal: 'SIGKILL' as const };
  const child =
    how === 'fork'
      ? fork(file, [...args], { ...common, execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
      : spawn(process.execPath, [file, ...args], { ...common, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  return child;
}

interface Watched {
  readonly records: ErrorRecord[];
  readonly watch: ChildWatch;
  /** Resolves on the child's 'close' with how it ended and what it wrote to stdout. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>;
  /** Resolves with the first stdout chunk that contains `text`. */
  readonly stdoutHas: (text: string) => Promise<void>;
}

/** Watches `child` into a fresh store (on its own probe) and collects what the store takes. */
function watched(child: ChildProcess, options: Omit<WatchChildOptions, 'store'> = {}): Watched {
  p = createProbe();
  const store = createErrorStore({ probe: p });
  const records: ErrorRecord[] = [];
  store.onError((record) => records.push(record));
  // passStderr: false keeps the children's stderr out of the test output (its default is checked below).
  const watch = watchChild(child, { passStderr: false, ...options, store });
  let stdout = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdout += chunk;
    for (const w of waiters) if (stdout.includes(w.text)) w.resolve();
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal, stdout }));
  });
  const stdoutHas = (text: string) =>
    new Promise<void>((resolve) => {
      if (stdout.includes(text)) resolve();
      else waiters.push({ text, resolve });
    });
  return { records, watch, closed, stdoutHas };
}

/** The record watchChild() makes for a child that ended badly. */
function exitRecord(child: ChildProcess, how: string, context: { code: number | null; signal: string | null; stderr: string }) {
  const message = `child process ${child.pid} ${how}`;
  return {
    name: 'ChildProcessExit',
    message,
    stack: `ChildProcessExit: ${message}`,
    causes: [],
    errors: [],
    code: null,
    time: expect.any(Number) as unknown as number,
    fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/) as unknown as string,
    context: { pid: child.pid, ...context },
    pid: child.pid,
    source: 'child-exit',
  };
}

/** "line a" ... "line b", one per line. */
function lines(from: number, to: number): string {
  return Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`).join('\n');
}

describe('watchChild() with a forked child that calls forwardErrors()', () => {
  it("receives the child's notified error as one record tagged with the child's pid", async () => {
    const child = start('fork', 'notify');
    const { records, closed } = watched(child);
    expect(await closed).toEqual({ code: 0, signal: null, stdout: '' });
    expect(records).toEqual([
      {
        name: 'Error',
        message: 'from child',
        stack: expect.stringMatching(/^Error: from child\n\s+at .*\/fixtures\/child\/notify\.mjs:\d+:\d+/),
        causes: [],
        errors: [],
        code: null,
        time: expect.any(Number),
        fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
        context: { job: 7 },
        pid: child.pid,
        source: 'notify',
      },
    ]);
  });

  it("receives a child's uncaught exception, then a ChildProcessExit record with code 1 and the crash report from stderr", async () => {
    const child = start('fork', 'throw');
    const { records, closed } = watched(child);
    expect(await closed).toEqual({ code: 1, signal: null, stdout: '' });
    const [uncaught, exit, ...more] = records;
    expect(more).toEqual([]);
    expect(uncaught).toMatchObject({ name: 'Error', message: 'child crashed', source: 'uncaughtException', pid: child.pid, context: {} });
    expect(uncaught?.stack).toMatch(/^Error: child crashed\n\s+at .*\/fixtures\/child\/throw\.mjs:\d+:\d+/);
    // The child printed its stack and the Node.js version, as Node does; all of it fits in 20 lines.
    expect(exit).toEqual(exitRecord(child, 'exited with code 1', { code: 1, signal: null, stderr: `${uncaught?.stack}\n\nNode.js ${process.version}` }));
    expect(exit?.context.stderr).toContain('child crashed');
  });

  it("ignores forged and garbage messages, rebuilds a well-formed one field by field, and leaves the application's messages alone", async () => {
    const child = start('fork', 'forged');
    const appMessages: unknown[] = [];
    child.on('message', (message) => appMessages.push(message));
    const { records, closed } = watched(child);
    expect((await closed).code).toBe(0);
    expect(records).toEqual([
      {
        name: 'N'.repeat(128),
        message: '',
        stack: null,
        causes: [],
        errors: [
          { name: 'Error', message: '', stack: null },
          { name: 'Error', message: 'inner', stack: 'Inner: inner' },
        ],
        code: null,
        time: expect.any(Number),
        fingerprint: 'f'.repeat(64),
        context: {},
        pid: child.pid,
        source: 'forged',
      },
      expect.objectContaining({ name: 'Error', message: 'real one', source: 'notify', pid: child.pid }),
    ]);
    // The application's handler gets every message except probekit's own (those tagged
    // with its type, forged or real): 6 of the 12 sent by hand, and not the forwarded record.
    expect(appMessages).toHaveLength(6);
    expect(appMessages.slice(0, 4)).toEqual(['probekit:error-record', null, 42, [TAG]]);
    expect(appMessages).toContainEqual({ type: 'app', payload: { hello: 'parent' } });
    for (const m of appMessages) expect((m as { type?: unknown } | null)?.type).not.toBe(TAG);
  });

  it('stops taking records after watch.close()', async () => {
    const child = start('fork', 'close-watch');
    const { records, watch, closed } = watched(child);
    await expect.poll(() => records.length, { timeout: 5_000 }).toBe(1);
    watch.close();
    child.send('crash');
    // The child went on to notify, crash and exit 1, but none of it was recorded.
    expect((await closed).code).toBe(1);
    expect(records).toEqual([expect.objectContaining({ message: 'before close', source: 'notify', pid: child.pid })]);
  });
});

describe('watchChild() exit records', () => {
  it('turns a non-zero exit of a spawned child into one ChildProcessExit record with exactly the last 20 lines of stderr', async () => {
    const child = start('spawn', 'stderr-lines', ['50', '2']);
    const { records, closed } = watched(child);
    expect(await closed).toEqual({ code: 2, signal: null, stdout: '' });
    expect(records).toEqual([exitRecord(child, 'exited with code 2', { code: 2, signal: null, stderr: lines(31, 50) })]);
  });

  it('keeps the last 3 lines with stderrLines: 3', async () => {
    const child = start('spawn', 'stderr-lines', ['50', '2']);
    const { records, closed } = watched(child, { stderrLines: 3 });
    await closed;
    expect(records.map((r) => r.context.stderr)).toEqual(['line 48\nline 49\nline 50']);
  });

  it('keeps no line with stderrLines: 0', async () => {
    const child = start('spawn', 'stderr-lines', ['50', '2']);
    const { records, closed } = watched(child, { stderrLines: 0 });
    await closed;
    expect(records.map((r) => r.context.stderr)).toEqual(['']);
  });

  it('records a child killed by SIGKILL with signal SIGKILL and code null', async () => {
    const child = start('spawn', 'wait');
    const { records, closed, stdoutHas } = watched(child);
    await stdoutHas('ready\n');
    child.kill('SIGKILL');
    expect(await closed).toEqual({ code: null, signal: 'SIGKILL', stdout: 'ready\n' });
    expect(records).toEqual([exitRecord(child, 'was killed by SIGKILL', { code: null, signal: 'SIGKILL', stderr: '' })]);
  });

  it('records nothing for a child that exits with code 0, whatever it wrote to stderr', async () => {
    const child = start('spawn', 'stderr-lines', ['5', '0']);
    const { records, closed } = watched(child);
    expect((await closed).code).toBe(0);
    expect(records).toEqual([]);
  });

  it('bounds the stderr kept from a child that writes 1 MB to stderrBytes (8192 by default)', async () => {
    const child = start('spawn', 'big-stderr');
    const { records, closed } = watched(child);
    expect((await closed).code).toBe(2);
    expect(records).toHaveLength(1);
    expect(records[0]?.context.stderr).toBe('x'.repeat(8192));
  });

  it('bounds the stderr kept to a given stderrBytes', async () => {
    const child = start('spawn', 'big-stderr');
    const { records, closed } = watched(child, { stderrBytes: 100 });
    await closed;
    expect(records.map((r) => r.context.stderr)).toEqual(['x'.repeat(100)]);
  });

  it('keeps no stderr at all with stderrBytes: 0', async () => {
    const child = start('spawn', 'stderr-lines', ['50', '2']);
    const { records, closed } = watched(child, { stderrBytes: 0 });
    await closed;
    expect(records.map((r) => r.context.stderr)).toEqual(['']);
  });

  it('counts stderrBytes in bytes, not characters, when the child writes multi-byte UTF-8', async () => {
    const child = start('spawn', 'big-stderr', ['é']);
    const { records, closed } = watched(child);
    await closed;
    const stderr = String(records[0]?.context.stderr);
    expect(Buffer.byteLength(stderr)).toBeLessThanOrEqual(8192);
    expect(stderr).toMatch(/^é+$/);
  });

  it('keeps a UTF-8 character intact when the pipe delivers its bytes in two chunks', async () => {
    const child = start('spawn', 'split-utf8');
    const { records, closed } = watched(child);
    expect((await closed).code).toBe(2);
    expect(records.map((r) => r.context.stderr)).toEqual(['café']);
  });
});

describe('forwardErrors() without an IPC channel', () => {
  it('does nothing and does not throw in a spawned child, and the child exits 0 with nothing recorded', async () => {
    const child = start('spawn', 'no-ipc');
    const { records, closed } = watched(child);
    const stderr: string[] = [];
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
    const outcome = await closed;
    expect(outcome).toEqual({
      code: 0,
      signal: null,
      stdout: `${JSON.stringify({ listeners: [0, 0, 0], notified: 'stays here', hasClose: 'function' })}\n`,
    });
    expect(stderr.join('')).toBe('');
    expect(records).toEqual([]);
  });
});

describe('watchChild() in a migrating parent (the parent is a child process of the test)', () => {
  const parent = spawnSync(process.execPath, [`${FIXTURES}parent-app.mjs`], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } });
  const lines = parent.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

  it("keeps probekit's records out of the application's own child.on('message') handler", () => {
    expect(lines).toEqual([{ appGot: { hello: 'parent' } }, { childExit: 1 }]);
  });

  it("passes the child's stderr through to the parent's by default, so the crash stack reaches the terminal", () => {
    expect(parent.stderr).toContain('Error: the child crashed\n    at Timeout._onTimeout');
    expect(parent.status).toBe(0);
  });
});
