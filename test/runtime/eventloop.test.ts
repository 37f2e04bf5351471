import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe, prometheus } from '../../src/index.js';
import { runtimeMetrics, type RuntimeMetrics } from '../../src/runtime.js';
import { value } from './read.js';

// The event-loop delay is sampled by Node in real time, on its own timer: these tests block
// the loop and let it turn for real. Nothing waits longer than a few samples' worth.

const RESOLUTION_MS = 10;
const FIGURES = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;

let p: Probe;
let h: RuntimeMetrics;
afterEach(() => {
  h.stop();
  p.close();
});

function start(naming: 'otel' | 'classic' = 'otel'): void {
  p = createProbe();
  h = runtimeMetrics({ registry: p, naming, windowMs: 0, eventLoopResolutionMs: RESOLUTION_MS, gc: false, host: false });
}

function block(ms: number): void {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    // the event loop is blocked
  }
}

/** Lets the event loop run for `ms` of real time, so the delay timer takes its samples. */
const run = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function figures(prefix: string): Record<string, number> {
  return Object.fromEntries(FIGURES.map((f) => [f, value(p, `${prefix}_${f}_seconds`)]));
}

describe('Event-loop delay', () => {
  it('shows a deliberate 200 ms block right after a window end (the interval a reset forgets) in the next max (>= 190 ms), and not in the quiet window after', async () => {
    start();
    await run(3 * RESOLUTION_MS);
    h.endWindow();
    block(200);
    await run(2 * RESOLUTION_MS); // the overdue delay sample is taken once the loop turns again
    h.endWindow();
    const max = value(p, 'nodejs_eventloop_delay_max_seconds');
    expect(max).toBeGreaterThanOrEqual(0.19);
    expect(max).toBeLessThan(1);
    await run(6 * RESOLUTION_MS);
    h.endWindow();
    expect(value(p, 'nodejs_eventloop_delay_max_seconds')).toBeLessThan(0.19);
  });

  it('shows a 200 ms block in the middle of a window in its max (>= 190 ms)', async () => {
    start();
    h.endWindow();
    await run(3 * RESOLUTION_MS);
    block(200);
    await run(2 * RESOLUTION_MS);
    h.endWindow();
    expect(value(p, 'nodejs_eventloop_delay_max_seconds')).toBeGreaterThanOrEqual(0.19);
  });

  it('measures nothing when read: scrapes, even one followed by a 100 ms block, report the completed window unchanged', async () => {
    start();
    await run(3 * RESOLUTION_MS);
    h.endWindow();
    const reported = figures('nodejs_eventloop_delay');
    const text = await prometheus.text({ registry: p });
    block(100);
    await run(2 * RESOLUTION_MS);
    await prometheus.text({ registry: p });
    expect(figures('nodejs_eventloop_delay')).toEqual(reported);
    expect(text).toContain(`\nnodejs_eventloop_delay_max_seconds ${reported.max}\n`);
  });

  it('keeps the previous figures when a window took no sample (two ends in one turn of the loop)', async () => {
    start();
    await run(3 * RESOLUTION_MS);
    h.endWindow();
    const reported = figures('nodejs_eventloop_delay');
    h.endWindow();
    expect(figures('nodejs_eventloop_delay')).toEqual(reported);
  });

  it("reports min <= p50 <= p90 <= p99 <= max, each at least the sampling interval (Node's samples include it)", async () => {
    start();
    await run(6 * RESOLUTION_MS);
    h.endWindow();
    const f = figures('nodejs_eventloop_delay');
    expect([f.min, f.p50, f.p90, f.p99, f.max]).toEqual([...[f.min, f.p50, f.p90, f.p99, f.max]].sort((a, b) => (a as number) - (b as number)));
    expect(f.min).toBeGreaterThanOrEqual(RESOLUTION_MS / 1000 * 0.9);
  });

  it("reports the window under prom-client's names (classic), nodejs_eventloop_lag_seconds being the window's mean", async () => {
    start('classic');
    await run(3 * RESOLUTION_MS);
    h.endWindow();
    const f = figures('nodejs_eventloop_lag');
    expect(value(p, 'nodejs_eventloop_lag_seconds')).toBe(f.mean);
    expect(f.max).toBeGreaterThanOrEqual(f.min as number);
  });

  it('reports no figure before the first window ends', () => {
    start();
    expect(p.snapshot().metrics.filter((m) => m.exportName.startsWith('nodejs_eventloop_')).map((m) => m.series.length)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('Event-loop utilisation', () => {
  it('reads near 1 for a window the loop spent blocked, and low for a window it spent waiting', async () => {
    start();
    h.endWindow();
    block(100);
    h.endWindow();
    expect(value(p, 'nodejs_eventloop_utilization_ratio')).toBeGreaterThan(0.9);
    await run(100);
    h.endWindow();
    expect(value(p, 'nodejs_eventloop_utilization_ratio')).toBeLessThan(0.5);
  });
});
