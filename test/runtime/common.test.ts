import { describe, expect, it } from 'vitest';
import { createProbe } from '../../src/index.js';
import { advance, lastGood, quietPairs } from '../../src/runtime/common.js';

describe('lastGood()', () => {
  it('reads the source each time, and keeps the previous reading when a read throws or is not finite', () => {
    const readings: Array<number | Error> = [5, 6, new Error('EMFILE'), Number.NaN, 7];
    const read = lastGood(() => {
      const next = readings.shift();
      if (next instanceof Error) throw next;
      return next as number;
    });
    expect([read?.(), read?.(), read?.(), read?.()]).toEqual([6, 6, 6, 7]);
  });

  it('gives undefined when the first read already fails, so the family is not registered', () => {
    expect(lastGood(() => { throw new Error('ENOENT'); })).toBe(undefined);
    expect(lastGood(() => Number.POSITIVE_INFINITY)).toBe(undefined);
  });
});

describe('quietPairs()', () => {
  it('reports no series when the read throws', () => {
    expect(quietPairs(() => { throw new Error('EACCES'); })()).toEqual([]);
    expect(quietPairs(() => [[{ a: 'x' }, 1]])()).toEqual([[{ a: 'x' }, 1]]);
  });
});

describe('advance()', () => {
  it("adds what a cumulative source gained since the last sample, and a reset source's whole new value", () => {
    const p = createProbe({ clock: () => 0 });
    const c = p.counter({ name: 'bytes', monotonic: true, labels: ['device'] }).labels({ device: 'eth0' });
    const values: number[] = [];
    for (const cumulative of [100, 150, 150, 20, 50, Number.NaN, -1, 60]) {
      advance(c, cumulative);
      values.push(c.val());
    }
    // 100, +50, +0, reset: +20, +30, NaN and a negative skipped, +10.
    expect(values).toEqual([100, 150, 150, 170, 200, 200, 200, 210]);
    expect(p.snapshot().metrics.find((m) => m.exportName === 'probekit_dropped_values')?.series).toEqual([]);
  });
});
