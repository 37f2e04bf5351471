import { describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';

/** The value of one self-metric series, read through the public snapshot; undefined when the series does not exist. */
function selfCount(p: Probe, exportName: string, metric: string): number | undefined {
  const family = p.snapshot().metrics.find((f) => f.exportName === exportName);
  if (family === undefined || family.kind !== 'counter') throw new Error(`no counter family ${exportName} in the snapshot`);
  return family.series.find((s) => s.labels.metric === metric)?.value;
}

const dropped = (p: Probe, metric: string): number | undefined => selfCount(p, 'probekit_dropped_values', metric);

describe('Counter', () => {
  it('starts at zero', () => {
    const c = createProbe().counter({ name: 'jobs' });
    expect(c.val()).toBe(0);
  });

  it('increments by one when inc() is given no argument', () => {
    const c = createProbe().counter({ name: 'jobs' });
    c.inc();
    c.inc();
    expect(c.val()).toBe(2);
  });

  it('increments by the given amount, fractions included', () => {
    const c = createProbe().counter({ name: 'bytes' });
    c.inc(5);
    c.inc(0.25);
    expect(c.val()).toBe(5.25);
  });

  it('decrements by one when dec() is given no argument', () => {
    const c = createProbe().counter({ name: 'active' });
    c.inc(3);
    c.dec();
    expect(c.val()).toBe(2);
  });

  it('decrements by the given amount and may go below zero', () => {
    const c = createProbe().counter({ name: 'active' });
    c.inc(2);
    c.dec(5);
    expect(c.val()).toBe(-3);
  });

  it('accepts a negative increment on an up/down counter and counts no drop', () => {
    const p = createProbe();
    const c = p.counter({ name: 'balance' });
    c.inc(10);
    c.inc(-4);
    expect(c.val()).toBe(6);
    expect(dropped(p, 'balance')).toBeUndefined();
  });

  it('goes back to zero on reset() and keeps counting afterwards', () => {
    const c = createProbe().counter({ name: 'jobs' });
    c.inc(7);
    c.reset();
    expect(c.val()).toBe(0);
    c.inc();
    expect(c.val()).toBe(1);
  });

  it('reports its count in the snapshot under its exported name', () => {
    const p = createProbe();
    const c = p.counter({ name: 'Active requests' });
    c.inc(4);
    c.dec();
    const family = p.snapshot().metrics.find((f) => f.name === 'Active requests');
    expect(family).toEqual({
      name: 'Active requests',
      exportName: 'active_requests',
      kind: 'counter',
      monotonic: false,
      unit: null,
      help: null,
      labelNames: [],
      series: [{ labels: {}, value: 3 }],
    });
  });

  describe('monotonic', () => {
    it('drops dec() without throwing, counts each call and warns once naming the counter', async () => {
      const p = createProbe();
      const c = p.counter({ name: 'requests_total', monotonic: true });
      const warnings: string[] = [];
      const listener = (w: Error & { code?: string }): void => {
        if (w.code === 'PROBEKIT_MONOTONIC_DEC') warnings.push(w.message);
      };
      process.on('warning', listener);
      try {
        c.inc(3);
        // The type has no dec(): a call that reaches it anyway (plain JS, a cast) is dropped.
        const untyped = c as unknown as { dec(n?: number): void };
        expect(() => untyped.dec()).not.toThrow();
        untyped.dec(2);
        expect(c.val()).toBe(3);
        expect(dropped(p, 'requests')).toBe(2);
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings).toEqual([
          'probekit: dec() called on monotonic counter "requests_total"; a monotonic counter only goes up, so the call was dropped (counted in probekit_dropped_values_total; use reset(), or create the counter without monotonic: true).',
        ]);
      } finally {
        process.off('warning', listener);
      }
    });

    it('drops a negative increment on a monotonic counter and counts it', () => {
      const p = createProbe();
      const c = p.counter({ name: 'served', monotonic: true });
      c.inc(5);
      c.inc(-1);
      expect(c.val()).toBe(5);
      expect(dropped(p, 'served')).toBe(1);
      c.inc(-0.5);
      c.inc(-100);
      expect(c.val()).toBe(5);
      expect(dropped(p, 'served')).toBe(3);
    });

    it('accepts an increment of zero without counting a drop', () => {
      const p = createProbe();
      const c = p.counter({ name: 'served', monotonic: true });
      c.inc(0);
      expect(c.val()).toBe(0);
      expect(dropped(p, 'served')).toBeUndefined();
    });

    it('counts the drop under the exported name, without the _total suffix', () => {
      const p = createProbe();
      const c = p.counter({ name: 'requests_total', monotonic: true });
      c.inc(-1);
      expect(dropped(p, 'requests')).toBe(1);
      expect(dropped(p, 'requests_total')).toBeUndefined();
    });

    it('exports the name requests_total as requests so exporters can add the suffix once', () => {
      const p = createProbe();
      p.counter({ name: 'requests_total', monotonic: true });
      const family = p.snapshot().metrics.find((f) => f.name === 'requests_total');
      expect(family?.exportName).toBe('requests');
      expect(family?.kind).toBe('counter');
      expect(family !== undefined && family.kind === 'counter' && family.monotonic).toBe(true);
    });

    it('keeps the _total suffix of an up/down counter', () => {
      const p = createProbe();
      p.counter({ name: 'requests_total' });
      expect(p.snapshot().metrics.find((f) => f.name === 'requests_total')?.exportName).toBe('requests_total');
    });

    it('resets to zero even though it only goes up', () => {
      const c = createProbe().counter({ name: 'served', monotonic: true });
      c.inc(9);
      c.reset();
      expect(c.val()).toBe(0);
    });
  });
});
