import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { handleShutdown, onShutdown, shutdown } from '../../src/index.js';
import { bad, expectError, runFixture, thrown } from '../support/helpers.js';

// The lifecycle is process-wide: each case runs in a process of its own.
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

describe('shutdown()', () => {
  it('marks the process not ready at once, waits delayMs, closes the server, flushes the exporter, then runs the hooks', () => {
    const r = runFixture(FIXTURES, 'phases.mjs');
    expect(r.stderr).toBe('');
    const events = r.lines as Array<Record<string, unknown> & { at: number }>;
    const order = events.map(({ at: _at, ...e }) => e);
    expect(order).toEqual([
      { ready: false },
      { same: true },
      { server: 'closed' },
      { datagram: 'jobs:2|c' },
      { hook: 'ran' },
      { report: { timedOut: false, failures: 0 } },
      { connect: 'ECONNREFUSED' },
    ]);
    const closed = events.find((e) => 'server' in e) as { at: number };
    const notReady = events[0] as { at: number };
    expect(closed.at - notReady.at).toBeGreaterThanOrEqual(95); // delayMs 100, timers may fire a little early
  });

  it('resolves { timedOut: true } once timeoutMs has passed when a hook never settles', () => {
    const r = runFixture(FIXTURES, 'deadline.mjs', 'hang');
    const [out] = r.lines as Array<{ report: unknown; ms: number }>;
    expect(out?.report).toEqual({ timedOut: true, failures: 0 });
    expect(out?.ms).toBeGreaterThanOrEqual(295);
    expect(out?.ms).toBeLessThan(1300);
    expect(r.status).toBe(0);
  });

  it('holds the process no longer than the deadline when delayMs is longer: it ends on its own right after', () => {
    const started = Date.now();
    const r = runFixture(FIXTURES, 'delay.mjs');
    expect({ status: r.status, lines: r.lines, stderr: r.stderr }).toEqual({ status: 0, lines: [{ timedOut: true, failures: 0 }], stderr: '' });
    expect(Date.now() - started).toBeLessThan(4000); // the delay asked for was 8 s
  });

  it('resolves, never rejects, when a hook throws, counting it as a failure', () => {
    const r = runFixture(FIXTURES, 'deadline.mjs', 'throw');
    expect((r.lines[0] as { report: unknown }).report).toEqual({ timedOut: false, failures: 1 });
    expect(r.stderr).toBe('');
  });

  it('counts the hooks that failed before the deadline passed in a report that timed out', () => {
    const r = runFixture(FIXTURES, 'deadline.mjs', 'both');
    expect((r.lines[0] as { report: unknown }).report).toEqual({ timedOut: true, failures: 1 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('flushes once on beforeExit, so a flush that schedules more work does not start another and the process ends', () => {
    const r = runFixture(FIXTURES, 'before-exit.mjs');
    expect({ status: r.status, signal: r.signal, lines: r.lines, stderr: r.stderr }).toEqual({
      status: 0,
      signal: null,
      lines: [{ beforeExit: 2, reads: 1 }],
      stderr: '',
    });
  });

  it('adds no beforeExit listener to a process that opened no exporter, and one once an exporter opens', () => {
    const r = runFixture(FIXTURES, 'listeners.mjs');
    expect(r.lines).toEqual([{ before: 0, after: 1 }]);
  });

  it.each([
    { what: 'a negative timeoutMs', call: () => shutdown({ timeoutMs: -1 }), type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'timeoutMs' },
    { what: 'a fractional delayMs', call: () => shutdown({ delayMs: 1.5 }), type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'delayMs' },
    { what: 'an unknown option', call: () => shutdown(bad({ timeout: 5 })), type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'timeout' },
    { what: 'handleShutdown() with no signals', call: () => handleShutdown({ signals: [] }), type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'signals' },
    { what: 'handleShutdown() with a signal that is not a name', call: () => handleShutdown({ signals: bad(['TERM']) }), type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'signals[]' },
    { what: 'onShutdown() given a number', call: () => onShutdown(bad(5)), type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined },
  ])('throws for $what, before anything starts', ({ call, type, code, option }) => {
    expectError(thrown(call), { type, code, option });
  });
});

describe('handleShutdown()', () => {
  it('ends the process by SIGTERM when it is the only listener', () => {
    const r = runFixture(FIXTURES, 'signal.mjs', 'alone');
    expect({ status: r.status, signal: r.signal, lines: r.lines, stderr: r.stderr }).toEqual({ status: null, signal: 'SIGTERM', lines: [], stderr: '' });
  });

  it.each([
    { mode: 'on-after', what: 'process.on() after handleShutdown()' },
    { mode: 'once-after', what: 'process.once() after handleShutdown()' },
    { mode: 'once-before', what: 'process.once() before handleShutdown()' },
  ])("leaves the exit to the application's handler registered with $what, which exits with its own code", ({ mode }) => {
    const r = runFixture(FIXTURES, 'signal.mjs', mode);
    expect({ status: r.status, signal: r.signal, lines: r.lines, stderr: r.stderr }).toEqual({ status: 3, signal: null, lines: [{ app: 'handler' }], stderr: '' });
  });

  it('ends the process by SIGTERM when handleShutdown() was called twice (no other listener)', () => {
    const r = runFixture(FIXTURES, 'signal.mjs', 'twice');
    expect({ status: r.status, signal: r.signal, lines: r.lines, stderr: r.stderr }).toEqual({ status: null, signal: 'SIGTERM', lines: [], stderr: '' });
  });
});
