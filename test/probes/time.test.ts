import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';
import { ticker } from '../../src/probes/time.js';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

let probes: Probe[] = [];
afterEach(() => {
  for (const p of probes) p.close();
  probes = [];
});
const make = (...args: Parameters<typeof createProbe>) => {
  const p = createProbe(...args);
  probes.push(p);
  return p;
};

describe('The shared ticker', () => {
  it('does not keep a process alive that records into every probe kind', () => {
    const program = `
      const { probe } = await import(${JSON.stringify(dist)});
      probe.meter({ name: 'm' }).mark();
      probe.histogram({ name: 'h' }).observe(1);
      probe.counter({ name: 'c' }).inc();
      probe.metric({ name: 'g', value: () => 1 }).val();
      console.log('done');
    `;
    const started = Date.now();
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 10_000 });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('done');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('runs at a tenth of the finest window step, between 5 and 100 ms, and stops when no probe needs it', () => {
    expect(ticker.periodMs).toBe(0);
    const a = make();
    a.meter({ name: 'slow' }); // 1 s steps → 100 ms
    expect(ticker.periodMs).toBe(100);
    const b = make();
    b.meter({ name: 'fast', timeframe: 3 }); // 50 ms steps → 5 ms
    expect(ticker.periodMs).toBe(5);
    b.close();
    expect(ticker.periodMs).toBe(100);
    a.close();
    expect(ticker.periodMs).toBe(0);
  });

  it('is never started by a registry with an injected clock', () => {
    const p = make({ clock: () => 0 });
    p.meter({ name: 'm' });
    p.histogram({ name: 'h' });
    expect(ticker.periodMs).toBe(0);
  });

  it('leaves probes working after close(), each call then reading the clock itself', async () => {
    const p = make();
    const m = p.meter({ name: 'after_close', timeframe: 1 });
    p.close();
    expect(ticker.periodMs).toBe(0);
    m.mark(4);
    expect(m.val()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1100));
    expect(m.val()).toBe(0);
    expect(m.total()).toBe(4);
  });
});
