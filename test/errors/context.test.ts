import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, errorDomain, errors, notify, type ContextStore, type ErrorDomain } from '../../src/index.js';
import { bad, runFixture as runFixtureIn, thrown, expectError } from '../support/helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

const runFixture = (fixture: string, ...args: string[]) => runFixtureIn(FIXTURES, fixture, ...args);

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`the fixtures import ${DIST}: run "npm run build" first`);
});

const domains: ErrorDomain[] = [];
afterEach(() => {
  for (const d of domains.splice(0)) d.dispose();
  errors.clear();
});

function createDomain(): ErrorDomain {
  const d = errorDomain.create();
  domains.push(d);
  return d;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An object with a then() method, not a Promise: `await` calls then() from a microtask. */
function customThenable<T>(value: T, onThen: () => void): PromiseLike<T> {
  const raw = {
    then(resolve: (v: T) => void) {
      onThen();
      setImmediate(() => resolve(value));
    },
  };
  return raw as unknown as PromiseLike<T>;
}


describe('context: propagation', () => {
  it('has no store outside any context.run()', () => {
    expect(context.get()).toBeUndefined();
    expect(context.get('requestId')).toBeUndefined();
  });

  it('runs fn with the store object itself (not a copy) and returns what fn returns', () => {
    const store = { requestId: 'r-sync' };
    const result = context.run(store, () => ({ same: context.get() === store, id: context.get('requestId') }));
    expect(result).toEqual({ same: true, id: 'r-sync' });
    expect(context.get()).toBeUndefined();
  });

  it('keeps the store across a chain of awaits', async () => {
    const store = { requestId: 'r-await' };
    const seen = await context.run(store, async () => {
      const out: unknown[] = [];
      await null;
      out.push(context.get());
      await delay(1);
      out.push(context.get());
      await nextImmediate();
      out.push(context.get());
      await Promise.resolve();
      out.push(context.get('requestId'));
      return out;
    });
    expect(seen).toEqual([store, store, store, 'r-await']);
    expect(seen[0]).toBe(store);
    expect(seen[2]).toBe(store);
    expect(context.get()).toBeUndefined();
  });

  it('keeps the store in a setTimeout callback', async () => {
    const store = { via: 'setTimeout' };
    const seen = await context.run(store, () => new Promise((resolve) => setTimeout(() => resolve(context.get()), 1)));
    expect(seen).toBe(store);
  });

  it('keeps the store in a setImmediate callback', async () => {
    const store = { via: 'setImmediate' };
    const seen = await context.run(store, () => new Promise((resolve) => setImmediate(() => resolve(context.get()))));
    expect(seen).toBe(store);
  });

  it('keeps the store in a process.nextTick callback', async () => {
    const store = { via: 'nextTick' };
    const seen = await context.run(store, () => new Promise((resolve) => process.nextTick(() => resolve(context.get()))));
    expect(seen).toBe(store);
  });

  it('keeps the store after awaiting a custom thenable and inside its then()', async () => {
    const store = { via: 'thenable' };
    let inThen: unknown = 'then() never called';
    const seen = await context.run(store, async () => {
      const value = await customThenable(42, () => {
        inThen = context.get();
      });
      return { value, after: context.get() };
    });
    expect(inThen).toBe(store);
    expect(seen.value).toBe(42);
    expect(seen.after).toBe(store);
  });

  it('keeps the store in every branch of a Promise.all', async () => {
    const store = { via: 'Promise.all' };
    const seen = await context.run(store, () =>
      Promise.all([
        delay(2).then(() => context.get()),
        nextImmediate().then(() => context.get()),
        (async () => {
          await delay(1);
          return context.get();
        })(),
        Promise.resolve().then(() => context.get()),
      ]),
    );
    expect(seen).toEqual([store, store, store, store]);
    for (const s of seen) expect(s).toBe(store);
  });

  it('restores the outer store after a nested context.run() returns, while the inner async work keeps the inner one', async () => {
    const outer = { level: 'outer' };
    const inner = { level: 'inner' };
    const seen = await context.run(outer, async () => {
      let innerLater: Promise<unknown> = Promise.resolve();
      const insideInner = context.run(inner, () => {
        innerLater = delay(2).then(() => context.get());
        return context.get();
      });
      const afterInner = context.get();
      await delay(1);
      const outerLater = context.get();
      return { insideInner, afterInner, outerLater, innerLater: await innerLater };
    });
    expect(seen.insideInner).toBe(inner);
    expect(seen.afterInner).toBe(outer);
    expect(seen.outerLater).toBe(outer);
    expect(seen.innerLater).toBe(inner);
  });

  it('restores the outer store when a nested context.run() throws', () => {
    const outer = { level: 'outer' };
    const seen = context.run(outer, () => {
      expect(() =>
        context.run({ level: 'inner' }, () => {
          throw new Error('inner failure');
        }),
      ).toThrow('inner failure');
      return context.get();
    });
    expect(seen).toBe(outer);
  });

  it('binds a function to the context active when context.bind() is called', async () => {
    const store = { via: 'bind' };
    const bound = context.run(store, () => context.bind(() => context.get()));
    expect(bound()).toBe(store);
    await nextImmediate();
    expect(bound()).toBe(store);
    expect(context.get()).toBeUndefined();
  });
});

describe('context: emitters and streams', () => {
  it('runs a listener added inside context.run() in that context when a bindEmitter emitter emits later from outside any context', async () => {
    const emitter = new EventEmitter();
    const unbound = new EventEmitter();
    const store = { requestId: 'r-emitter' };
    const seen: unknown[] = [];
    const seenUnbound: unknown[] = [];
    context.run(store, () => {
      context.bindEmitter(emitter);
      emitter.on('ping', () => seen.push(context.get()));
      unbound.on('ping', () => seenUnbound.push(context.get()));
    });
    await nextImmediate();
    emitter.emit('ping');
    unbound.emit('ping');
    expect(seen).toEqual([store]);
    expect(seen[0]).toBe(store);
    expect(seenUnbound).toEqual([undefined]);
  });

  it('passes the listener\'s arguments and the emitter as this through a bound listener', () => {
    const emitter = context.bindEmitter(new EventEmitter());
    const calls: unknown[] = [];
    context.run({ requestId: 'r-this' }, () => {
      emitter.on('data', function (this: EventEmitter, a: number, b: string) {
        calls.push({ self: this === emitter, a, b, id: context.get('requestId') });
      });
    });
    emitter.emit('data', 1, 'two');
    expect(calls).toEqual([{ self: true, a: 1, b: 'two', id: 'r-this' }]);
  });

  it('returns the same emitter from bindEmitter() and binds each listener to the context it was added in', () => {
    const emitter = new EventEmitter();
    expect(context.bindEmitter(emitter)).toBe(emitter);
    expect(context.bindEmitter(emitter)).toBe(emitter);
    const seen: unknown[] = [];
    context.run({ n: 1 }, () => emitter.on('x', () => seen.push(context.get('n'))));
    context.run({ n: 2 }, () => emitter.on('x', () => seen.push(context.get('n'))));
    emitter.on('x', () => seen.push(context.get('n')));
    emitter.emit('x');
    expect(seen).toEqual([1, 2, undefined]);
  });

  it('runs a stream \'end\' listener attached inside context.run() in that context when the stream is ended from outside', async () => {
    const stream = new Readable({ read() {} });
    const store = { requestId: 'r-stream' };
    const ended = context.run(
      store,
      () =>
        new Promise<unknown>((resolve) => {
          context.bindEmitter(stream);
          stream.on('end', () => resolve(context.get()));
        }),
    );
    await nextImmediate();
    stream.resume();
    stream.push('chunk');
    stream.push(null);
    expect(await ended).toBe(store);
  });

  it('removes a listener added with on() through removeListener(original) after bindEmitter()', () => {
    const emitter = context.bindEmitter(new EventEmitter());
    const calls: string[] = [];
    const listener = () => calls.push('on');
    context.run({}, () => emitter.on('x', listener));
    expect(emitter.listenerCount('x')).toBe(1);
    emitter.removeListener('x', listener);
    expect(emitter.listenerCount('x')).toBe(0);
    emitter.emit('x');
    expect(calls).toEqual([]);
  });

  it('removes a listener added with off(original) among several after bindEmitter()', () => {
    const emitter = context.bindEmitter(new EventEmitter());
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    context.run({}, () => {
      emitter.on('x', a);
      emitter.prependListener('x', b);
    });
    emitter.off('x', a);
    emitter.emit('x');
    expect(calls).toEqual(['b']);
  });

  it('removes a listener added with once() through removeListener(original) after bindEmitter()', () => {
    const emitter = context.bindEmitter(new EventEmitter());
    const calls: string[] = [];
    const listener = () => calls.push('once');
    context.run({}, () => emitter.once('x', listener));
    emitter.removeListener('x', listener);
    expect(emitter.listenerCount('x')).toBe(0);
    emitter.emit('x');
    expect(calls).toEqual([]);
  });

  it('runs a once() listener one time, in its context, after bindEmitter()', () => {
    const emitter = context.bindEmitter(new EventEmitter());
    const seen: unknown[] = [];
    context.run({ requestId: 'r-once' }, () => emitter.once('x', () => seen.push(context.get('requestId'))));
    emitter.emit('x');
    emitter.emit('x');
    expect(seen).toEqual(['r-once']);
  });
});

describe('context: set(), get(key) and notify()', () => {
  it('sets a key on the active store object itself and returns true', async () => {
    const store: ContextStore = { requestId: 'r-set' };
    const result = await context.run(store, async () => {
      const returned = context.set('userId', 7);
      await delay(1);
      return { returned, later: context.get('userId') };
    });
    expect(result).toEqual({ returned: true, later: 7 });
    expect(store).toEqual({ requestId: 'r-set', userId: 7 });
  });

  it('returns false from set() outside any context and stores nothing', () => {
    expect(context.set('userId', 7)).toBe(false);
    expect(context.get('userId')).toBeUndefined();
    expect(context.get()).toBeUndefined();
  });

  it('reads one key with get(key), undefined for a missing key', () => {
    context.run({ requestId: 'r-key', zero: 0 }, () => {
      expect(context.get('requestId')).toBe('r-key');
      expect(context.get('zero')).toBe(0);
      expect(context.get('missing')).toBeUndefined();
    });
  });

  it('attaches a JSON-safe copy of the active store to what notify() records', () => {
    const store: ContextStore = {
      requestId: 'r-notify',
      attempt: 2,
      ok: true,
      none: null,
      at: new Date(0),
      tags: ['a', 'b'],
      ratio: Infinity,
      skipped: undefined,
    };
    const recorded = context.run(store, () => notify(new Error('x'))?.context);
    expect(recorded).toEqual({
      requestId: 'r-notify',
      attempt: 2,
      ok: true,
      none: null,
      at: '1970-01-01T00:00:00.000Z',
      tags: "[ 'a', 'b' ]",
      ratio: 'Infinity',
    });
    expect(recorded).not.toBe(store);
    expect(JSON.parse(JSON.stringify(recorded))).toEqual(recorded);
  });

  it('attaches an empty context to what notify() records outside any context', () => {
    expect(notify(new Error('x'))?.context).toEqual({});
  });

  it('lets notify()\'s explicit context win over the active one on the same key', () => {
    const recorded = context.run({ requestId: 'from-context', userId: 1 }, () => notify(new Error('x'), { requestId: 'explicit', orderId: 9 })?.context);
    expect(recorded).toEqual({ requestId: 'explicit', userId: 1, orderId: 9 });
  });
});

describe('context: inside error domains', () => {
  it('keeps the store active when an error domain runs inside context.run()', () => {
    const d = createDomain();
    const store = { requestId: 'r-domain' };
    const seen = context.run(store, () => d.run(() => ({ store: context.get(), domain: errorDomain.active })));
    expect(seen?.store).toBe(store);
    expect(seen?.domain).toBe(d);
  });

  it('keeps the error domain active inside a context.run() it runs', () => {
    const d = createDomain();
    const seen = d.run(() => context.run({ requestId: 'r-inner' }, () => errorDomain.active));
    expect(seen).toBe(d);
  });

  it('shows the error listener the context that was active around run() for a synchronous throw', () => {
    const d = createDomain();
    const store = { requestId: 'r-around' };
    const seen: unknown[] = [];
    d.on('error', () => seen.push(context.get()));
    context.run(store, () =>
      d.run(() => {
        throw new Error('sync');
      }),
    );
    expect(seen).toEqual([store]);
    expect(seen[0]).toBe(store);
  });

  it('shows the error listener the context of the code that threw when context.run() is inside run()', () => {
    const d = createDomain();
    const store = { requestId: 'r-within' };
    const seen: unknown[] = [];
    d.on('error', () => seen.push(context.get()));
    d.run(() =>
      context.run(store, () => {
        throw new Error('sync');
      }),
    );
    expect(seen).toEqual([store]);
  });

  it('shows the error listener the request context for an error thrown in a timer when context.run() is around run() (child process)', () => {
    const run = runFixture('context-domain.mjs', 'context-outside-run');
    expect(run.lines).toEqual([
      { message: 'thrown while handling a request', get: { requestId: 'req-outside' }, notified: { requestId: 'req-outside' } },
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('shows the error listener the request context for an error thrown in a timer when context.run() is inside run() (child process)', () => {
    const run = runFixture('context-domain.mjs', 'context-inside-run');
    expect(run.lines).toEqual([
      { message: 'thrown while handling a request', get: { requestId: 'req-inside' }, notified: { requestId: 'req-inside' } },
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });
});

describe('context: memory', () => {
  /*
   * Every context.run() allocates at least the store object ({ i }: map, properties,
   * elements and one field, 32 bytes on 64-bit) and a Frame (three fields, 48 bytes). If
   * either were retained per call, 10^6 calls would keep at least 32 MB alive. An 8 MiB
   * bound leaves 4x headroom for GC noise (code caches, lazily created metadata) while
   * catching any retention of more than about 8 bytes per call on average. Measured on
   * Node 20: about 0 MiB of growth; keeping only the store objects alive adds about 40 MiB.
   */
  it('keeps heap growth after GC under 8 MiB across 10^6 context.run() calls', () => {
    v8.setFlagsFromString('--expose_gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const work = () => context.get('i');
    for (let i = 0; i < 10_000; i++) context.run({ i }, work); // warm-up: JIT and inline caches
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    let sum = 0;
    for (let i = 0; i < 1_000_000; i++) sum += context.run({ i }, work) as number;
    gc();
    gc();
    const after = process.memoryUsage().heapUsed;
    expect(sum).toBe((999_999 * 1_000_000) / 2);
    expect(after - before).toBeLessThan(8 * 1024 * 1024);
    expect(context.get()).toBeUndefined();
  }, 60_000);
});

describe('context: bad arguments', () => {
  const rows: readonly { readonly what: string; readonly names: string; readonly call: () => unknown }[] = [
    { what: 'run(null, fn)', names: 'probekit: context.run() argument "store"', call: () => context.run(bad(null), () => 1) },
    { what: 'run(undefined, fn)', names: 'probekit: context.run() argument "store"', call: () => context.run(bad(undefined), () => 1) },
    { what: 'run("store", fn)', names: 'probekit: context.run() argument "store"', call: () => context.run(bad('store'), () => 1) },
    { what: 'run(42, fn)', names: 'probekit: context.run() argument "store"', call: () => context.run(bad(42), () => 1) },
    { what: 'run({}, "fn")', names: 'probekit: context.run() argument "fn"', call: () => context.run({}, bad('fn')) },
    { what: 'run({}, undefined)', names: 'probekit: context.run() argument "fn"', call: () => context.run({}, bad(undefined)) },
    { what: 'bind(5)', names: 'probekit: context.bind() argument "fn"', call: () => context.bind(bad(5)) },
    { what: 'bindEmitter({})', names: 'probekit: context.bindEmitter() argument "emitter"', call: () => context.bindEmitter(bad({})) },
    { what: 'bindEmitter(null)', names: 'probekit: context.bindEmitter() argument "emitter"', call: () => context.bindEmitter(bad(null)) },
    { what: 'bindEmitter("emitter")', names: 'probekit: context.bindEmitter() argument "emitter"', call: () => context.bindEmitter(bad('emitter')) },
  ];

  it.each(rows)('throws a probekit TypeError for $what', ({ names, call }) => {
    const err = thrown(call);
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
    expect(err.message.startsWith(`${names} must be `)).toBe(true);
    expect(context.get()).toBeUndefined();
  });
});
