import { afterEach, describe, expect, it } from 'vitest';
import { createErrorStore, createProbe, prometheus, type Probe } from '../../../src/index.js';
import { ActionRegistry } from '../../../src/admin/actions.js';
import { isoDateTime } from '../../../src/compat/pmx/date.js';
import { MONITOR_INTERVAL_MS, PmxAgent, type Timers } from '../../../src/compat/pmx/facade.js';
import type { Pm2Link } from '../../../src/compat/pmx/ipc.js';
import type { Registry } from '../../../src/probes/probe.js';
import { bad, expectError, thrown } from '../../support/helpers.js';

/** A channel to PM2 that records what is sent and lets a test play PM2's messages. */
class FakeLink implements Pm2Link {
  readonly sent: Array<{ type: string; data: unknown }> = [];
  private listener: ((m: unknown) => void) | undefined;
  closed = false;
  send(type: string, data: unknown): boolean {
    this.sent.push({ type, data });
    return true;
  }
  onMessage(listener: (m: unknown) => void): () => void {
    this.listener = listener;
    return () => (this.listener = undefined);
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
  /** PM2 sends `message` (what `pm2 trigger` does). */
  deliver(message: unknown): void {
    this.listener?.(message);
  }
  of(type: string): unknown[] {
    return this.sent.filter((m) => m.type === type).map((m) => m.data);
  }
}

/** Timers driven by hand: `fire()` runs the interval callback once. */
class ManualTimers implements Timers {
  readonly intervals: Array<{ ms: number; fn: () => void; unref: boolean; cleared: boolean }> = [];
  setInterval(fn: () => void, ms: number): unknown {
    const entry = { ms, fn, unref: false, cleared: false };
    this.intervals.push(entry);
    return { unref: () => (entry.unref = true), entry };
  }
  clearInterval(handle: unknown): void {
    (handle as { entry: { cleared: boolean } }).entry.cleared = true;
  }
  fire(): void {
    for (const i of this.intervals) if (!i.cleared) i.fn();
  }
}

let p: Probe | undefined;
const agents: PmxAgent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  p?.close();
  p = undefined;
  await new Promise((resolve) => setImmediate(resolve));
  for (const l of warningListeners.splice(0)) process.off('warning', l);
});

function setup(options: { pm2?: boolean; catches?: boolean } = {}) {
  const clock = { t: 1_000_000 };
  p = createProbe({ clock: () => clock.t });
  const registry = p as unknown as Registry;
  const store = createErrorStore({ probe: p });
  const actions = new ActionRegistry();
  const link = options.pm2 === false ? undefined : new FakeLink();
  const timers = new ManualTimers();
  const now = { t: 0 };
  const agent = new PmxAgent({ registry, store, actions, link, timers, now: () => now.t, actionTimeoutMs: 50, pm2CatchesUncaught: options.catches ?? false });
  agents.push(agent);
  return { agent, link: link as FakeLink, timers, registry, store, actions, clock, now };
}

const warningListeners: Array<(w: Error) => void> = [];
function warnings(code: string): Error[] {
  const seen: Error[] = [];
  const listener = (w: Error & { code?: string }): void => {
    if (w.code === code) seen.push(w);
  };
  process.on('warning', listener);
  warningListeners.push(listener);
  return seen;
}
const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await nextTick();
};

describe('isoDateTime()', () => {
  it.each([
    ['2026-12-03T08:00:00.000Z', Date.UTC(2026, 11, 3, 8)],
    ['2026-12-03T08:00:00Z', Date.UTC(2026, 11, 3, 8)],
    ['2026-12-03T10:00:00+02:00', Date.UTC(2026, 11, 3, 8)],
    ['2024-02-29T23:59:59.999999999z', Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
  ])('reads the full ISO 8601 date-time %s', (text, time) => {
    expect(isoDateTime(text)?.getTime()).toBe(time);
  });

  it.each([
    ['a date alone', '2026-12-03'],
    ['a time without seconds', '2026-12-03T08:00Z'],
    ['a time without a zone', '2026-12-03T08:00:00'],
    ['month 13', '2026-13-03T08:00:00Z'],
    ['30 February', '2026-02-30T08:00:00Z'],
    ['hour 24', '2026-12-03T24:00:00Z'],
    ['a zone of +25:00', '2026-12-03T08:00:00+25:00'],
    ['text around it', 'at 2026-12-03T08:00:00Z'],
    ['a number', 1_700_000_000_000],
    ['a Date', new Date(0)],
  ])('is undefined for %s', (_what, value) => {
    expect(isoDateTime(value)).toBeUndefined();
  });
});

describe('The facade metric set to an ISO date-time (Last call)', () => {
  it('is a timestamp in Prometheus, the string for PM2 and from val()', async () => {
    const { agent, link, timers, registry } = setup();
    const lastCall = agent.probe().metric({ name: 'Last call' });
    lastCall.set('2026-12-03T08:00:00.500Z');
    timers.fire();
    const text = await prometheus.text({ registry });
    expect(text.split('\n').filter((l) => l.startsWith('last_call'))).toEqual(['last_call 1796284800.5']);
    expect(lastCall.val()).toBe('2026-12-03T08:00:00.500Z');
    expect(link.of('axm:monitor').at(-1)).toEqual({ 'Last call': { value: '2026-12-03T08:00:00.500Z', type: 'Last call', historic: true, agg_type: 'avg' } });
  });

  it('is a timestamp too when a value function returns it', async () => {
    const { agent, registry } = setup();
    agent.metric({ name: 'Started', value: () => '2026-12-03T08:00:00Z' });
    expect((await prometheus.text({ registry })).split('\n').filter((l) => l.startsWith('started'))).toEqual(['started 1796284800']);
  });

  it('keeps other strings as probekit does: an info sample', async () => {
    const { agent, registry } = setup();
    agent.metric({ name: 'Version', value: 'v1.2.3' }).set('2026-12-03');
    expect((await prometheus.text({ registry })).split('\n').filter((l) => l.startsWith('version'))).toEqual(['version_info{value="2026-12-03"} 1']);
  });
});

describe('The PM2 monitor', () => {
  it('sends one axm:monitor per interval of 1 s, on an unref()ed timer, with every probe kind', () => {
    const { agent, link, timers } = setup();
    const probe = agent.probe();
    probe.metric({ name: 'Realtime users', value: () => 42, unit: 'users', agg_type: 'sum' });
    probe.counter({ name: 'Number of calls', agg_type: 'none' }).inc(3);
    const meter = probe.meter({ name: 'Calls per minute', samples: 60, timeframe: 3600 });
    meter.mark(2);
    const h = probe.histogram({ name: 'Latency', unit: 'ms', measurement: 'max', type: 'http/latency' });
    h.update(12.345);
    expect(timers.intervals.map((i) => ({ ms: i.ms, unref: i.unref }))).toEqual([{ ms: MONITOR_INTERVAL_MS, unref: true }]);
    expect(MONITOR_INTERVAL_MS).toBe(1000);
    timers.fire();
    timers.fire();
    expect(link.of('axm:monitor')).toHaveLength(2);
    expect(link.of('axm:monitor')[1]).toEqual({
      'Realtime users': { value: 42, type: 'Realtime users', unit: 'users', historic: true, agg_type: 'sum' },
      'Number of calls': { value: 3, type: 'Number of calls', historic: true },
      'Calls per minute': { value: 2, type: 'Calls per minute', historic: true, agg_type: 'avg' },
      Latency: { value: 12.35, type: 'http/latency', unit: 'ms', historic: true, agg_type: 'avg' },
    });
  });

  it('leaves out a metric never set and a value function that throws, and sends the rest', () => {
    const { agent, link, timers } = setup();
    agent.metric({ name: 'Unset' });
    agent.metric({
      name: 'Broken',
      value: () => {
        throw new Error('no');
      },
    });
    agent.counter({ name: 'Fine' }).inc();
    timers.fire();
    expect(link.of('axm:monitor')).toEqual([{ Fine: { value: 1, type: 'Fine', historic: true, agg_type: 'avg' } }]);
  });

  it('sends nothing and starts no timer outside PM2, while the probes still record', async () => {
    const { agent, timers, registry } = setup({ pm2: false });
    agent.init({ http: false, errors: false });
    agent.counter({ name: 'Number of calls' }).inc(2);
    agent.action('hello', (reply: (v: unknown) => void) => reply('hi'));
    expect(agent.emit('event', { a: 1 })).toBe(false);
    expect(timers.intervals).toEqual([]);
    expect((await prometheus.text({ registry })).split('\n').filter((l) => l.startsWith('number_of_calls'))).toEqual(['number_of_calls 2']);
  });

  it('stops its timer and its link on destroy()', () => {
    const { agent, link, timers } = setup();
    agent.counter({ name: 'n' });
    agent.destroy();
    expect({ cleared: timers.intervals.map((i) => i.cleared), closed: link.closed }).toEqual({ cleared: [true], closed: true });
  });

  it("measures the Loop delay default probe from the timer's drift under PM2", () => {
    const { agent, link, timers, now } = setup();
    agent.init({ http: false, errors: false });
    now.t += MONITOR_INTERVAL_MS + 30;
    timers.fire();
    now.t += MONITOR_INTERVAL_MS + 10;
    timers.fire();
    const last = link.of('axm:monitor').at(-1) as Record<string, { value: unknown; type: string; unit?: string }>;
    expect({ loop: last['Loop delay'], requests: typeof last['Active requests']?.value, handles: typeof last['Active handles']?.value }).toEqual({
      loop: { value: 20, type: 'libuv/latency', unit: 'ms', historic: true, agg_type: 'avg' },
      requests: 'number',
      handles: 'number',
    });
  });
});

describe('init() under PM2', () => {
  it('sends axm:option:configuration with the options, never a name that would rename the app', () => {
    const { agent, link } = setup();
    agent.init({ http: false, errors: false, custom_probes: false, network: true, ports: true, name: 'renamed', alert_enabled: true });
    expect(link.of('axm:option:configuration')).toEqual([
      { http: false, errors: false, custom_probes: false, network: true, ports: true, alert_enabled: true, error: false, probekit: true },
    ]);
  });

  it('accepts every pmx 1.6 and @pm2/io option, and warns once about one none of them knows', async () => {
    const { agent } = setup();
    const seen = warnings('PROBEKIT_PMX_UNKNOWN_OPTION');
    agent.init({
      http: false,
      errors: false,
      custom_probes: false,
      network: true,
      ports: true,
      alert_enabled: true,
      transactions: false,
      profiling: true,
      ignore_routes: [/health/],
      metrics: { v8: true, eventLoop: false, http: false },
      tracing: { enabled: false },
      catchExceptions: false,
      htpp: true,
    });
    agent.init({ htpp: true, http: false, errors: false });
    await nextTick();
    expect(seen.map((w) => w.message)).toEqual(['probekit: pmx init() got the option "htpp", which neither pmx, @pm2/io nor probekit knows; it is ignored']);
  });

  it('rejects options that are not an object, and a modelled switch that is not a boolean', () => {
    const { agent } = setup();
    expectError(thrown(() => agent.init(bad('http'))), { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
    expectError(thrown(() => agent.init(bad({ http: 'yes' }))), { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'http' });
  });
});

describe('Facade probes', () => {
  it("accept pmx's options probekit does not model (alert, historic, agg_type, type, id) without a warning, and warn once about an unknown one", async () => {
    const { agent } = setup();
    const seen = warnings('PROBEKIT_PMX_UNKNOWN_OPTION');
    agent.metric({ name: 'a', alert: { mode: 'threshold', value: 5, cmp: '>' }, historic: false, agg_type: 'max', type: 'custom/a' });
    agent.counter({ name: 'b', id: 'custom/b' });
    agent.meter({ name: 'c', seconds: 60, timeframe: 60 });
    agent.histogram({ name: 'd', measurement: 'p95', colour: 'blue' });
    agent.histogram({ name: 'e', colour: 'red' });
    await nextTick();
    expect(seen.map((w) => w.message)).toEqual(['probekit: pmx histogram() got the option "colour", which neither pmx, @pm2/io nor probekit knows; it is ignored']);
  });

  it.each([
    { what: 'no options', make: (a: PmxAgent) => a.metric(bad(undefined)), code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined },
    { what: 'no name', make: (a: PmxAgent) => a.counter(bad({})), code: 'PROBEKIT_INVALID_OPTION', option: 'name' },
    { what: 'an unknown agg_type', make: (a: PmxAgent) => a.meter(bad({ name: 'm', agg_type: 'median' })), code: 'PROBEKIT_INVALID_OPTION', option: 'agg_type' },
    { what: 'an unknown measurement', make: (a: PmxAgent) => a.histogram(bad({ name: 'h', measurement: 'p42' })), code: 'PROBEKIT_INVALID_OPTION', option: 'measurement' },
  ])('are a TypeError with $what, when created', ({ make, code, option }) => {
    const { agent } = setup();
    expectError(
      thrown(() => make(agent)),
      { type: TypeError, code, option },
    );
  });

  it('never throw on a recording call with bad input: it is dropped and counted', async () => {
    const { agent, registry } = setup();
    const m = agent.metric({ name: 'm' });
    const c = agent.counter({ name: 'c' });
    const meter = agent.meter({ name: 'r' });
    const h = agent.histogram({ name: 'h' });
    const calls = [
      () => m.set(Number.NaN),
      () => m.set({}),
      () => m.set(undefined),
      () => c.inc(bad('x')),
      () => c.dec(Number.POSITIVE_INFINITY),
      () => meter.mark(-1),
      () => h.update(bad('12')),
      () => h.observe(Number.NaN),
    ];
    expect(calls.map((call) => call())).toEqual(calls.map(() => undefined));
    const dropped = (await prometheus.text({ registry })).split('\n').filter((l) => l.startsWith('probekit_dropped_values_total'));
    expect(dropped).toEqual([
      'probekit_dropped_values_total{metric="m"} 3',
      'probekit_dropped_values_total{metric="c"} 2',
      'probekit_dropped_values_total{metric="r"} 1',
      'probekit_dropped_values_total{metric="h"} 2',
    ]);
  });

  it("report a histogram's measurement: mean by default, median as p50, variance and stddev over every value", () => {
    const { agent } = setup();
    const mean = agent.histogram({ name: 'mean' });
    const median = agent.histogram({ name: 'median', measurement: 'median' });
    const variance = agent.histogram({ name: 'variance', measurement: 'variance' });
    const stddev = agent.histogram({ name: 'stddev', measurement: 'stddev' });
    expect(mean.val()).toBeNull();
    for (const v of [2, 4, 4, 4, 5, 5, 7, 9]) for (const h of [mean, median, variance, stddev]) h.update(v);
    expect([mean.val(), variance.val(), stddev.val()]).toEqual([5, 4, 2]);
    // The median comes from probekit's sketch: within 1/128 (0.78%) of the exact 4.
    expect(Math.abs((median.val() as number) - 4) / 4).toBeLessThanOrEqual(1 / 128);
  });
});

describe('Actions through PM2', () => {
  it('announces each action, answers a pm2 trigger with axm:reply, and passes the params to a two-parameter action', async () => {
    const { agent, link } = setup();
    const names: string[] = [];
    agent.action('memory-leak', (reply: (v: unknown) => void) => {
      names.push('David');
      reply({ result: `Hello ${names.at(-1)}` });
    });
    agent.action('division', { comment: 'divides 100' }, (params: unknown, reply: (v: unknown) => void) => reply({ result: 100 / Number(params) }));
    link.deliver('memory-leak');
    link.deliver({ msg: 'division', opts: '4', id: 0 });
    await flush();
    expect(link.of('axm:action')).toEqual([
      { action_name: 'memory-leak', action_type: 'custom', arity: 1, opts: null },
      { action_name: 'division', action_type: 'custom', arity: 2, opts: { comment: 'divides 100' } },
    ]);
    expect(link.of('axm:reply').map((r) => ({ ...(r as object), at: 0 }))).toEqual([
      { action_name: 'memory-leak', return: { result: 'Hello David' }, at: 0 },
      { action_name: 'division', return: { result: 25 }, at: 0 },
    ]);
  });

  it('announces actions registered before the facade connected', () => {
    const { agent, link, actions } = setup();
    actions.register('from-the-admin-side', { fn: () => undefined });
    agent.counter({ name: 'first use' });
    expect(link.of('axm:action')).toEqual([{ action_name: 'from-the-admin-side', action_type: 'custom', arity: 0, opts: null }]);
  });

  it('answers an action that throws or never replies with an error reply, and ignores unknown names', async () => {
    const { agent, link } = setup();
    agent.action('throws', () => {
      throw new Error('boom');
    });
    agent.action('silent', () => undefined);
    link.deliver('throws');
    link.deliver('silent');
    link.deliver('no-such-action');
    link.deliver({ type: 'log:reload' });
    link.deliver(null);
    await new Promise((resolve) => setTimeout(resolve, 80)); // the agent's action timeout is 50 ms here
    expect(link.of('axm:reply').map((r) => ({ ...(r as object), at: 0 }))).toEqual([
      { action_name: 'throws', return: { success: false, error: 'action "throws" failed: Error: boom' }, at: 0 },
      { action_name: 'silent', return: { success: false, error: 'action "silent" did not answer within 50 ms' }, at: 0 },
    ]);
  });

  it('streams a scoped action with its session uuid, and ignores one triggered without a session', async () => {
    const { agent, link } = setup();
    agent.scopedAction('tail', (params, res) => {
      res.send(`line 1 of ${(params as { file: string }).file}`);
      res.end('done');
    });
    link.deliver({ msg: 'tail', uuid: 'u-1', opts: { file: 'app.log' } });
    link.deliver({ action_name: 'tail', uuid: 'u-2', opts: { file: 'b.log' } });
    link.deliver('tail');
    await flush();
    expect(link.sent.filter((m) => m.type.startsWith('axm:scoped_action:'))).toEqual([
      { type: 'axm:scoped_action:stream', data: { action_name: 'tail', uuid: 'u-1', data: 'line 1 of app.log' } },
      { type: 'axm:scoped_action:end', data: { action_name: 'tail', uuid: 'u-1', data: 'done' } },
      { type: 'axm:scoped_action:stream', data: { action_name: 'tail', uuid: 'u-2', data: 'line 1 of b.log' } },
      { type: 'axm:scoped_action:end', data: { action_name: 'tail', uuid: 'u-2', data: 'done' } },
    ]);
    expect(link.of('axm:action')).toEqual([{ action_name: 'tail', action_type: 'scoped', arity: 2, opts: null }]);
  });

  it('rejects a bad action name or function when registering', () => {
    const { agent } = setup();
    expectError(thrown(() => agent.action('km:heapdump', () => undefined)), { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
    expectError(thrown(() => agent.action('ok', { opts: 1 }, 'not a function')), { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
  });
});

describe('Errors and events for PM2', () => {
  it('sends process:exception for a notified Error, string or object, with its context as metadata', () => {
    const { agent, link, store } = setup();
    const record = agent.notify(new Error('Unexpected Exception!'), { orderId: 42 });
    agent.notify('plain text');
    agent.notify({ message: 'from an object' });
    const sent = link.of('process:exception') as Array<Record<string, unknown>>;
    expect(sent.map((e) => ({ name: e.name, message: e.message, metadata: e.metadata, stackStart: String(e.stack).split('\n')[0] }))).toEqual([
      { name: 'Error', message: 'Unexpected Exception!', metadata: { orderId: 42 }, stackStart: 'Error: Unexpected Exception!' },
      { name: 'Error', message: 'plain text', metadata: {}, stackStart: 'Error: plain text' },
      { name: 'Object', message: 'from an object', metadata: {}, stackStart: 'Object: from an object' },
    ]);
    expect({ message: record.message, total: store.snapshot().total }).toEqual({ message: 'Unexpected Exception!', total: 3 });
  });

  it("leaves uncaught errors to PM2's own agent when it catches them, and forwards every other error", () => {
    const { agent, link, store } = setup({ catches: true });
    agent.notify(new Error('notified'));
    store.notify(new Error('crashed'), undefined, 'uncaughtException');
    store.notify(new Error('rejected'), undefined, 'unhandledRejection');
    store.notify(new Error('from express'), undefined, 'express');
    expect((link.of('process:exception') as Array<{ message: string }>).map((e) => e.message)).toEqual(['notified', 'from express']);
  });

  it('sends human:event for emit(), with a JSON-safe copy of the data, and never throws', () => {
    const { agent, link } = setup();
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    expect([agent.emit('user:signup', { plan: 'pro' }), agent.emit('tick', 3), agent.emit('loop', circular), agent.emit(bad(42), {}), agent.emit('', {})]).toEqual([true, true, true, false, false]);
    expect(link.of('human:event')).toEqual([
      { plan: 'pro', __name: 'user:signup' },
      { data: 3, __name: 'tick' },
      { data: '[event data that cannot be serialised]', __name: 'loop' },
    ]);
  });
});
