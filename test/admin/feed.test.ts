import type { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type Frame, LiveFeed, MAX_UNREAD_BYTES, type ProcessFigures, type SeriesDef } from '../../src/admin/feed.js';
import { createErrorStore } from '../../src/errors/store.js';
import { createProbe } from '../../src/probes/probe.js';

const FIGURES: ProcessFigures = { cpu: 12.5, rss: 100, heapUsed: 40, heapTotal: 60, external: 5, loopP50: 10.1, loopP99: 12.3, loopMax: 15, gcCount: 2, gcMs: 1.5 };

const feeds: LiveFeed[] = [];
afterEach(() => {
  for (const f of feeds.splice(0)) f.close();
});

function setup(options: { ringFrames?: number; maxSeries?: number; maxStreams?: number } = {}) {
  const registry = createProbe();
  const store = createErrorStore({ probe: createProbe() });
  let now = Date.UTC(2026, 11, 3, 12, 0, 0);
  const feed = new LiveFeed({ registry, errors: store, clock: () => now, process: () => FIGURES, ...options });
  feeds.push(feed);
  return { registry, store, feed, tick: (ms = 1000) => (now += ms), now: () => now };
}

interface Event {
  readonly name: string;
  readonly data: unknown;
}

/** Everything a stream has buffered, as parsed server-sent events (the `retry` line has no data). */
function events(stream: PassThrough): Event[] {
  const chunks: Buffer[] = [];
  let chunk: Buffer | null;
  while ((chunk = stream.read() as Buffer | null) !== null) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const name = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as unknown;
      return { name, data };
    });
}

describe('LiveFeed', () => {
  it('gives each series a stable id announced once, and each frame carries the values the snapshot has, in id order', () => {
    const { registry, feed } = setup();
    const jobs = registry.counter({ name: 'jobs', monotonic: true });
    const calls = registry.meter({ name: 'Calls per minute', samples: 60, timeframe: 60 });
    const depth = registry.metric({ name: 'depth', labels: ['queue'] });
    const up = registry.metric({ name: 'up', value: () => true });
    const mode = registry.metric({ name: 'mode', value: () => 'primary' });
    const since = registry.metric({ name: 'since', value: () => new Date(Date.UTC(2026, 0, 1)) });
    void since;
    registry.metric({
      name: 'broken',
      value: () => {
        throw new Error('no value');
      },
    });
    const latency = registry.histogram({ name: 'latency', unit: 'seconds' });
    jobs.inc(3);
    calls.mark();
    calls.mark();
    depth.labels({ queue: 'mail' }).set(7);
    for (const v of [0.1, 0.2, 0.3, 0.4]) latency.observe(v);
    void up;
    void mode;

    const stream = feed.subscribe() as PassThrough;
    const frame = feed.sample() as Frame;
    const got = events(stream);
    expect(got.map((e) => e.name)).toEqual(['hello', 'series', 'series', 'frame']);
    const defs = (got[2]?.data as { series: SeriesDef[] }).series;
    const mine = defs.filter((d) => !d.family.startsWith('probekit_'));
    expect(mine.map((d) => [d.id, d.family, d.stat, d.labels])).toEqual([
      [0, 'jobs', 'value', {}],
      [1, 'calls_per_minute', 'rate', {}],
      [2, 'depth', 'value', { queue: 'mail' }],
      [3, 'up', 'value', {}],
      [4, 'mode', 'value', {}],
      [5, 'since', 'value', {}],
      [6, 'broken', 'value', {}],
      [7, 'latency', 'p50', {}],
      [8, 'latency', 'p95', {}],
      [9, 'latency', 'p99', {}],
    ]);
    expect(mine[5]?.format).toBe('date');
    expect(mine.filter((d) => d.format !== undefined).length).toBe(1);
    expect(mine[1]).toMatchObject({ kind: 'meter', name: 'Calls per minute', per: 60 });
    expect(mine[7]).toMatchObject({ kind: 'histogram', unit: 'seconds' });

    const snap = registry.snapshot();
    const hist = snap.metrics.find((m) => m.kind === 'histogram')?.series[0] as unknown as { value: Record<string, number> };
    const meter = snap.metrics.find((m) => m.kind === 'meter')?.series[0] as { rate: number };
    expect(frame.v.slice(0, 10)).toEqual([3, meter.rate, 7, 1, 'primary', Date.UTC(2026, 0, 1), null, hist.value.p50, hist.value.p95, hist.value.p99]);
    expect(frame.v.length).toBe(defs.length);
    expect(frame.p).toEqual(FIGURES);
    expect(got[3]?.data).toEqual(JSON.parse(JSON.stringify(frame)));

    // The next frame announces nothing new; a new label set gets the next id, announced once.
    jobs.inc();
    feed.sample();
    expect(events(stream).map((e) => e.name)).toEqual(['frame']);
    depth.labels({ queue: 'sms' }).set(1);
    const third = feed.sample() as Frame;
    const more = events(stream);
    expect(more.map((e) => e.name)).toEqual(['series', 'frame']);
    const fresh = (more[0]?.data as { series: SeriesDef[] }).series;
    expect(fresh.map((d) => [d.id, d.family, d.labels])).toEqual([[defs.length, 'depth', { queue: 'sms' }]]);
    expect([third.v[0], third.v[defs.length]]).toEqual([4, 1]);
  });

  it('writes each frame to every stream, and a new stream starts with every series and the ring of recent frames', () => {
    const { registry, feed, tick } = setup({ ringFrames: 3 });
    const c = registry.counter({ name: 'c', monotonic: true });
    const first = feed.subscribe() as PassThrough;
    const times: number[] = [];
    for (let i = 1; i <= 5; i++) {
      c.inc();
      times.push((feed.sample() as Frame).t);
      tick();
    }
    const seen = events(first).filter((e) => e.name === 'frame');
    expect(seen.map((e) => (e.data as Frame).v[0])).toEqual([1, 2, 3, 4, 5]);

    const late = feed.subscribe() as PassThrough;
    const history = events(late);
    expect(history.map((e) => e.name)).toEqual(['hello', 'series', 'frame', 'frame', 'frame']);
    expect((history[1]?.data as { series: SeriesDef[] }).series[0]).toMatchObject({ id: 0, family: 'c' });
    expect(history.slice(2).map((e) => [(e.data as Frame).t, (e.data as Frame).v[0]])).toEqual([
      [times[2], 3],
      [times[3], 4],
      [times[4], 5],
    ]);
    expect(feed.history).toBe(3);
    c.inc();
    feed.sample();
    expect([events(first).map((e) => (e.data as Frame).v[0]), events(late).map((e) => (e.data as Frame).v[0])]).toEqual([[6], [6]]);
  });

  it('counts the series past the id limit in every frame instead of showing them', () => {
    const { registry, feed } = setup({ maxSeries: 2 });
    const g = registry.metric({ name: 'g', labels: ['k'] });
    for (const k of ['a', 'b', 'c', 'd']) g.labels({ k }).set(1);
    const frame = feed.sample() as Frame;
    expect([frame.v, frame.d]).toEqual([[1, 1], 2 + registry.snapshot().metrics.filter((m) => m.exportName.startsWith('probekit_')).reduce((n, m) => n + m.series.length, 0)]);
  });

  it('carries the error count and when the latest error was seen', () => {
    const { store, feed } = setup();
    expect((feed.sample() as Frame).e).toEqual({ total: 0, last: null });
    store.notify(new Error('first'));
    const record = store.notify(new Error('second'));
    expect((feed.sample() as Frame).e).toEqual({ total: 2, last: record.time });
  });

  it('opens at most maxStreams streams, and forgets a stream its reader closed', () => {
    const { feed } = setup({ maxStreams: 2 });
    const a = feed.subscribe() as PassThrough;
    const b = feed.subscribe();
    expect([b === undefined, feed.subscribe(), feed.open]).toEqual([false, undefined, 2]);
    a.destroy();
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        expect(feed.open).toBe(1);
        expect(feed.subscribe()).toBeDefined();
        resolve();
      });
    });
  });

  it('cuts off a stream whose reader leaves more than MAX_UNREAD_BYTES unread, and keeps feeding the others', () => {
    const { registry, feed } = setup();
    const g = registry.metric({ name: 'g', labels: ['k'] });
    for (let i = 0; i < 1500; i++) g.labels({ k: `k${i}` }).set(i + 0.123456789);
    const stalled = feed.subscribe() as PassThrough;
    const reading = feed.subscribe() as PassThrough;
    let frames = 0;
    for (let i = 0; i < 3000 && !stalled.destroyed; i++) {
      feed.sample();
      frames += events(reading).filter((e) => e.name === 'frame').length;
    }
    expect(stalled.destroyed).toBe(true);
    expect(stalled.readableLength).toBeLessThanOrEqual(MAX_UNREAD_BYTES + 64 * 1024);
    const before = frames;
    feed.sample();
    expect(events(reading).filter((e) => e.name === 'frame').length + before).toBe(before + 1);
  });

  it('a value function that throws fails its own series only, and a registry whose snapshot throws gives an empty frame, reported', () => {
    const reported: string[] = [];
    const registry = createProbe();
    const store = createErrorStore({ probe: createProbe() });
    const feed = new LiveFeed({ registry, errors: store, process: () => FIGURES, onError: (e) => reported.push(e.message) });
    feeds.push(feed);
    registry.counter({ name: 'fine' }).inc(2);
    expect((feed.sample() as Frame).v[0]).toBe(2);
    registry.snapshot = () => {
      throw new Error('snapshot broke');
    };
    const frame = feed.sample() as Frame;
    expect([frame.v.every((v) => v === null), reported]).toEqual([true, ['snapshot broke']]);
  });

  it('close() ends every stream; later samples and subscriptions do nothing', async () => {
    const { feed } = setup();
    const s = feed.subscribe() as PassThrough;
    const ended = new Promise<void>((resolve) => s.once('end', resolve));
    s.resume();
    feed.close();
    await ended;
    expect([feed.sample(), feed.subscribe(), feed.open, feed.history]).toEqual([undefined, undefined, 0, 0]);
  });
});
