import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { context, createProbe, type ErrorRecord, onError, type Probe, type Snapshot } from '../../src/index.js';
import { senecaPlugin, senecaProbe, UNMATCHED_PATTERN } from '../../src/seneca.js';
import { bad, expectError, thrown } from '../support/helpers.js';
import { type FaultRequest, setFaultHook } from '../../src/middleware/core.js';

// Real Seneca 3.38, in this process (no transport: test/integration/seneca.test.ts has it).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Seneca's own typings are `any`
type Instance = any;
const Seneca = createRequire(import.meta.url)('seneca') as (options?: object) => Instance;
type Reply = (err: Error | null, out?: unknown) => void;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fake clock (ms) the registry times with: actions advance it, so durations are exact. */
interface Clocked {
  readonly probe: Probe;
  advance(ms: number): void;
}

function clocked(): Clocked {
  let now = 1_000_000;
  const probe = createProbe({ clock: () => now });
  cleanups.push(() => probe.close());
  return { probe, advance: (ms) => (now += ms) };
}

function seneca(): Instance {
  const s = Seneca({ log: 'silent' });
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

const ready = (s: Instance): Promise<void> => new Promise((resolve) => s.ready(() => resolve()));

/** One act; resolves with [err, out] and the context its reply callback ran in. */
function act(s: Instance, msg: unknown): Promise<{ err: Error | null; out: unknown; store: unknown }> {
  return new Promise((resolve) => s.act(msg, (err: Error | null, out: unknown) => resolve({ err, out, store: context.get() === undefined ? undefined : { ...context.get() } })));
}

/** Series of a histogram family as [labels, count, sum]. */
function durations(s: Snapshot, name: string): Array<[Record<string, string>, number, number]> {
  const f = s.metrics.find((m) => m.exportName === name);
  if (f === undefined) return [];
  if (f.kind !== 'histogram') throw new Error(`${name} is not a histogram`);
  return f.series.map((x) => [x.labels, x.value.count, Math.round(x.value.sum * 1e6) / 1e6]);
}

/** Series of a counter family as [labels, value]. */
function calls(s: Snapshot, name: string): Array<[Record<string, string>, number]> {
  const f = s.metrics.find((m) => m.exportName === name);
  if (f === undefined) return [];
  if (f.kind !== 'counter') throw new Error(`${name} is not a counter`);
  return f.series.map((x) => [x.labels, x.value]);
}

const rpc = (method: string, error = '') => ({ rpc_system: 'seneca', rpc_method: method, error_type: error });

describe('senecaProbe', () => {
  it('times each action by pattern with the injected clock, and counts each call when it starts', async () => {
    const { probe, advance } = clocked();
    const s = seneca().use(senecaPlugin({ registry: probe }));
    s.add({ cmd: 'greet' }, (msg: { name: string }, reply: Reply) => {
      advance(30);
      reply(null, { hello: msg.name });
    });
    s.add({ role: 'math', cmd: 'sum' }, (msg: { a: number; b: number }, reply: Reply) => {
      advance(7);
      setImmediate(() => reply(null, { sum: msg.a + msg.b }));
    });
    await ready(s);
    expect((await act(s, { cmd: 'greet', name: 'Ada' })).out).toEqual({ hello: 'Ada' });
    await act(s, { cmd: 'greet', name: 'Bob' });
    expect((await act(s, 'role:math,cmd:sum,a:2,b:3')).out).toEqual({ sum: 5 });
    const snap = probe.snapshot();
    expect(durations(snap, 'rpc_server_duration')).toEqual([
      [rpc('cmd:greet'), 2, 0.06],
      [rpc('cmd:sum,role:math'), 1, 0.007],
    ]);
    expect(calls(snap, 'rpc_server_calls')).toEqual([
      [{ rpc_system: 'seneca', rpc_method: 'cmd:greet' }, 2],
      [{ rpc_system: 'seneca', rpc_method: 'cmd:sum,role:math' }, 1],
    ]);
    expect(durations(snap, 'rpc_client_duration')).toEqual([]);
  });

  it('instruments actions added after the plugin, and leaves out Seneca\'s own actions unless internal is on', async () => {
    const { probe } = clocked();
    const s = seneca().use(senecaPlugin({ registry: probe }));
    await ready(s);
    s.add('cmd:late', (_msg: unknown, reply: Reply) => reply(null, {}));
    await act(s, 'cmd:late');
    await act(s, 'role:seneca,cmd:stats');
    expect(calls(probe.snapshot(), 'rpc_server_calls')).toEqual([[{ rpc_system: 'seneca', rpc_method: 'cmd:late' }, 1]]);

    const other = clocked();
    const t = seneca().use(senecaPlugin({ registry: other.probe, internal: true }));
    await ready(t);
    await act(t, 'role:seneca,cmd:stats');
    expect(calls(other.probe.snapshot(), 'rpc_server_calls')).toContainEqual([{ rpc_system: 'seneca', rpc_method: 'cmd:stats,role:seneca' }, 1]);
  });

  it('counts every message no pattern matched under one constant value: 2 000 random patterns make one series', async () => {
    const { probe } = clocked();
    const s = seneca().use(senecaPlugin({ registry: probe }));
    await ready(s);
    for (let i = 0; i < 2_000; i++) {
      const { err } = await act(s, { [`scan${i}`]: Math.random() });
      expect((err as Error & { code?: string }).code).toBe('act_not_found');
    }
    const snap = probe.snapshot();
    expect(durations(snap, 'rpc_server_duration').map(([l, n]) => [l, n])).toEqual([[rpc(UNMATCHED_PATTERN, 'act_not_found'), 2_000]]);
    expect(calls(snap, 'rpc_server_calls')).toEqual([[{ rpc_system: 'seneca', rpc_method: 'unmatched' }, 2_000]]);
  });

  it('records an error an action replies with or throws under its error_type, and notifies it once with the pattern and message id', async () => {
    const { probe } = clocked();
    const records: ErrorRecord[] = [];
    cleanups.push(onError((r) => records.push(r)));
    const s = seneca().use(senecaPlugin({ registry: probe }));
    s.add('cmd:divide', (msg: { by: number }, reply: Reply) => (msg.by === 0 ? reply(new RangeError('division by zero')) : reply(null, { result: 100 / msg.by })));
    s.add('cmd:explode', () => {
      throw new Error('thrown in the action');
    });
    s.add('cmd:coded', (_m: unknown, reply: Reply) => reply(Object.assign(new Error('no credit'), { code: 'credit_unavailable' })));
    await ready(s);
    expect((await act(s, 'cmd:divide,by:4')).out).toEqual({ result: 25 });
    const failed = await act(s, 'cmd:divide,by:0');
    // Seneca hands the caller its own wrapper; the metrics and the notified record have the original.
    expect(failed.err?.message).toBe('seneca: Action cmd:divide failed: division by zero.');
    expect((await act(s, 'cmd:explode')).err?.message).toBe('seneca: Action cmd:explode failed: thrown in the action.');
    await act(s, 'cmd:coded');
    expect(durations(probe.snapshot(), 'rpc_server_duration').map(([l, n]) => [l, n])).toEqual([
      [rpc('cmd:divide'), 1],
      [rpc('cmd:divide', 'RangeError'), 1],
      [rpc('cmd:explode', 'Error'), 1],
      [rpc('cmd:coded', 'credit_unavailable'), 1],
    ]);
    expect(records.map((r) => [r.message, r.source, r.context.pattern])).toEqual([
      ['division by zero', 'seneca', 'cmd:divide'],
      ['thrown in the action', 'seneca', 'cmd:explode'],
      ['no credit', 'seneca', 'cmd:coded'],
    ]);
    for (const r of records) expect(r.context.messageId).toMatch(/^[a-z0-9]+\/[a-z0-9]+$/);
  });

  it('notifies an error handed up a chain of actions once, and not at all with notify: false', async () => {
    const records: ErrorRecord[] = [];
    cleanups.push(onError((r) => records.push(r)));
    const s = seneca().use(senecaPlugin({ registry: clocked().probe }));
    s.add('cmd:inner', (_m: unknown, reply: Reply) => reply(new Error('inner failed')));
    s.add('cmd:outer', function (this: Instance, _m: unknown, reply: Reply) {
      this.act('cmd:inner', (err: Error) => reply(err));
    });
    await ready(s);
    await act(s, 'cmd:outer');
    expect(records.map((r) => [r.message, r.context.pattern])).toEqual([['inner failed', 'cmd:inner']]);

    records.length = 0;
    const quiet = seneca().use(senecaPlugin({ registry: clocked().probe, notify: false }));
    quiet.add('cmd:fail', (_m: unknown, reply: Reply) => reply(new Error('not notified')));
    await ready(quiet);
    await act(quiet, 'cmd:fail');
    expect(records).toEqual([]);
  });

  it("runs each action and its caller's reply in the caller's context, even for calls made in the same tick (Seneca alone gives every one the first caller's)", async () => {
    const s = seneca().use(senecaPlugin({ registry: clocked().probe }));
    s.add('cmd:who', (_m: unknown, reply: Reply) => setTimeout(() => reply(null, { user: context.get('user'), pattern: context.get('pattern') }), 1));
    await ready(s);
    const results = await Promise.all(['ada', 'bob', 'cy'].map((user) => context.run({ user }, () => act(s, 'cmd:who'))));
    expect(results.map((r) => r.out)).toEqual([
      { user: 'ada', pattern: 'cmd:who' },
      { user: 'bob', pattern: 'cmd:who' },
      { user: 'cy', pattern: 'cmd:who' },
    ]);
    expect(results.map((r) => (r.store as { user?: string }).user)).toEqual(['ada', 'bob', 'cy']);
  });

  it("keeps the context through prior(), times an overridden action once, and keeps an action's context.set() to itself", async () => {
    const { probe, advance } = clocked();
    const s = seneca().use(senecaPlugin({ registry: probe }));
    s.add('cmd:load', (_m: unknown, reply: Reply) => setTimeout(() => reply(null, { inner: context.get('user'), seen: context.get('step') }), 1));
    s.add('cmd:load', function (this: Instance, msg: unknown, reply: Reply) {
      context.set('step', 'override');
      advance(5);
      setTimeout(() => this.prior(msg, (err: Error | null, out: object) => reply(err, { ...out, outer: context.get('user') })), 1);
    });
    await ready(s);
    const results = await Promise.all(['ada', 'bob'].map((user) => context.run({ user }, () => act(s, 'cmd:load'))));
    expect(results.map((r) => r.out)).toEqual([
      { inner: 'ada', seen: 'override', outer: 'ada' },
      { inner: 'bob', seen: 'override', outer: 'bob' },
    ]);
    expect(results.map((r) => (r.store as Record<string, unknown>).step)).toEqual([undefined, undefined]);
    // Ada's call starts at 0 and advances the clock to 5, when Bob's starts; both end at 10.
    expect(durations(probe.snapshot(), 'rpc_server_duration')).toEqual([[rpc('cmd:load'), 2, 0.015]]);
  });

  it('records nothing twice when the plugin is used twice on one instance, and warns that the second use changes nothing', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(String(w.code));
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const { probe } = clocked();
    const s = seneca().use(senecaPlugin({ registry: probe })).use(senecaPlugin({ registry: probe }));
    s.add('cmd:once', (_m: unknown, reply: Reply) => reply(null, {}));
    await ready(s);
    await act(s, 'cmd:once');
    expect(calls(probe.snapshot(), 'rpc_server_calls')).toEqual([[{ rpc_system: 'seneca', rpc_method: 'cmd:once' }, 1]]);
    await new Promise((r) => setImmediate(r));
    expect(warnings.filter((c) => c === 'PROBEKIT_SENECA_TWICE')).toEqual(['PROBEKIT_SENECA_TWICE']);
  });

  it('leaves out what skip() says, keeps actions when skip() throws, and adds static labels', async () => {
    const { probe } = clocked();
    const s = seneca().use(senecaPlugin({
      registry: probe,
      labels: { service: 'mortgage' },
      skip: (pattern: string) => {
        if (pattern === 'cmd:boom') throw new Error('hostile skip');
        return pattern === 'cmd:health';
      },
    }));
    s.add('cmd:health', (_m: unknown, reply: Reply) => reply(null, {}));
    s.add('cmd:boom', (_m: unknown, reply: Reply) => reply(null, {}));
    await ready(s);
    await act(s, 'cmd:health');
    await act(s, 'cmd:boom');
    expect(calls(probe.snapshot(), 'rpc_server_calls')).toEqual([[{ rpc_system: 'seneca', rpc_method: 'cmd:boom', service: 'mortgage' }, 1]]);
  });

  it('records an error whose code getter throws as error_type Error, and the caller still gets its reply', async () => {
    const { probe } = clocked();
    const s = seneca().use(senecaPlugin({ registry: probe, notify: false }));
    const hostile = new Error('hostile');
    Object.defineProperty(hostile, 'code', {
      get() {
        throw new Error('code getter');
      },
    });
    s.add('cmd:hostile', (_m: unknown, reply: Reply) => reply(hostile));
    await ready(s);
    expect((await act(s, 'cmd:hostile')).err?.message).toBe('seneca: Action cmd:hostile failed: hostile.');
    expect(durations(probe.snapshot(), 'rpc_server_duration').map(([l, n]) => [l, n])).toEqual([[rpc('cmd:hostile', 'Error'), 1]]);
  });

  it('lets the fault hook answer an action with an error (injected_fault, not notified) or hold its reply back by the delay, which its duration includes', async () => {
    const p = createProbe();
    cleanups.push(() => p.close());
    const records: ErrorRecord[] = [];
    cleanups.push(onError((r) => records.push(r)));
    const asked: FaultRequest[] = [];
    setFaultHook((r) => {
      asked.push(r);
      if (r.route === 'cmd:fail') return { kind: 'error', status: 503, message: 'injected by a test' };
      if (r.route === 'cmd:slow') return { kind: 'delay', ms: 40 };
      return undefined;
    });
    cleanups.push(() => setFaultHook(undefined));
    const ran: string[] = [];
    const s = seneca().use(senecaPlugin({ registry: p }));
    for (const cmd of ['fail', 'slow', 'fine']) s.add({ cmd }, (_m: unknown, reply: Reply) => (ran.push(cmd), reply(null, { cmd })));
    await ready(s);
    const failed = await act(s, 'cmd:fail');
    // Seneca wraps it as it wraps an action's own error; the original is the injected one.
    expect((failed.err as Error & { orig?: { code?: string } }).orig?.code).toBe('injected_fault');
    expect((await act(s, 'cmd:slow')).out).toEqual({ cmd: 'slow' });
    expect((await act(s, 'cmd:fine')).out).toEqual({ cmd: 'fine' });
    expect(ran).toEqual(['slow', 'fine']);
    expect(asked.map((r) => [r.kind, r.method, r.route])).toEqual([
      ['rpc', 'seneca', 'cmd:fail'],
      ['rpc', 'seneca', 'cmd:slow'],
      ['rpc', 'seneca', 'cmd:fine'],
    ]);
    expect(records).toEqual([]);
    const rows = durations(p.snapshot(), 'rpc_server_duration');
    expect(rows.map(([l, n]) => [l, n])).toEqual([
      [rpc('cmd:fail', 'injected_fault'), 1],
      [rpc('cmd:slow'), 1],
      [rpc('cmd:fine'), 1],
    ]);
    expect(rows[1]?.[2]).toBeGreaterThanOrEqual(0.039);
  });

  it('rejects bad options and a `this` that is not Seneca with a TypeError naming them', () => {
    expectError(
      thrown(() => senecaProbe.call(Seneca({ log: 'silent' }), bad({ internal: 'yes' }))),
      { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'internal' },
    );
    expectError(
      thrown(() => senecaProbe.call(Seneca({ log: 'silent' }), bad({ bukets: [1] }))),
      { type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'bukets' },
    );
    const notSeneca = thrown(() => senecaProbe.call({}, {}));
    expect([notSeneca instanceof TypeError, (notSeneca as { code?: string }).code, notSeneca.message]).toEqual([
      true,
      'PROBEKIT_INVALID_ARGUMENT',
      'probekit: senecaProbe() "this" must be a Seneca 3 instance (give senecaProbe to seneca.use()), got {} (object)',
    ]);
  });
});
