import { afterEach, describe, expect, it } from 'vitest';
import { createErrorStore, createProbe, type ErrorRecord, type Probe } from '../../src/index.js';
import { messagePattern, topFrame } from '../../src/errors/record.js';
import { expectError, thrown } from '../support/helpers.js';

let p: Probe | undefined;
afterEach(() => {
  p?.close();
  p = undefined;
});

function setup(capacity?: number) {
  const clock = { t: 1_000_000 };
  p = createProbe({ clock: () => clock.t });
  const store = createErrorStore(capacity === undefined ? { probe: p } : { probe: p, capacity });
  return { clock, probe: p, store };
}

class PaymentError extends Error {
  override name = 'PaymentError';
  code = 'E_DECLINED';
}

const circular: Record<string, unknown> = { name: 'Loop' };
circular.self = circular;

const hostile = new Proxy(
  {},
  {
    get() {
      throw new Error('trap');
    },
    ownKeys() {
      throw new Error('trap');
    },
    getPrototypeOf() {
      throw new Error('trap');
    },
  },
);

const cyclicCause = new Error('outer');
const inner = new Error('inner', { cause: cyclicCause });
(cyclicCause as Error & { cause?: unknown }).cause = inner;

describe('notify()', () => {
  it.each([
    { what: 'an Error', value: new Error('boom'), name: 'Error', message: 'boom' },
    { what: 'a TypeError', value: new TypeError('bad type'), name: 'TypeError', message: 'bad type' },
    { what: 'an Error subclass with a code', value: new PaymentError('card declined'), name: 'PaymentError', message: 'card declined' },
    { what: 'an AggregateError', value: new AggregateError([new Error('a'), 'b'], 'two failed'), name: 'AggregateError', message: 'two failed' },
    { what: 'a string', value: 'plain text', name: 'Error', message: 'plain text' },
    { what: 'a plain object with name and message', value: { name: 'Custom', message: 'from object' }, name: 'Custom', message: 'from object' },
    { what: 'a circular object', value: circular, name: 'Loop', message: "<ref *1> { name: 'Loop', self: [Circular *1] }" },
    { what: 'null', value: null, name: 'null', message: 'null' },
    { what: 'undefined', value: undefined, name: 'undefined', message: 'undefined' },
    { what: 'a Symbol', value: Symbol('sym'), name: 'symbol', message: 'Symbol(sym)' },
    { what: 'a number', value: 42, name: 'number', message: '42' },
    { what: 'a Proxy whose every trap throws', value: hostile, name: 'Object', message: '{}' },
  ])('normalises $what into a record without throwing', ({ value, name, message }) => {
    const { store } = setup();
    const record = store.notify(value) as ErrorRecord;
    expect(record.name).toBe(name);
    expect(record.message).toBe(message);
    expect(record.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(record.time).toBe(1_000_000);
    expect(record.pid).toBe(process.pid);
    expect(record.source).toBe('notify');
    expect(() => JSON.stringify(record)).not.toThrow();
  });

  it('keeps the stack of an Error and none for other values', () => {
    const { store } = setup();
    expect(store.notify(new Error('with stack'))?.stack).toMatch(/^Error: with stack\n {4}at /);
    expect(store.notify('text')?.stack).toBeNull();
  });

  it('records the code of an error', () => {
    const { store } = setup();
    expect(store.notify(new PaymentError('x'))?.code).toBe('E_DECLINED');
    expect(store.notify(new Error('x'))?.code).toBeNull();
  });

  it('follows the cause chain and cuts cycles', () => {
    const { store } = setup();
    const root = new Error('db down');
    const record = store.notify(new Error('query failed', { cause: new Error('pool exhausted', { cause: root }) })) as ErrorRecord;
    expect(record.causes.map((c) => c.message)).toEqual(['pool exhausted', 'db down']);
    const cyclic = store.notify(cyclicCause) as ErrorRecord;
    expect(cyclic.causes.map((c) => c.message)).toEqual(['inner']);
  });

  it("lists an AggregateError's errors", () => {
    const { store } = setup();
    const record = store.notify(new AggregateError([new RangeError('r'), 'b'], 'both')) as ErrorRecord;
    expect(record.errors.map((e) => [e.name, e.message])).toEqual([
      ['RangeError', 'r'],
      ['Error', 'b'],
    ]);
  });

  it('bounds a huge message', () => {
    const { store } = setup();
    expect(store.notify(new Error('x'.repeat(100_000)))?.message.length).toBe(2048);
  });

  it('copies the given context into JSON-safe values', () => {
    const { store } = setup();
    const record = store.notify(new Error('x'), { orderId: 7, when: new Date(0), nested: { a: [1, 2] }, fn: () => 1, bad: NaN }) as ErrorRecord;
    expect(record.context).toEqual({ orderId: 7, when: '1970-01-01T00:00:00.000Z', nested: '{ a: [ 1, 2 ] }', fn: '[Function: fn]', bad: 'NaN' });
  });
});

describe('Fingerprints', () => {
  const at = (message: string) => new Error(message); // one throw site for every call

  it('are equal for one error from one site whatever the numbers, ids and quoted values', () => {
    const { store } = setup();
    const a = store.notify(at('user 42 not found in "eu-1" (id 0x1f3a)'));
    const b = store.notify(at('user 7 not found in "us-2" (id 0x99)'));
    expect(a?.fingerprint).toBe(b?.fingerprint);
  });

  it('differ by error name, message pattern and throw site', () => {
    const { store } = setup();
    const base = store.notify(at('timeout after 5 ms'))?.fingerprint;
    const other = new TypeError('timeout after 5 ms');
    expect(store.notify(other)?.fingerprint).not.toBe(base);
    expect(store.notify(at('refused after 5 ms'))?.fingerprint).not.toBe(base);
    expect(store.notify(new Error('timeout after 5 ms'))?.fingerprint).not.toBe(base);
  });

  it('mask what varies in a message', () => {
    expect(messagePattern('id 123e4567-e89b-12d3-a456-426614174000 at 0xdeadbeef took 12.5 ms for "alice"')).toBe(
      'id <uuid> at <hex> took <n> ms for <str>',
    );
  });

  it('use the top frame without its column', () => {
    expect(topFrame('Error: x\n    at handler (/app/server.js:10:15)\n    at next (/app/router.js:3:1)')).toBe('at handler (/app/server.js:10)');
    expect(topFrame(null)).toBe('');
  });
});

describe('onError()', () => {
  it('calls every listener with the record, until it unsubscribes', () => {
    const { store } = setup();
    const seen: string[] = [];
    const off = store.onError((r) => seen.push(r.message));
    store.notify(new Error('one'));
    off();
    store.notify(new Error('two'));
    expect(seen).toEqual(['one']);
  });

  it('isolates a listener that throws, runs the others and counts the failure', () => {
    const { store, probe } = setup();
    const seen: string[] = [];
    store.onError(() => {
      throw new Error('listener bug');
    });
    store.onError((r) => seen.push(r.message));
    expect(() => store.notify(new Error('still delivered'))).not.toThrow();
    expect(seen).toEqual(['still delivered']);
    const failures = probe.snapshot().metrics.find((m) => m.exportName === 'probekit_error_listener_failures');
    expect(failures?.series).toEqual([{ labels: {}, value: 1 }]);
  });

  it('rejects a listener that is not a function', () => {
    const { store } = setup();
    expectError(thrown(() => store.onError(5 as never)), { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
  });
});

describe('The ring of recent errors', () => {
  const site = (message: string) => new Error(message);

  it('deduplicates by fingerprint with counts and first and last seen', () => {
    const { store, clock } = setup();
    store.notify(site('retry 1'));
    clock.t += 5000;
    store.notify(site('retry 2'));
    const snap = store.snapshot();
    expect(snap.total).toBe(2);
    expect(snap.recent).toHaveLength(1);
    expect(snap.recent[0]).toMatchObject({ count: 2, firstSeen: 1_000_000, lastSeen: 1_005_000 });
    expect(snap.recent[0]?.last.message).toBe('retry 2');
  });

  it('lists the most recently seen first and evicts the least recently seen beyond its capacity', () => {
    const { store } = setup(3);
    store.notify(new Error('a'));
    store.notify(new TypeError('b'));
    store.notify(new RangeError('c'));
    store.notify(new Error('a')); // a is now the most recent; b the least
    store.notify(new SyntaxError('d'));
    expect(store.snapshot().recent.map((g) => g.last.message)).toEqual(['d', 'a', 'c']);
    expect(store.snapshot().total).toBe(5);
  });

  it('stays bounded under 10^5 distinct errors', () => {
    const { store } = setup(100);
    for (let i = 0; i < 100_000; i++) store.notify({ name: `E${i}`, message: 'distinct' });
    expect(store.snapshot().recent).toHaveLength(100);
    expect(store.snapshot().recent[0]?.last.name).toBe('E99999');
  });

  it('is emptied by clear()', () => {
    const { store } = setup();
    store.notify(new Error('x'));
    store.clear();
    expect(store.snapshot()).toEqual({ total: 0, recent: [] });
  });
});

describe('Error metrics', () => {
  it('count errors by name and rate them per minute over the last minute, in the reserved probekit_ namespace', () => {
    const { store, probe, clock } = setup();
    store.notify(new TypeError('a'));
    store.notify(new TypeError('b'));
    store.notify(new RangeError('c'));
    clock.t += 60_000;
    const snap = probe.snapshot();
    const byName = snap.metrics.find((m) => m.exportName === 'probekit_errors_notified');
    expect(byName?.kind).toBe('counter');
    expect(byName?.series).toEqual([
      { labels: { name: 'TypeError' }, value: 2 },
      { labels: { name: 'RangeError' }, value: 1 },
    ]);
    const perMinute = snap.metrics.find((m) => m.exportName === 'probekit_errors_per_minute');
    expect(perMinute?.series).toEqual([{ labels: {}, rate: 3, total: 3 }]);
  });

  it('are registered with the store, before the first error, as self-metrics listed after the application probes', () => {
    const { probe } = setup();
    probe.counter({ name: 'mine' });
    const names = probe.snapshot().metrics.map((m) => m.exportName);
    expect(names[0]).toBe('mine');
    expect(names).toContain('probekit_errors_notified');
    expect(names).toContain('probekit_errors_per_minute');
    expect(names).toContain('probekit_errors_reentrant');
  });

  it.each(['Errors per minute', 'errors_notified', 'errors_per_minute', 'Errors notified'])(
    'never meet an application probe named %j: every notify() still reaches the ring and the probe is untouched',
    (name) => {
      const { probe, store } = setup();
      const mine = probe.counter({ name, monotonic: true });
      for (let i = 0; i < 3; i++) store.notify(new Error(`boom ${i}`));
      expect(store.snapshot().total).toBe(3);
      expect(store.snapshot().recent[0]?.count).toBe(3);
      expect(mine.val()).toBe(0);
    },
  );

  it('bound the error-name label by the registry cardinality cap', () => {
    const clock = { t: 0 };
    p = createProbe({ clock: () => clock.t, maxSeriesPerMetric: 2 });
    const store = createErrorStore({ probe: p });
    for (let i = 0; i < 5; i++) {
      const err = new Error('x');
      err.name = `Dynamic${i}`;
      store.notify(err);
    }
    const byName = p.snapshot().metrics.find((m) => m.exportName === 'probekit_errors_notified');
    expect(byName?.series.map((s) => s.labels.name)).toEqual(['Dynamic0', 'Dynamic1', '__overflow__']);
    expect(store.snapshot().total).toBe(5);
  });
});

describe('Re-entry', () => {
  it('makes a notify() from inside a listener a counted no-op that still returns a record', () => {
    const { store, probe } = setup();
    const inner: ErrorRecord[] = [];
    store.onError((record) => {
      inner.push(store.notify(new Error(`listener saw ${record.message}`)));
    });
    const outer = store.notify(new Error('first'));
    expect(outer.message).toBe('first');
    expect(inner.map((r) => r.message)).toEqual(['listener saw first']);
    expect(store.snapshot().total).toBe(1);
    expect(store.snapshot().recent.map((g) => g.last.message)).toEqual(['first']);
    const reentrant = probe.snapshot().metrics.find((m) => m.exportName === 'probekit_errors_reentrant');
    expect(reentrant?.series).toEqual([{ labels: {}, value: 1 }]);
    store.notify(new Error('second')); // dispatching has ended: recorded as usual
    expect(store.snapshot().total).toBe(2);
  });

  it('leaves the store usable after a listener that notifies and then throws', () => {
    const { store } = setup();
    store.onError(() => {
      store.notify(new Error('again'));
      throw new Error('listener broke');
    });
    store.notify(new Error('one'));
    store.notify(new Error('two'));
    expect(store.snapshot().total).toBe(2);
  });
});

describe('Reserved names', () => {
  it.each(['probekit_requests', 'Probekit requests'])('rejects an application probe whose exported name starts with probekit_ (%j)', (name) => {
    p = createProbe();
    const err = thrown(() => p!.counter({ name }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'name' });
    expect(err.message).toContain('"probekit_"');
  });

  it('accepts probekit_ behind a prefix, where it no longer starts the exported name', () => {
    p = createProbe({ prefix: 'app' });
    expect(p.counter({ name: 'probekit_requests' })).toBeDefined();
    expect(p.snapshot().metrics[0]?.exportName).toBe('app_probekit_requests');
  });
});

describe('createErrorStore()', () => {
  it.each([
    { what: 'a capacity of 0', options: { capacity: 0 }, type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'capacity' },
    { what: 'an unknown option', options: { size: 5 }, type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'size' },
    { what: 'options that are not an object', options: 'x', type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined },
    { what: 'a probe that is not a registry', options: { probe: {} }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'probe' },
  ])('rejects $what', ({ options, type, code, option }) => {
    expectError(thrown(() => createErrorStore(options as never)), { type, code, option });
  });
});
