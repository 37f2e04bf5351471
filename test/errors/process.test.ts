import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { captureProcessErrors, type CaptureOptions } from '../../src/index.js';

// Every crash runs in a child process: the fixtures import the built package (dist/),
// print JSON lines on stdout (records from an onError listener, `{ exit: code }` from the
// 'exit' event) and the tests assert those lines, the exit code and stderr.

const FIXTURES = fileURLToPath(new URL('./fixtures/process/', import.meta.url));

interface Run {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout, one parsed JSON value per line. */
  readonly lines: unknown[];
  readonly elapsedMs: number;
}

/** Runs a fixture with its own clean environment (no inherited NODE_OPTIONS unless given); killed after 10 s. */
function run(fixture: string, args: readonly string[] = [], nodeArgs: readonly string[] = [], nodeOptions?: string): Run {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  if (nodeOptions !== undefined) env.NODE_OPTIONS = nodeOptions;
  const started = Date.now();
  const child = spawnSync(process.execPath, [...nodeArgs, `${FIXTURES}${fixture}.mjs`, ...args], {
    encoding: 'utf8',
    timeout: 10_000,
    killSignal: 'SIGKILL',
    env,
  });
  const elapsedMs = Date.now() - started;
  if (child.error !== undefined) throw child.error;
  const lines = child.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
  return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr, lines, elapsedMs };
}

interface PrintedRecord {
  readonly name: string;
  readonly message: string;
  readonly source: string;
  readonly context: Record<string, unknown>;
  readonly stack: string | null;
  readonly ownPid: boolean;
}

/** The records a fixture printed, in order. */
function records(r: Run): PrintedRecord[] {
  return r.lines.flatMap((line) =>
    line !== null && typeof line === 'object' && 'record' in line ? [(line as { record: PrintedRecord }).record] : [],
  );
}

/** What a fixture printed besides records. */
function events(r: Run): unknown[] {
  return r.lines.filter((line) => !(line !== null && typeof line === 'object' && 'record' in line));
}

/** The record of an `Error` made in the fixture: any stack that names the error and the fixture file. */
function errorRecord(message: string, source: string, fixture: string, context: Record<string, unknown> = {}): PrintedRecord {
  return {
    name: 'Error',
    message,
    source,
    context,
    stack: expect.stringMatching(new RegExp(`^Error: ${message}\\n\\s+at .*/fixtures/process/${fixture}\\.mjs:\\d+:\\d+`)) as unknown as string,
    ownPid: true,
  };
}

/** Node's `UnhandledPromiseRejectionWarning` lines in a stderr text. */
function rejectionWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /^\(node:\d+\) UnhandledPromiseRejectionWarning: /.test(line));
}

const NODE_FOOTER = `\n\nNode.js ${process.version}\n`;

describe('captureProcessErrors() and an uncaught exception', () => {
  it('notifies the error once, lets a 50 ms flush hook complete, prints the stack and exits with code 1', () => {
    const r = run('uncaught-flush');
    const [record, ...more] = records(r);
    expect(record).toEqual(errorRecord('boom', 'uncaughtException', 'uncaught-flush'));
    expect(more).toEqual([]);
    expect(events(r)).toEqual([{ flush: 'started' }, { flush: 'done' }, { exit: 1 }]);
    expect(r.status).toBe(1);
    expect(r.signal).toBeNull();
    // Printed as Node prints an uncaught error: its stack, then the Node.js version.
    expect(r.stderr).toBe(`${record?.stack}${NODE_FOOTER}`);
  });

  it('exits with code 1 once flushTimeoutMs has passed when a flush hook never settles', () => {
    const r = run('uncaught-hung-flush');
    expect(records(r)).toEqual([errorRecord('stuck', 'uncaughtException', 'uncaught-hung-flush')]);
    const [started, exited] = events(r) as [{ flush: string; at: number }, { exit: number; at: number }];
    expect(started.flush).toBe('started');
    expect(exited.exit).toBe(1);
    const waited = exited.at - started.at;
    expect(waited).toBeGreaterThanOrEqual(295);
    expect(waited).toBeLessThan(300 + 700);
    expect(events(r)).toHaveLength(2);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Error: stuck\n\s+at /);
  });

  it('only observes when the application has its own uncaughtException listener: the process keeps running', () => {
    const r = run('app-uncaught-listener');
    expect(records(r)).toEqual([errorRecord('handled by the app', 'uncaughtException', 'app-uncaught-listener')]);
    expect(events(r)).toEqual([{ app: 'handled by the app', origin: 'uncaughtException' }, 'survived', { exit: 0 }]);
    expect(r.status).toBe(0);
  });

  it('writes nothing at all to stderr for an error the application handles, unless log is true', () => {
    expect(run('app-uncaught-listener').stderr).toBe('');
  });

  it('writes exactly one line to stderr for an error the application handles when log is true', () => {
    const r = run('app-uncaught-listener', ['log']);
    expect(r.stderr).toBe('probekit: captured uncaughtException (the application handles it)\n');
    expect(events(r)).toEqual([{ app: 'handled by the app', origin: 'uncaughtException' }, 'survived', { exit: 0 }]);
    expect(r.status).toBe(0);
  });

  it('notifies before an application listener that calls process.exit(3) at once, and the exit code stays 3', () => {
    const r = run('app-exit-listener');
    expect(records(r)).toEqual([errorRecord('fatal for the app', 'uncaughtException', 'app-exit-listener')]);
    expect(events(r)).toEqual(['app exits', { exit: 3 }]);
    expect(r.status).toBe(3);
    expect(r.stderr).toBe('');
  });

  it.each(['before', 'after'])('lets a library that exits only when it listens alone (PM2\'s agent, pmx) end the process, its listener added %s capture', (order) => {
    const r = run('alone-listener', [order]);
    expect(records(r)).toEqual([errorRecord('crash beside the library', 'uncaughtException', 'alone-listener')]);
    expect(events(r)).toEqual([{ listeners: 1 }, 'library exits', { exit: 5 }]);
    expect(r.status).toBe(5);
  });

  it('takes the crash back when the application removes its last listener: probekit prints it and exits 1', () => {
    const r = run('alone-listener', ['removed']);
    expect(records(r)).toEqual([errorRecord('crash beside the library', 'uncaughtException', 'alone-listener')]);
    expect(events(r)).toEqual([{ listeners: 1 }, { exit: 1 }]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Error: crash beside the library\n/);
  });

  it('attaches the request context active where the error was thrown to the record', () => {
    const r = run('context');
    expect(records(r)).toEqual([errorRecord('inside a request', 'uncaughtException', 'context', { requestId: 'req-42', user: 'ada' })]);
    expect(r.status).toBe(1);
  });

  it('hands an uncaught exception back to Node after close(): Node prints it, exits 1 and no record is made', () => {
    const r = run('closed');
    expect(records(r)).toEqual([]);
    expect(events(r)).toEqual([{ listeners: { uncaughtException: 0, uncaughtExceptionMonitor: 0, unhandledRejection: 0 } }, { exit: 1 }]);
    expect(r.status).toBe(1);
    // Node's own report starts with the throwing line and a caret; probekit's does not.
    expect(r.stderr).toMatch(/^file:\/\/.*\/fixtures\/process\/closed\.mjs:\d+\n\s+throw new Error\('after close'\);\n\s+\^\n\nError: after close\n/);
    expect(r.stderr.endsWith(NODE_FOOTER)).toBe(true);
  });

  it('leaves no handle behind: a process that only turns capture on exits 0 by itself, promptly', () => {
    const r = run('idle');
    expect(r.status).toBe(0);
    expect(r.signal).toBeNull();
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    expect(r.elapsedMs).toBeLessThan(5_000);
  });
});

describe('captureProcessErrors() and an unhandled rejection', () => {
  it('crashes by default as Node does: notified, the reason on stderr, exit code 1', () => {
    const r = run('rejection');
    const [record, ...more] = records(r);
    expect(record).toEqual(errorRecord('rejected', 'unhandledRejection', 'rejection'));
    expect(more).toEqual([]);
    expect(events(r)).toEqual([{ exit: 1 }]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${record?.stack}${NODE_FOOTER}`);
  });

  it.each([
    { reason: 'string', record: { name: 'Error', message: 'a string' }, shown: `"'a string'"` },
    { reason: 'undefined', record: { name: 'undefined', message: 'undefined' }, shown: '"undefined"' },
  ])('crashes in throw mode on a non-Error reason ($reason), with a record of the reason and exit code 1', ({ reason, record, shown }) => {
    const r = run('rejection', ['throw', reason]);
    expect(records(r)).toEqual([{ ...record, source: 'unhandledRejection', context: {}, stack: null, ownPid: true }]);
    expect(events(r)).toEqual([{ exit: 1 }]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^UnhandledPromiseRejection: This error originated either by throwing inside of an async function/);
    expect(r.stderr).toContain(`The promise rejected with the reason ${shown}.`);
    expect(r.stderr).toContain("code: 'ERR_UNHANDLED_REJECTION'");
  });

  it("keeps running in 'warn' mode and prints Node's two warnings", () => {
    const r = run('rejection', ['warn']);
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection')]);
    expect(events(r)).toEqual(['survived', { exit: 0 }]);
    expect(r.status).toBe(0);
    expect(rejectionWarnings(r.stderr)).toEqual([
      expect.stringMatching(/UnhandledPromiseRejectionWarning: Error: rejected$/),
      expect.stringMatching(/UnhandledPromiseRejectionWarning: Unhandled promise rejection\. This error originated .*\(rejection id: 1\)$/),
    ]);
  });

  it("keeps running silently in 'none' mode", () => {
    const r = run('rejection', ['none']);
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection')]);
    expect(events(r)).toEqual(['survived', { exit: 0 }]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it("keeps running in 'warn-with-error-code' mode, warns, and ends with exit code 1", () => {
    const r = run('rejection', ['warn-with-error-code']);
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection')]);
    expect(events(r)).toEqual(['survived', { exit: 1 }]);
    expect(r.status).toBe(1);
    expect(rejectionWarnings(r.stderr)).toHaveLength(2);
  });

  it("crashes in 'strict' mode with no listener of the application", () => {
    const r = run('rejection', ['strict']);
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection')]);
    expect(events(r)).toEqual([{ exit: 1 }]);
    expect(r.status).toBe(1);
  });

  it('notifies and keeps running when the application has its own unhandledRejection listener', () => {
    const r = run('rejection-app-listener');
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection-app-listener')]);
    expect(events(r)).toEqual([{ app: 'rejected' }, 'survived', { exit: 0 }]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it("crashes in 'strict' mode even when the application has an unhandledRejection listener, as node --unhandled-rejections=strict does", () => {
    // Node's strict mode raises the rejection as an uncaught exception whatever
    // unhandledRejection listeners exist (see the control run below).
    const native = run('rejection-app-listener', ['off'], ['--unhandled-rejections=strict']);
    expect(native.lines).toEqual([{ exit: 1 }]);
    expect(native.status).toBe(1);
    const r = run('rejection-app-listener', ['strict']);
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection-app-listener')]);
    expect(r.status).toBe(1);
    expect(events(r)).toEqual([{ exit: 1 }]);
  });

  it("gives the rejection to the application's uncaughtException listener in throw mode, and keeps running", () => {
    const r = run('rejection-app-uncaught-listener');
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection-app-uncaught-listener')]);
    expect(events(r)).toEqual([
      { app: { name: 'Error', code: null, message: 'rejected', origin: 'unhandledRejection', isReason: true } },
      'survived',
      { exit: 0 },
    ]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it("wraps a non-Error reason in Node's UnhandledPromiseRejection error for the application's uncaughtException listener", () => {
    const r = run('rejection-app-uncaught-listener', ['string']);
    expect(records(r)).toEqual([{ name: 'Error', message: 'a string', source: 'unhandledRejection', context: {}, stack: null, ownPid: true }]);
    expect(events(r)).toEqual([
      {
        app: {
          name: 'UnhandledPromiseRejection',
          code: 'ERR_UNHANDLED_REJECTION',
          message:
            'This error originated either by throwing inside of an async function without a catch block, ' +
            `or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason "'a string'".`,
          origin: 'unhandledRejection',
          isReason: false,
        },
      },
      'survived',
      { exit: 0 },
    ]);
    expect(r.status).toBe(0);
  });

  it.each([
    { app: 'no uncaughtException listener', args: [], after: [{ exit: 1 }] },
    { app: 'an uncaughtException listener', args: ['listener'], after: [{ app: 'rejected', origin: 'unhandledRejection' }, 'survived', { exit: 0 }] },
  ])("calls the application's uncaughtExceptionMonitor for a rejection in throw mode as Node does, with $app", ({ args, after }) => {
    const monitored = { monitor: 'rejected', origin: 'unhandledRejection' };
    // Node alone raises the rejection as an uncaught exception: monitors see it first.
    const native = run('rejection-monitor', ['off', ...args]);
    expect(native.lines).toEqual([monitored, ...after]);
    const r = run('rejection-monitor', ['on', ...args]);
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection-monitor')]);
    expect(events(r)).toEqual([monitored, ...after]);
  });

  it('follows node --unhandled-rejections=warn when no mode is given: notified, and the process keeps running', () => {
    const r = run('rejection', ['default'], ['--unhandled-rejections=warn']);
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection')]);
    expect(events(r)).toEqual(['survived', { exit: 0 }]);
    expect(r.status).toBe(0);
  });

  it('prints the same warnings under node --unhandled-rejections=warn as Node does without probekit (no duplicate)', () => {
    // In warn mode Node warns whatever listeners exist; probekit must not add its own warning on top.
    const normalise = (stderr: string) => rejectionWarnings(stderr).map((line) => line.replace(/^\(node:\d+\)/, '(node:PID)'));
    const native = run('rejection', ['off'], ['--unhandled-rejections=warn']);
    expect(native.lines).toEqual(['survived', { exit: 0 }]);
    expect(normalise(native.stderr)).toEqual([
      '(node:PID) UnhandledPromiseRejectionWarning: Error: rejected',
      expect.stringMatching(/^\(node:PID\) UnhandledPromiseRejectionWarning: Unhandled promise rejection\. This error originated .*\(rejection id: 1\)$/),
    ]);
    const r = run('rejection', ['default'], ['--unhandled-rejections=warn']);
    expect(normalise(r.stderr)).toEqual(normalise(native.stderr));
  });

  it('follows the flag also when given as two arguments (node --unhandled-rejections warn), as Node accepts it', () => {
    const native = run('rejection', ['off'], ['--unhandled-rejections', 'warn']);
    expect(native.lines).toEqual(['survived', { exit: 0 }]);
    expect(native.status).toBe(0);
    const r = run('rejection', ['default'], ['--unhandled-rejections', 'warn']);
    expect(records(r)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection')]);
    expect(events(r)).toEqual(['survived', { exit: 0 }]);
    expect(r.status).toBe(0);
  });
});

describe('captureProcessErrors() options', () => {
  const bad = (value: unknown): never => value as never;
  const rows: ReadonlyArray<{ what: string; options: CaptureOptions; type: typeof TypeError | typeof RangeError; message: string }> = [
    {
      what: 'unhandledRejections "sometimes"',
      options: { unhandledRejections: bad('sometimes') },
      type: TypeError,
      message: 'probekit: captureProcessErrors() option "unhandledRejections" must be one of throw, strict, warn, warn-with-error-code, none, got "sometimes" (string)',
    },
    {
      what: 'flushTimeoutMs -1',
      options: { flushTimeoutMs: -1 },
      type: RangeError,
      message: 'probekit: captureProcessErrors() option "flushTimeoutMs" must be an integer >= 0, got -1 (number)',
    },
    {
      what: 'flushTimeoutMs 1.5',
      options: { flushTimeoutMs: 1.5 },
      type: RangeError,
      message: 'probekit: captureProcessErrors() option "flushTimeoutMs" must be an integer >= 0, got 1.5 (number)',
    },
    {
      what: 'flushTimeoutMs "x"',
      options: { flushTimeoutMs: bad('x') },
      type: TypeError,
      message: 'probekit: captureProcessErrors() option "flushTimeoutMs" must be an integer, got "x" (string)',
    },
    {
      what: 'log "yes"',
      options: { log: bad('yes') },
      type: TypeError,
      message: 'probekit: captureProcessErrors() option "log" must be a boolean, got "yes" (string)',
    },
    {
      what: 'an unknown key',
      options: bad({ flushTimeout: 100 }),
      type: TypeError,
      message: 'probekit: captureProcessErrors() has no option "flushTimeout"; known options are: unhandledRejections, flushTimeoutMs, log, store',
    },
    {
      what: 'options that are not an object',
      options: bad('warn'),
      type: TypeError,
      message: 'probekit: captureProcessErrors() options must be an options object, got "warn" (string)',
    },
  ];

  it.each(rows)('rejects $what with a $type.name and installs nothing', ({ options, type, message }) => {
    const before = ['uncaughtException', 'uncaughtExceptionMonitor', 'unhandledRejection'].map((e) => process.listenerCount(e));
    let thrown: unknown;
    try {
      captureProcessErrors(options).close();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as Error).message).toBe(message);
    expect(['uncaughtException', 'uncaughtExceptionMonitor', 'unhandledRejection'].map((e) => process.listenerCount(e))).toEqual(before);
  });

  it('accepts every documented mode, a zero deadline and log false, and close() removes what it installed', () => {
    const before = ['uncaughtException', 'uncaughtExceptionMonitor', 'unhandledRejection'].map((e) => process.listenerCount(e));
    for (const unhandledRejections of ['throw', 'strict', 'warn', 'warn-with-error-code', 'none'] as const) {
      const capture = captureProcessErrors({ unhandledRejections, flushTimeoutMs: 0, log: false });
      // The test runner listens to 'uncaughtException' itself: probekit's own listener stays out then.
      expect(['uncaughtException', 'uncaughtExceptionMonitor', 'unhandledRejection'].map((e) => process.listenerCount(e))).toEqual(before.map((n, i) => (i === 0 && n > 0 ? n : n + 1)));
      capture.close();
    }
    expect(['uncaughtException', 'uncaughtExceptionMonitor', 'unhandledRejection'].map((e) => process.listenerCount(e))).toEqual(before);
  });
});

describe('--unhandled-rejections with process capture on, side by side with plain Node', () => {
  const modes = ['throw', 'strict', 'warn', 'warn-with-error-code', 'none'] as const;
  const cases = modes.flatMap((mode) => [
    { mode, via: 'the command line', nodeArgs: [`--unhandled-rejections=${mode}`], nodeOptions: undefined },
    { mode, via: 'NODE_OPTIONS', nodeArgs: [], nodeOptions: `--unhandled-rejections=${mode}` },
  ]);
  const normalise = (stderr: string) => rejectionWarnings(stderr).map((line) => line.replace(/^\(node:\d+\)/, '(node:PID)'));
  const outcome = (r: Run) => ({ status: r.status, survived: events(r).includes('survived'), warnings: normalise(r.stderr) });

  it.each(cases)("behaves as plain Node in '$mode' mode given by $via: same exit code, same survival, same warnings", ({ nodeArgs, nodeOptions }) => {
    const native = run('rejection', ['off'], nodeArgs, nodeOptions);
    const captured = run('rejection', ['default'], nodeArgs, nodeOptions);
    expect(outcome(captured)).toEqual(outcome(native));
    expect(records(captured)).toEqual([errorRecord('rejected', 'unhandledRejection', 'rejection')]);
  });
});
