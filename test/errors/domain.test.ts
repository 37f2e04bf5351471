import { spawnSync } from 'node:child_process';
import { AsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, errorDomain, type DomainError, type ErrorDomain } from '../../src/index.js';
import { bad, runFixture as runFixtureIn, thrown, expectError } from '../support/helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

const runFixture = (fixture: string, ...args: string[]) => runFixtureIn(FIXTURES, fixture, ...args);

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`the fixtures import ${DIST}: run "npm run build" first`);
});

type Routed = Error & DomainError;

/** Domains created by a test; each is disposed after it, so no process listener or domain stack entry outlives the test. */
const created: ErrorDomain[] = [];
afterEach(() => {
  for (const d of created.splice(0)) d.dispose();
});

function createDomain(): ErrorDomain {
  const d = errorDomain.create();
  created.push(d);
  return d;
}

/** Collects what reaches `d`'s 'error' listener. */
function collect(d: ErrorDomain): Routed[] {
  const got: Routed[] = [];
  d.on('error', (err: Routed) => got.push(err));
  return got;
}

/**
 * Runs `fn` in an async scope of its own, so that `enter()` (AsyncLocalStorage.enterWith)
 * changes that scope only, never the test runner's.
 */
function isolated<R>(fn: () => R): R {
  return new AsyncResource('probekit-test-scope').runInAsyncScope(fn);
}


describe('error domains: the old domain module chapter examples (child processes)', () => {
  it('(a) routes a synchronous throw inside run() to the domain with domainThrown true, run() returns undefined and the process survives', () => {
    const run = runFixture('domain-run.mjs', 'sync');
    expect(run.lines).toEqual([
      { handler: 'd', message: 'thrown synchronously inside run()', domain: 'd', domainThrown: true },
      { runReturned: 'undefined' },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('(a) routes an error thrown in a setTimeout started inside run() to the domain with domainThrown true and the process survives', () => {
    const run = runFixture('domain-run.mjs', 'async');
    expect(run.lines).toEqual([
      { handler: 'd', message: 'thrown in a timer started inside run()', domain: 'd', domainThrown: true },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('(b) routes an added emitter\'s unlistened error event with domainEmitter set and domainThrown false, and a throw from its listener', () => {
    const run = runFixture('domain-add.mjs');
    expect(run.lines).toEqual([
      { handler: 'd', message: 'an error event nobody listens to', domain: 'd', domainThrown: false, domainEmitter: 'emitter' },
      { errorEmitReturned: false },
      { handler: 'd', message: 'thrown by a listener of the added emitter', domain: 'd', domainThrown: true },
      { dataEmitReturned: false },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('(c) routes a throw from a bound fs.readFile callback, without domainBound (set by intercept() only, as Node documents)', () => {
    const run = runFixture('domain-bind.mjs');
    expect(run.lines).toEqual([
      { callbackErr: null, firstLine: '// Chapter example: domain.bind() around an fs.readFile callback that throws.' },
      { handler: 'd', message: 'thrown by the bound readFile callback', domain: 'd', domainThrown: true },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('(d) routes the ENOENT error of an intercepted fs.readFile with domainThrown false and does not call fn', () => {
    const run = runFixture('domain-intercept.mjs', 'missing');
    expect(run.lines).toEqual([
      {
        handler: 'd',
        message: "ENOENT: no such file or directory, open 'probekit-no-such-file.txt'",
        code: 'ENOENT',
        domain: 'd',
        domainThrown: false,
        domainBound: 'onData',
      },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('(d) passes the remaining callback arguments (the data) to an intercepted fn on success', () => {
    const run = runFixture('domain-intercept.mjs', 'present');
    expect(run.lines).toEqual([
      { fnCalledWith: 1, firstLine: '// Chapter example: domain.intercept() around fs.readFile callbacks.' },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('(e) switches the active domain with dom1.exit(); dom2.enter() and routes async work started after the switch to dom2', () => {
    const run = runFixture('domain-switch.mjs');
    expect(run.lines).toEqual([
      { active: 'dom1' },
      { active: 'dom2' },
      { active: 'undefined' },
      { handler: 'dom1', message: 'started while dom1 was active', domain: 'dom1', domainThrown: true },
      { handler: 'dom2', message: 'started after switching to dom2', domain: 'dom2', domainThrown: true },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });
});

describe('error domains: async work started inside run() (child processes)', () => {
  it.each([
    { kind: 'setTimeout', message: 'thrown in setTimeout' },
    { kind: 'setImmediate', message: 'thrown in setImmediate' },
    { kind: 'nextTick', message: 'thrown in process.nextTick' },
    { kind: 'then', message: 'thrown in a .then continuation' },
    { kind: 'async', message: 'rejected by an async function' },
  ])('routes an error from $kind to the domain and the process exits 0', ({ kind, message }) => {
    const run = runFixture('domain-async.mjs', kind);
    expect(run.lines).toEqual([{ handler: 'd', message, domain: 'd', domainThrown: true }]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it("routes an 'error' event with no listener, from an emitter created inside run(), as Node does: domainThrown false, domainEmitter set", () => {
    const run = runFixture('domain-async.mjs', 'emitter');
    const message = 'error event with no listener on an emitter created inside run()';
    expect(run.lines).toEqual([{ handler: 'd', message, domain: 'd', domainThrown: false, domainEmitter: 'unknown' }]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });
});

describe('error domains: nesting (child processes)', () => {
  it('passes an error from an inner domain without an error listener to the outer domain', () => {
    const run = runFixture('domain-nested.mjs', 'inner-without-listener');
    expect(run.lines).toEqual([
      { handler: 'outer', message: 'thrown inside the inner domain', domain: 'outer', domainThrown: true },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('passes the error an inner error listener throws to the outer domain', () => {
    const run = runFixture('domain-nested.mjs', 'inner-listener-throws');
    expect(run.lines).toEqual([
      { handler: 'inner', message: 'thrown inside the inner domain', domain: 'inner', domainThrown: true },
      { handler: 'outer', message: 'the inner error listener failed', domain: 'outer', domainThrown: true },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('exits with code 1 and prints the message when no domain has an error listener', () => {
    const run = runFixture('domain-nested.mjs', 'no-listener');
    expect(run.lines).toEqual([]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Error: thrown inside the inner domain');
  });

  it('exits with code 7 and prints the error an inner listener threw when no outer domain can take it (as node:domain does)', () => {
    const run = runFixture('domain-nested.mjs', 'inner-listener-throws-no-outer-listener');
    expect(run.lines).toEqual([{ handler: 'inner', message: 'thrown inside the inner domain', domain: 'inner', domainThrown: true }]);
    expect(run.status).toBe(7);
    expect(run.stderr).toContain('Error: the inner error listener failed');
  });
});

describe('error domains: errors outside any domain keep Node\'s behaviour (child processes)', () => {
  it('still crashes with exit code 1 and the message on stderr for an exception thrown outside any domain', () => {
    const run = runFixture('domain-outside.mjs', 'uncaught');
    expect(run.lines).toEqual([]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Error: thrown outside any domain');
  });

  it('still crashes with exit code 1 and the message on stderr for a rejection outside any domain', () => {
    const run = runFixture('domain-outside.mjs', 'rejection');
    expect(run.lines).toEqual([]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Error: rejected outside any domain');
  });

  it('works without captureProcessErrors(): no fixture of these tests calls it', () => {
    const fixtures = readdirSync(FIXTURES).filter((f) => /^(domain|context)-.*\.mjs$/.test(f));
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
    for (const f of fixtures) expect(readFileSync(`${FIXTURES}${f}`, 'utf8'), f).not.toContain('captureProcessErrors');
  });
});

describe('error domains: added timers and dispose() (child processes)', () => {
  it('routes the error of a timer created outside the domain and added to it', () => {
    const run = runFixture('domain-members.mjs', 'added');
    expect(run.lines).toEqual([
      { members: ['timer'] },
      { handler: 'd', message: 'thrown by a timer created outside the domain', domain: 'd', domainThrown: true },
      'survived',
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('no longer routes the error of a removed timer: the process crashes with exit code 1', () => {
    const run = runFixture('domain-members.mjs', 'removed');
    expect(run.lines).toEqual([{ members: ['timer'] }, { members: [] }]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Error: thrown by a timer created outside the domain');
  });

  it.each([
    { when: 'another domain still exists', mode: 'with-another' },
    { when: 'it was the only domain', mode: 'alone' },
  ])('ignores an error thrown after dispose() by a timer its run() started, when $when', ({ mode }) => {
    const run = runFixture('domain-dispose.mjs', mode);
    expect(run.lines).toEqual(['survived']);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });
});

describe('error domains: synchronous behaviour', () => {
  it('runs fn with the given arguments, returns its result and makes the domain active only inside it', () => {
    const d = createDomain();
    expect(errorDomain.active).toBeUndefined();
    const result = d.run((a: number, b: string) => ({ sum: `${a}${b}`, active: errorDomain.active }), 1, 'x');
    expect(result).toEqual({ sum: '1x', active: d });
    expect(errorDomain.active).toBeUndefined();
  });

  it('rethrows a synchronous throw from run() when no domain has an error listener', () => {
    const d = createDomain();
    const boom = new Error('nobody listens');
    expect(() => d.run(() => {
      throw boom;
    })).toThrow(boom);
  });

  it('routes a synchronous throw in a nested run() to the outer domain when the inner one has no error listener', () => {
    const outer = createDomain();
    const inner = createDomain();
    const got = collect(outer);
    const boom = new Error('inner throw');
    outer.run(() => inner.run(() => {
      throw boom;
    }));
    expect(got).toEqual([boom]);
    expect(got[0]?.domain).toBe(outer);
    expect(got[0]?.domainThrown).toBe(true);
  });

  it('routes what an inner error listener throws to the outer domain', () => {
    const outer = createDomain();
    const inner = createDomain();
    const got = collect(outer);
    const failure = new Error('inner listener failed');
    inner.on('error', () => {
      throw failure;
    });
    outer.run(() => inner.run(() => {
      throw new Error('original');
    }));
    expect(got).toEqual([failure]);
    expect(got[0]?.domain).toBe(outer);
  });

  it('calls a bound function with its this and arguments and returns its result', () => {
    const d = createDomain();
    const target = { factor: 3 };
    const bound = d.bind(function (this: { factor: number }, n: number) {
      return { value: this.factor * n, active: errorDomain.active };
    });
    expect(bound.call(target, 5)).toEqual({ value: 15, active: d });
  });

  it('routes a throw from a bound function without domainBound (intercept() only sets it) and returns undefined', () => {
    const d = createDomain();
    const got = collect(d);
    const boom = new Error('bound throw');
    const original = (): number => {
      throw boom;
    };
    expect(d.bind(original)()).toBeUndefined();
    expect(got).toEqual([boom]);
    expect(got[0]?.domain).toBe(d);
    expect(got[0]?.domainThrown).toBe(true);
    expect(got[0]?.domainBound).toBeUndefined();
  });

  it('routes an Error passed first to an intercepted callback with domainThrown false and never calls fn', () => {
    const d = createDomain();
    const got = collect(d);
    const calls: unknown[][] = [];
    const fn = (...args: unknown[]) => calls.push(args);
    const failure = new Error('callback error');
    expect(d.intercept(fn)(failure, 'data')).toBeUndefined();
    expect(calls).toEqual([]);
    expect(got).toEqual([failure]);
    expect(got[0]?.domainThrown).toBe(false);
    expect(got[0]?.domainBound).toBe(fn);
  });

  it('passes the remaining arguments to an intercepted fn when the first is not an Error', () => {
    const d = createDomain();
    const got = collect(d);
    const intercepted = d.intercept((a: string, b: number) => `${a}:${b}`);
    expect(intercepted(null, 'data', 2)).toBe('data:2');
    expect(intercepted(undefined, 'more', 3)).toBe('more:3');
    expect(got).toEqual([]);
  });

  it('routes an added emitter\'s error event emitted synchronously, and returns false from emit()', () => {
    const d = createDomain();
    const got = collect(d);
    const emitter = new EventEmitter();
    d.add(emitter);
    const failure = new Error('emitted');
    expect(emitter.emit('error', failure)).toBe(false);
    expect(got).toEqual([failure]);
    expect(got[0]?.domainEmitter).toBe(emitter);
    expect(got[0]?.domainThrown).toBe(false);
  });

  it('leaves an added emitter\'s error event to its own error listener when it has one', () => {
    const d = createDomain();
    const got = collect(d);
    const emitter = new EventEmitter();
    const own: unknown[] = [];
    emitter.on('error', (err) => own.push(err));
    d.add(emitter);
    const failure = new Error('handled by the emitter');
    expect(emitter.emit('error', failure)).toBe(true);
    expect(own).toEqual([failure]);
    expect(got).toEqual([]);
  });
});

describe('error domains: enter() and exit()', () => {
  it('makes the entered domain active and exit() restores the one entered before it', () => {
    const d1 = createDomain();
    const d2 = createDomain();
    const seen = isolated(() => {
      const active: (ErrorDomain | undefined)[] = [];
      d1.enter();
      active.push(errorDomain.active);
      d2.enter();
      active.push(errorDomain.active);
      d2.exit();
      active.push(errorDomain.active);
      d1.exit();
      active.push(errorDomain.active);
      return active;
    });
    expect(seen).toEqual([d1, d2, d1, undefined]);
    expect(seen[1]).toBe(d2);
  });

  it('leaves every domain entered after the one exit() is called on (the old stack semantics)', () => {
    const d1 = createDomain();
    const d2 = createDomain();
    const d3 = createDomain();
    const seen = isolated(() => {
      d1.enter();
      d2.enter();
      d3.enter();
      d2.exit();
      const afterExit = errorDomain.active;
      d3.exit(); // no longer on the stack: nothing happens
      const afterStaleExit = errorDomain.active;
      d1.exit();
      return [afterExit, afterStaleExit, errorDomain.active];
    });
    expect(seen[0]).toBe(d1);
    expect(seen[1]).toBe(d1);
    expect(seen[2]).toBeUndefined();
  });

  it('ignores exit() of a domain that was never entered', () => {
    const d1 = createDomain();
    const d2 = createDomain();
    const seen = isolated(() => {
      d1.enter();
      d2.exit();
      const active = errorDomain.active;
      d1.exit();
      return active;
    });
    expect(seen).toBe(d1);
  });

  it('returns to the domain of the surrounding run() after enter() and exit() of another domain inside it', () => {
    const d1 = createDomain();
    const d2 = createDomain();
    const seen = d1.run(() =>
      context.run({ requestId: 'r-1' }, () => {
        d2.enter();
        d2.exit();
        return { activeIsD1: errorDomain.active === d1, store: context.get() };
      }),
    );
    expect(seen).toEqual({ activeIsD1: true, store: { requestId: 'r-1' } });
  });
});

describe('error domains: members, remove() and dispose()', () => {
  it('lists added emitters and timers in members once each, and remove() takes them out', () => {
    const d = createDomain();
    const emitter = new EventEmitter();
    const timer = setTimeout(() => {}, 60_000);
    try {
      d.add(emitter);
      d.add(timer);
      d.add(emitter);
      expect(d.members).toEqual([emitter, timer]);
      d.remove(emitter);
      expect(d.members).toEqual([timer]);
      d.remove(timer);
      expect(d.members).toEqual([]);
    } finally {
      clearTimeout(timer);
    }
  });

  it('restores the emitter\'s own emit() on remove(), so an unlistened error event throws again', () => {
    const d = createDomain();
    const got = collect(d);
    const emitter = new EventEmitter();
    d.add(emitter);
    d.remove(emitter);
    expect(Object.hasOwn(emitter, 'emit')).toBe(false);
    expect(emitter.emit).toBe(EventEmitter.prototype.emit);
    const failure = new Error('after remove');
    expect(() => emitter.emit('error', failure)).toThrow(failure);
    expect(got).toEqual([]);
  });

  it('restores an emitter\'s own emit() override on remove()', () => {
    const d = createDomain();
    const emitter = new EventEmitter();
    const ownEmit = emitter.emit.bind(emitter);
    emitter.emit = ownEmit;
    d.add(emitter);
    expect(emitter.emit).not.toBe(ownEmit);
    d.remove(emitter);
    expect(emitter.emit).toBe(ownEmit);
  });

  it('ignores remove() of something that is not a member', () => {
    const d = createDomain();
    const emitter = new EventEmitter();
    d.remove(emitter);
    expect(d.members).toEqual([]);
    expect(Object.hasOwn(emitter, 'emit')).toBe(false);
  });

  it('clears added timers on dispose(): their callback never runs', async () => {
    const d = createDomain();
    let ran = 0;
    const timer = setTimeout(() => ran++, 5);
    d.add(timer);
    d.dispose();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(ran).toBe(0);
    expect(d.members).toEqual([]);
  });

  it('removes added emitters on dispose() and restores their emit()', () => {
    const d = createDomain();
    const emitter = new EventEmitter();
    d.add(emitter);
    d.dispose();
    expect(d.members).toEqual([]);
    expect(emitter.emit).toBe(EventEmitter.prototype.emit);
  });

  it('marks itself disposed, emits dispose once and ignores later run(), bind() and intercept() callbacks', () => {
    const d = createDomain();
    const got = collect(d);
    let disposeEvents = 0;
    d.on('dispose', () => disposeEvents++);
    const calls: string[] = [];
    const bound = d.bind(() => calls.push('bind'));
    const intercepted = d.intercept(() => calls.push('intercept'));
    d.dispose();
    d.dispose();
    expect(d.disposed).toBe(true);
    expect(disposeEvents).toBe(1);
    expect(d.run(() => calls.push('run'))).toBeUndefined();
    expect(bound()).toBeUndefined();
    expect(intercepted(null)).toBeUndefined();
    expect(intercepted(new Error('ignored'))).toBeUndefined();
    expect(d.bind(() => calls.push('bind after dispose'))()).toBeUndefined();
    expect(calls).toEqual([]);
    expect(got).toEqual([]);
  });

  it('leaves the domain on dispose() when it was entered', () => {
    const d = createDomain();
    const active = isolated(() => {
      d.enter();
      d.dispose();
      return errorDomain.active;
    });
    expect(active).toBeUndefined();
  });

  it('installs its process listeners once, on the first create(), and keeps them after dispose() (child process)', () => {
    const program = `
      const { errorDomain } = await import(${JSON.stringify(DIST)});
      const count = () => [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
      const seen = [count()];
      const a = errorDomain.create();
      seen.push(count());
      const b = errorDomain.create();
      seen.push(count());
      a.dispose();
      b.dispose();
      seen.push(count());
      console.log(JSON.stringify(seen));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 10_000 });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      [0, 0],
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
  });
});

describe('error domains: bad arguments', () => {
  const rows: readonly { readonly what: string; readonly names: string; readonly call: (d: ErrorDomain) => unknown }[] = [
    { what: 'run(5)', names: 'probekit: domain.run() argument "fn"', call: (d) => d.run(bad(5)) },
    { what: 'run("fn")', names: 'probekit: domain.run() argument "fn"', call: (d) => d.run(bad('fn')) },
    { what: 'run(undefined)', names: 'probekit: domain.run() argument "fn"', call: (d) => d.run(bad(undefined)) },
    { what: 'bind(5)', names: 'probekit: domain.bind() argument "fn"', call: (d) => d.bind(bad(5)) },
    { what: 'bind({})', names: 'probekit: domain.bind() argument "fn"', call: (d) => d.bind(bad({})) },
    { what: 'intercept(null)', names: 'probekit: domain.intercept() argument "fn"', call: (d) => d.intercept(bad(null)) },
    {
      what: 'add({})',
      names: 'probekit: domain.add() argument',
      call: (d) => d.add(bad({})),
    },
    {
      what: 'add(null)',
      names: 'probekit: domain.add() argument',
      call: (d) => d.add(bad(null)),
    },
  ];

  it.each(rows)('throws a probekit TypeError for $what', ({ names, call }) => {
    const d = createDomain();
    const err = thrown(() => call(d));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
    expect(err.message.startsWith(`${names} must be `)).toBe(true);
    expect(d.members).toEqual([]);
  });
});

describe("error domains side by side with Node's domain module (child processes, one program run with each)", () => {
  const node = runFixture('domain-parity.mjs', 'node');
  const probekit = runFixture('domain-parity.mjs', 'probekit');

  // Outside any domain Node's module leaves process.domain null or undefined, depending on
  // what ran before; probekit's is always null. Both mean "no domain".
  const noDomain = (lines: unknown[]) => JSON.parse(JSON.stringify(lines).replaceAll('"undefined"', '"null"')) as unknown[];

  it('print the same lines and both exit 0', () => {
    expect(noDomain(probekit.lines)).toEqual(noDomain(node.lines));
    expect({ probekit: probekit.status, node: node.status }).toEqual({ probekit: 0, node: 0 });
    expect(probekit.stderr).toBe('');
  });

  it('route a throw after dom1.exit() and dom2.enter() inside dom1.run() to dom2', () => {
    expect(probekit.lines[0]).toMatchObject({ case: 'exit-enter', handler: 'dom2', domainIsHandler: true });
  });

  it('accept add(function), which names its domain, and route what it throws inside run()', () => {
    expect(probekit.lines.slice(1, 3)).toMatchObject([
      { case: 'add-function', addedFunctionDomain: 'd3', members: 1 },
      { case: 'add-function', handler: 'd3', message: 'from an added function' },
    ]);
  });

  it('set emitter.domain on add(emitter), not enumerable', () => {
    expect(probekit.lines[3]).toEqual({ case: 'add-emitter', emitterDomain: 'd4', enumerable: false });
  });

  it('make error.domain non-enumerable: it stays out of JSON.stringify', () => {
    for (const l of probekit.lines.filter((x) => typeof x === 'object' && x !== null && 'json' in x)) {
      expect(l).toMatchObject({ domainEnumerable: false, domainIsHandler: true });
      expect((l as { json: string }).json).not.toContain('domain"');
    }
  });

  it('make process.domain the active domain in run(), its timers and promise continuations, and null outside', () => {
    expect(probekit.lines.filter((l) => String((l as { case?: string }).case).startsWith('process-domain'))).toEqual([
      { case: 'process-domain', before: 'null', inRun: 'd6', after: 'null' },
      { case: 'process-domain-then', domain: 'd6' },
      { case: 'process-domain-timer', domain: 'd6' },
      { case: 'process-domain-outside', domain: 'null' },
    ]);
  });

  it('set domainBound from intercept() only, not from bind()', () => {
    expect(probekit.lines.slice(4, 6)).toMatchObject([
      { case: 'bind', hasDomainBound: false, domainThrown: true },
      { case: 'intercept', hasDomainBound: true, domainThrown: false },
    ]);
  });
});

describe("error domains and the process, side by side with Node's domain module (child processes)", () => {
  it("end the process with exit code 7 when a top-level domain's 'error' listener throws, printing the listener's error", () => {
    const node = runFixture('domain-process.mjs', 'node', 'listener-throws');
    const probekit = runFixture('domain-process.mjs', 'probekit', 'listener-throws');
    expect(probekit.lines).toEqual(node.lines);
    expect(probekit.lines).toEqual([{ domainGot: 'boom' }]);
    expect({ probekit: probekit.status, node: node.status }).toEqual({ probekit: 7, node: 7 });
    expect(probekit.stderr).toContain('Error: listener failed: boom');
  });

  it("keep errors a domain handled away from the application's own uncaughtException listeners, and give them the rest", () => {
    const node = runFixture('domain-process.mjs', 'node', 'app-listener');
    const probekit = runFixture('domain-process.mjs', 'probekit', 'app-listener');
    expect(probekit.lines).toEqual(node.lines);
    expect(probekit.lines).toEqual([{ domainGot: 'in the domain' }, { appListenerGot: 'outside any domain' }, 'done']);
    expect({ probekit: probekit.status, node: node.status }).toEqual({ probekit: 0, node: 0 });
  });
});

describe("an EventEmitter created inside a domain, side by side with Node's domain module (child processes)", () => {
  const node = runFixture('domain-emitter.mjs', 'node');
  const probekit = runFixture('domain-emitter.mjs', 'probekit');

  it('belongs to the domain it was created in: its later error reaches the domain, emitted from outside any domain', () => {
    expect(probekit.lines.slice(1)).toEqual(node.lines);
    expect(node.lines).toEqual([
      { boundToD: true, outsideUnbound: true },
      { handler: 'd', message: 'emitted later, from outside any domain', domainThrown: false, fromEmitter: true },
      'survived',
    ]);
    expect({ probekit: probekit.status, node: node.status }).toEqual({ probekit: 0, node: 0 });
  });

  it('leaves EventEmitter untouched until the first domain exists', () => {
    expect(probekit.lines[0]).toEqual({ untouchedBeforeFirstDomain: true });
  });
});
