import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { alert, alertStates, alertTimerRunning, evaluateAlerts } from '../../src/admin/alerts.js';
import { createProbe, probe } from '../../src/probes/probe.js';
import { bad, expectError, thrown } from '../support/helpers.js';

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Hook {
  readonly url: string;
  /** Every POST received, with the status it was answered. */
  readonly received: Array<{ status: number; path: string; body: Record<string, unknown> }>;
}

/** A local webhook that answers 500 to the first `failures` requests, then 200. */
async function webhook(failures: number): Promise<Hook> {
  const received: Hook['received'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = received.length < failures ? 500 : 200;
      received.push({ status, path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      res.writeHead(status).end(status === 200 ? 'ok' : 'try again');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T1?x=1`, received };
}

const firing = (name: string): number | undefined => {
  const family = probe.snapshot().metrics.find((m) => m.exportName === 'probekit_alert_firing');
  const series = family?.series.find((s) => (s.labels as Record<string, string>).alert === name) as { value: number } | undefined;
  return series?.value;
};

describe('alert()', () => {
  it('runs without a webhook: its state goes from ok to pending to firing and back in alertStates() and the gauge, and nothing is sent', async () => {
    const p = createProbe();
    const heap = p.metric({ name: 'heap_mb' });
    let now = Date.UTC(2026, 0, 1);
    const start = now;
    const a = alert({ name: 'heap-growth', metric: 'heap_mb', when: '> 100', for: '10s', registry: p, clock: () => now });
    cleanups.push(() => a.stop());
    const at = async (seconds: number, value: number) => {
      now = start + seconds * 1000;
      heap.set(value);
      await evaluateAlerts();
      return alertStates().find((s) => s.name === 'heap-growth');
    };
    const base = { name: 'heap-growth', metric: 'heap_mb', field: null, condition: '> 100', forMs: 10_000 };
    expect(await at(0, 50)).toEqual({ ...base, value: 50, state: 'ok', since: null });
    expect(await at(5, 150)).toEqual({ ...base, value: 150, state: 'pending', since: start + 5000 });
    expect(await at(15, 160)).toEqual({ ...base, value: 160, state: 'firing', since: start + 5000 });
    expect([a.firing, firing('heap-growth')]).toEqual([true, 1]);
    expect(await at(16, 20)).toEqual({ ...base, value: 20, state: 'ok', since: null });
    expect(firing('heap-growth')).toBe(0);
    a.stop();
    expect(alertStates().find((s) => s.name === 'heap-growth')).toBeUndefined();
  });

  it('fires exactly once when the condition has held for "for", retries through the webhook\'s 500s, and resolves with a second message', async () => {
    const hook = await webhook(2);
    const p = createProbe();
    const depth = p.metric({ name: 'queue_depth', labels: ['queue'] });
    let now = Date.UTC(2026, 0, 1);
    const start = now;
    const a = alert({ name: 'queue-deep', metric: 'queue_depth', labels: { queue: 'mail' }, when: '> 10', for: '30s', every: '1m', webhook: hook.url, registry: p, clock: () => now });
    cleanups.push(() => a.stop());
    const at = async (seconds: number, value: number): Promise<void> => {
      now = start + seconds * 1000;
      depth.labels({ queue: 'mail' }).set(value);
      await evaluateAlerts();
    };
    await at(0, 5);
    await at(5, 20);
    await at(20, 20);
    expect([a.firing, hook.received.length, firing('queue-deep')]).toEqual([false, 0, 0]);
    await at(35, 25);
    expect([a.firing, firing('queue-deep')]).toEqual([true, 1]);
    expect(hook.received.map((r) => [r.status, r.path])).toEqual([
      [500, '/hooks/T1?x=1'],
      [500, '/hooks/T1?x=1'],
      [200, '/hooks/T1?x=1'],
    ]);
    const fired = hook.received[2]?.body;
    expect({ ...fired, host: undefined, pid: undefined }).toEqual({
      text: '[FIRING] queue-deep: queue_depth{queue="mail"} is 25 (> 10 for 30s)',
      alert: 'queue-deep',
      status: 'firing',
      metric: 'queue_depth',
      labels: { queue: 'mail' },
      field: 'value',
      value: 25,
      condition: '> 10',
      for: 30_000,
      since: new Date(start + 5000).toISOString(),
      host: undefined,
      pid: undefined,
    });
    expect(fired?.pid).toBe(process.pid);
    await at(50, 30);
    await at(70, 2); // resolved, but only 35 s after the last message: held back
    expect([a.firing, firing('queue-deep'), hook.received.length]).toEqual([false, 0, 3]);
    await at(96, 2);
    expect(hook.received.length).toBe(4);
    expect(hook.received[3]?.body).toMatchObject({ text: '[RESOLVED] queue-deep: queue_depth{queue="mail"} is 2', status: 'resolved', value: 2, since: new Date(start + 96_000).toISOString() });
    await at(200, 3);
    expect(hook.received.length).toBe(4);
  });

  it('sends nothing for a condition that flaps back before "every" has passed since the last message', async () => {
    const hook = await webhook(0);
    const p = createProbe();
    const errors = p.counter({ name: 'errors_seen' });
    let now = 0;
    const a = alert({ name: 'flappy', metric: 'errors_seen', when: '>= 1', webhook: hook.url, every: 60_000, registry: p, clock: () => now });
    cleanups.push(() => a.stop());
    errors.inc();
    await evaluateAlerts();
    errors.dec();
    now = 10_000;
    await evaluateAlerts();
    errors.inc();
    now = 20_000;
    await evaluateAlerts();
    now = 70_000;
    await evaluateAlerts();
    expect(hook.received.map((r) => r.body.status)).toEqual(['firing']);
  });

  it('reads a meter\'s rate, a histogram\'s p99 and mean, and a counter\'s growth over "for" as delta', async () => {
    const hook = await webhook(0);
    const p = createProbe();
    const jobs = p.counter({ name: 'jobs_done', monotonic: true });
    let now = 0;
    const grew = alert({ name: 'growing', metric: 'jobs_done', field: 'delta', when: (v) => v >= 5, for: 10_000, webhook: hook.url, every: 0, registry: p, clock: () => now });
    cleanups.push(() => grew.stop());
    jobs.inc(100);
    await evaluateAlerts();
    now = 5000;
    jobs.inc(3);
    await evaluateAlerts();
    expect(grew.firing).toBe(false);
    now = 10_000;
    jobs.inc(3);
    await evaluateAlerts(); // 106 - 100 over the 10 s: holding since now
    expect(grew.firing).toBe(false);
    now = 20_000;
    jobs.inc(10);
    await evaluateAlerts(); // 116 - 106 over the last 10 s, held for 10 s
    expect(grew.firing).toBe(true);
    expect(hook.received.map((r) => [r.body.status, r.body.value])).toEqual([['firing', 10]]);
  });

  it('runs every alert on one shared unref()ed timer that stops with the last alert', async () => {
    const hook = await webhook(0);
    const a = alert({ name: 'one', metric: 'nothing_here', when: '> 0', webhook: hook.url });
    const b = alert({ name: 'two', metric: 'nothing_here', when: '> 0', webhook: hook.url });
    expect(alertTimerRunning()).toBe(true);
    a.stop();
    expect(alertTimerRunning()).toBe(true);
    b.stop();
    b.stop();
    expect(alertTimerRunning()).toBe(false);
  });

  const cases: Array<[string, unknown, typeof TypeError | typeof RangeError, string, string]> = [
    ['no name', { metric: 'm', when: '> 1', webhook: 'http://127.0.0.1/' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'name'],
    ['a condition it cannot read', { name: 'a', metric: 'm', when: 'above 1', webhook: 'http://127.0.0.1/' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'when'],
    ['a duration it cannot read', { name: 'a', metric: 'm', when: '> 1', for: '5 minutes', webhook: 'http://127.0.0.1/' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'for'],
    ['a webhook that is not http', { name: 'a', metric: 'm', when: '> 1', webhook: 'ftp://x/' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'webhook'],
    ['an unknown field', { name: 'a', metric: 'm', when: '> 1', field: 'p95', webhook: 'http://127.0.0.1/' }, TypeError, 'PROBEKIT_INVALID_OPTION', 'field'],
    ['an unknown option', { name: 'a', metric: 'm', when: '> 1', webhook: 'http://127.0.0.1/', threshold: 1 }, TypeError, 'PROBEKIT_UNKNOWN_OPTION', 'threshold'],
  ];
  for (const [what, options, type, code, option] of cases) {
    it(`rejects ${what}`, () => {
      expectError(thrown(() => alert(bad(options))), { type, code, option });
    });
  }
});
