import { afterEach, describe, expect, it, vi } from 'vitest';
import { PeriodicExporter } from '../../src/lifecycle/periodic.js';
import { createProbe } from '../../src/index.js';
import type { Registry } from '../../src/probes/probe.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('The periodic exporter base', () => {
  it('flushes first at a random point of the first interval, then every interval × (1 ± jitter/2), by the random source', async () => {
    vi.useFakeTimers({ now: 0 });
    const randoms = [0.5, 0, 1, 0.25];
    const at: number[] = [];
    const p = createProbe() as unknown as Registry;
    const e = new PeriodicExporter({
      name: 'test',
      registry: p,
      intervalMs: 1000,
      jitter: 0.2,
      random: () => randoms.shift() ?? 0.5,
      onError: undefined,
      send: async () => {
        at.push(Date.now());
      },
      release: () => {},
    });
    await vi.advanceTimersByTimeAsync(3500);
    // 0.5 × 1000; then 1000 × (0.9 + 0.2 × r) for r = 0, 1, 0.25
    expect(at).toEqual([500, 1400, 2500, 3450]);
    await e.close();
    expect(at).toHaveLength(5); // the final flush of close()
    await vi.advanceTimersByTimeAsync(5000);
    expect(at).toHaveLength(5); // and no timer after it
    p.close();
  });

  it('runs one flush at a time: a flush asked for while one runs waits for it', async () => {
    let running = 0;
    let most = 0;
    const p = createProbe() as unknown as Registry;
    const e = new PeriodicExporter({
      name: 'test',
      registry: p,
      intervalMs: 0,
      onError: undefined,
      send: async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      },
      release: () => {},
    });
    await Promise.all([e.flush(), e.flush(), e.flush()]);
    expect(most).toBe(1);
    await e.close();
    p.close();
  });
});
