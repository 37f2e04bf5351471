import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';

/** A hand-moved clock: tests never sleep. */
function manualClock(start = 0) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

let p: Probe | undefined;
afterEach(() => p?.close());

/** Events with timestamps in (now - timeframe, now], recomputed from scratch. */
function exactCount(events: ReadonlyArray<readonly [number, number]>, now: number, timeframeMs: number): number {
  let n = 0;
  for (const [t, k] of events) if (t > now - timeframeMs && t <= now) n += k;
  return n;
}

describe('Meter', () => {
  it('reports events per second over the last 60 s once the meter is older than its window', () => {
    const clock = manualClock();
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'rps' });
    // 10 events a second for 120 s, each at the middle of its second.
    for (let s = 0; s < 120; s++) {
      clock.t = s * 1000 + 500;
      m.mark(10);
    }
    clock.t = 120_000;
    expect(m.val()).toBe(10);
    expect(m.total()).toBe(1200);
  });

  it('reads per minute with samples: 60, as pmx meters do', () => {
    const clock = manualClock();
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'Calls per minute', samples: 60, timeframe: 60 });
    for (let s = 0; s < 90; s++) {
      clock.t = s * 1000;
      m.mark(2);
    }
    clock.t = 90_000;
    // 2 events a second → 120 per minute.
    expect(m.val()).toBe(120);
  });

  it('divides by its age, not the window, while younger than the window', () => {
    const clock = manualClock(1_000_000);
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'young' });
    clock.t += 2000;
    m.mark(30);
    clock.t += 8000; // 10 s old, 30 events
    expect(m.val()).toBe(3);
  });

  it('counts ages below one window step as one step so the first event is no spike', () => {
    const clock = manualClock(0);
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'first' });
    clock.t = 1; // 1 ms old; one step is 1000 ms
    m.mark();
    expect(m.val()).toBe(1);
  });

  it('forgets events older than the window', () => {
    const clock = manualClock();
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'burst' });
    clock.t = 100_000;
    m.mark(600);
    clock.t = 100_000 + 61_000;
    expect(m.val()).toBe(0);
    expect(m.total()).toBe(600);
  });

  it('stays within one step of the exact sliding count for irregular traffic', () => {
    const clock = manualClock();
    p = createProbe({ clock: clock.now });
    const timeframe = 30;
    const m = p.meter({ name: 'irregular', timeframe });
    const events: Array<[number, number]> = [];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    let worst = 0;
    let checked = 0;
    for (let t = 0; t < 200_000; t += Math.floor(rnd() * 400)) {
      clock.t = t;
      const k = 1 + Math.floor(rnd() * 5);
      m.mark(k);
      events.push([t, k]);
      if (t > timeframe * 1000 && events.length % 13 === 0) {
        const exact = exactCount(events, t, timeframe * 1000);
        // The only approximate part is the step that straddles the window's start.
        const stepMs = (timeframe * 1000) / 60;
        const straddling = Math.floor((t - timeframe * 1000) / stepMs);
        let stepEvents = 0;
        for (const [at, k] of events) if (Math.floor(at / stepMs) === straddling) stepEvents += k;
        const estimate = m.val() * timeframe;
        worst = Math.max(worst, Math.abs(estimate - exact) - stepEvents);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(worst).toBeLessThanOrEqual(1e-9);
  });

  it('matches exact recomputation at the end of every step under steady traffic', () => {
    const clock = manualClock();
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'steady', timeframe: 10, samples: 1 });
    const events: Array<[number, number]> = [];
    for (let t = 0; t <= 40_000; t += 50) {
      clock.t = t;
      m.mark(1);
      events.push([t, 1]);
      // At a step boundary (every 10000/60 ms isn't integral; use whole seconds) the window is exact.
      if (t >= 10_000 && t % 1000 === 0) {
        clock.t = t + 0; // read at the same instant
        const exact = exactCount(events, t, 10_000);
        expect(Math.abs(m.val() * 10 - exact)).toBeLessThanOrEqual(1 + 1e-9);
      }
    }
  });

  it('keeps counting when the clock jumps forward by more than a whole window', () => {
    const clock = manualClock();
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'jump' });
    clock.t = 5000;
    m.mark(100);
    clock.t = 5000 + 10 * 60_000;
    m.mark(60);
    clock.t += 60_000 - 1; // the mark is now just inside the window's oldest step
    expect(m.val()).toBeGreaterThan(0);
    expect(m.val()).toBeLessThanOrEqual(1);
    expect(m.total()).toBe(160);
  });

  it('does not lose events when the clock steps backwards', () => {
    const clock = manualClock(100_000);
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'backwards' });
    clock.t = 100_000 + 70_000;
    m.mark(5);
    clock.t = 100_000 + 60_000;
    m.mark(5);
    expect(m.total()).toBe(10);
    clock.t = 100_000 + 70_500;
    expect(m.val() * 60).toBeCloseTo(10, 9);
  });

  it('keeps a separate window per label set', () => {
    const clock = manualClock();
    p = createProbe({ clock: clock.now });
    const m = p.meter({ name: 'by_route', labels: ['route'] });
    for (let s = 0; s < 70; s++) {
      clock.t = s * 1000;
      m.labels({ route: '/a' }).mark(1);
      m.labels({ route: '/b' }).mark(3);
    }
    clock.t = 70_000;
    expect(m.labels({ route: '/a' }).val()).toBe(1);
    expect(m.labels({ route: '/b' }).val()).toBe(3);
  });

  it('follows real time with the shared ticker when no clock is injected', async () => {
    p = createProbe();
    const m = p.meter({ name: 'real', timeframe: 1 });
    m.mark(5);
    expect(m.val()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1200));
    expect(m.val()).toBe(0);
    expect(m.total()).toBe(5);
  });
});
