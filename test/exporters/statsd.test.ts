import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createProbe, type Probe, statsd, type StatsdExporter, type StatsdOptions } from '../../src/index.js';
import { bad, thrown, expectError } from '../support/helpers.js';

// In-process tests of the StatsD exporter against a plain UDP sink: exact lines and
// datagrams. The tests against the real Etsy daemon are in test/integration/statsd.test.ts.

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

beforeAll(() => {
  if (!existsSync(DIST)) throw new Error(`the fixtures import ${DIST}: run "npm run build" first`);
});

// ---------------------------------------------------------------------------------------
// Bookkeeping: every exporter, socket and registry a test makes is released after it.
// ---------------------------------------------------------------------------------------

const exporters: StatsdExporter[] = [];
const sockets: dgram.Socket[] = [];
const probes: Probe[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(exporters.splice(0).map((e) => e.close()));
  await Promise.all(sockets.splice(0).map(closeSocket));
  for (const p of probes.splice(0)) p.close();
});

/** Closes a socket, resolving even when it is already closed. */
function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** Resolves after `ms` milliseconds. */
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `ok` every 10 ms; throws after `ms` milliseconds. */
async function until(what: string, ok: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A UDP socket bound to 127.0.0.1 on a free port, closed after the test. */
async function bindSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** A port nothing listens on: bound once to get it from the kernel, then closed. */
async function deadPort(): Promise<number> {
  const socket = await bindSocket();
  const { port } = socket.address();
  await closeSocket(socket);
  return port;
}

interface Sink {
  readonly port: number;
  /** Every datagram received, decoded as UTF-8, in arrival order (take()'s markers excluded). */
  readonly datagrams: readonly string[];
  /** The byte length of each datagram in `datagrams`, as received. */
  readonly sizes: readonly number[];
  /**
   * The datagrams received since the previous take(), once everything handed to the kernel
   * before this call has arrived: a marker sent now from another socket is queued behind
   * them on loopback, so its return ends the wait (bounded to 2 s) without a guessed sleep.
   */
  take(): Promise<string[]>;
}

/** A UDP sink on 127.0.0.1, port 0, collecting every datagram; closed after the test. */
async function openSink(): Promise<Sink> {
  const socket = await bindSocket();
  const sender = await bindSocket();
  const { port } = socket.address();
  const datagrams: string[] = [];
  const sizes: number[] = [];
  const markers = new Map<string, () => void>();
  let taken = 0;
  let sent = 0;
  socket.on('message', (msg: Buffer) => {
    const text = msg.toString('utf8');
    const arrived = markers.get(text);
    if (arrived !== undefined) {
      markers.delete(text);
      arrived();
      return;
    }
    datagrams.push(text);
    sizes.push(msg.length);
  });
  return {
    port,
    datagrams,
    sizes,
    async take() {
      const marker = `\u0000sink marker ${++sent}`;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          markers.delete(marker);
          reject(new Error('the sink marker did not come back within 2 s'));
        }, 2000);
        markers.set(marker, () => {
          clearTimeout(timer);
          resolve();
        });
        sender.send(marker, port, '127.0.0.1');
      });
      const out = datagrams.slice(taken);
      taken = datagrams.length;
      return out;
    },
  };
}

/** The lines of some datagrams, in order. */
const linesOf = (datagrams: readonly string[]): string[] => datagrams.flatMap((d) => d.split('\n'));

/** A fresh registry, closed after the test. */
function registry(): Probe {
  const p = createProbe();
  probes.push(p);
  return p;
}

/** An exporter flushing only when asked, to `port`, on a fresh registry unless one is given; closed after the test. */
function start(port: number, options: StatsdOptions = {}): { p: Probe; exporter: StatsdExporter } {
  const p = options.registry ?? registry();
  const exporter = statsd({ port, flushInterval: 0, ...options, registry: p });
  exporters.push(exporter);
  return { p, exporter };
}

/** The value of the exporter's self-metric series {exporter="statsd"}, read through the public snapshot. */
function selfCount(p: Probe, exportName: 'probekit_exporter_errors' | 'probekit_exporter_dropped'): number | undefined {
  const family = p.snapshot().metrics.find((f) => f.exportName === exportName);
  if (family === undefined || family.kind !== 'counter') throw new Error(`no counter family ${exportName} in the snapshot`);
  return family.series.find((s) => s.labels.exporter === 'statsd')?.value;
}

/** The error code of a Node.js system error (`ECONNREFUSED`), or undefined. */
const codeOf = (err: Error): string | undefined => (err as NodeJS.ErrnoException).code;

// ---------------------------------------------------------------------------------------
// Line formats
// ---------------------------------------------------------------------------------------

describe('statsd() counters', () => {
  it('sends 100 000 inc() of a monotonic counter as one line carrying their sum', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    for (let i = 0; i < 100_000; i++) jobs.inc();
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:100000|c']);
  });

  it('sends only the increments since the previous flush, and no datagram at all when nothing changed', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    jobs.inc(3);
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:3|c']);
    jobs.inc(4);
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:4|c']);
    await exporter.flush();
    expect(await sink.take()).toEqual([]);
  });

  it('sends fractional increments without binary noise', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const bytes = p.counter({ name: 'bytes', monotonic: true });
    bytes.inc(0.1);
    bytes.inc(0.2); // 0.30000000000000004 in binary
    await exporter.flush();
    expect(await sink.take()).toEqual(['bytes:0.3|c']);
  });

  it('sends the count since a reset() that fell below the count sent before', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    jobs.inc(10);
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:10|c']);
    jobs.reset();
    jobs.inc(3);
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:3|c']);
  });

  it('sends the count since a reset() even when it grew back past the count sent before', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    jobs.inc(2);
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:2|c']);
    jobs.reset();
    jobs.inc(3); // 3 new events since the reset
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:3|c']);
  });

  it('sends meter marks as counter deltas', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const rpm = p.meter({ name: 'Requests per minute', samples: 60 });
    rpm.mark();
    rpm.mark();
    rpm.mark(3);
    await exporter.flush();
    expect(await sink.take()).toEqual(['requests_per_minute:5|c']);
    rpm.mark();
    await exporter.flush();
    expect(await sink.take()).toEqual(['requests_per_minute:1|c']);
    await exporter.flush();
    expect(await sink.take()).toEqual([]);
  });

  it('sends every labelled series on its own line, and not the unused unlabelled root of a labelled probe', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const hits = p.counter({ name: 'hits', monotonic: true, labels: ['route'] });
    hits.labels({ route: 'a' }).inc(2);
    hits.labels({ route: 'b' }).inc();
    const pool = p.counter({ name: 'pool', labels: ['db'] });
    pool.labels({ db: 'main' }).inc();
    pool.labels({ db: 'main' }).dec(); // an up/down series at 0 is still a gauge to send
    await exporter.flush();
    expect(await sink.take()).toEqual(['hits.a:2|c\nhits.b:1|c\npool.main:0|g']);
  });
});

describe('statsd() gauges', () => {
  it('sends an up/down counter and a number metric as gauges at every flush, changed or not', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    p.counter({ name: 'balance' }).inc(3);
    p.metric({ name: 'temperature', value: 21.5 });
    await exporter.flush();
    expect(await sink.take()).toEqual(['balance:3|g\ntemperature:21.5|g']);
    await exporter.flush();
    expect(await sink.take()).toEqual(['balance:3|g\ntemperature:21.5|g']);
  });

  it('sends a negative gauge as 0 then the negative value, in that order', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    p.counter({ name: 'balance' }).dec(5);
    p.metric({ name: 'offset', value: -2.5 });
    await exporter.flush();
    expect(await sink.take()).toEqual(['balance:0|g\nbalance:-5|g\noffset:0|g\noffset:-2.5|g']);
  });

  it('sends booleans as 1 and 0 and Dates as Unix seconds', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    p.metric({ name: 'up', value: true });
    p.metric({ name: 'down', value: () => false });
    p.metric({ name: 'started', value: new Date(1_700_000_000_500) });
    await exporter.flush();
    expect(await sink.take()).toEqual(['up:1|g\ndown:0|g\nstarted:1700000000.5|g']);
  });

  it('skips string metrics, unset metrics and failing value functions, whose failures are counted', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    p.metric({ name: 'version', value: 'v1' });
    p.metric({ name: 'later' });
    p.metric({
      name: 'broken',
      value: () => {
        throw new Error('boom');
      },
    });
    p.metric({ name: 'not a number', value: () => NaN });
    p.metric({ name: 'users', value: () => 4 });
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual(['users:4|g', 'probekit_failed_reads.broken:1|c', 'probekit_failed_reads.not_a_number:1|c']);
  });
});

describe('statsd() timers', () => {
  it('sends each histogram observation as a timer line, in the order observed, once', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const latency = p.histogram({ name: 'latency', unit: 'ms' });
    for (const v of [1, 2.5, 300, 2.5]) latency.observe(v);
    await exporter.flush();
    expect(await sink.take()).toEqual(['latency:1|ms\nlatency:2.5|ms\nlatency:300|ms\nlatency:2.5|ms']);
    await exporter.flush();
    expect(await sink.take()).toEqual([]);
  });

  it('converts time units to milliseconds and sends other units, or none, as they are', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    p.histogram({ name: 'job', unit: 's' }).observe(0.25);
    p.histogram({ name: 'call', unit: 'us' }).observe(1500);
    p.histogram({ name: 'tick', unit: 'ns' }).observe(2_000_000);
    p.histogram({ name: 'batch', unit: 'min' }).observe(0.5);
    p.histogram({ name: 'step', unit: 's' }).observe(1.1); // 1100.0000000000002 in binary
    p.histogram({ name: 'size', unit: 'bytes' }).observe(1024);
    p.histogram({ name: 'plain' }).observe(0.25);
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual([
      'job:250|ms',
      'call:1.5|ms',
      'tick:2|ms',
      'batch:30000|ms',
      'step:1100|ms',
      'size:1024|ms',
      'plain:0.25|ms',
    ]);
  });

  it('does not send negative observations and counts them in probekit_exporter_dropped_total{exporter="statsd"}', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const wait = p.histogram({ name: 'wait', unit: 'ms' });
    wait.observe(-1);
    wait.observe(4);
    wait.observe(-0.5);
    await exporter.flush();
    // The self-metrics are read after the probes in the same flush: the count goes with it.
    expect(linesOf(await sink.take())).toEqual(['wait:4|ms', 'probekit_exporter_dropped.statsd:2|c']);
    expect(selfCount(p, 'probekit_exporter_dropped')).toBe(2);
  });

  it('appends |@0.25 to every timer line with sampleRate 0.25 and keeps the sampled observations only', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { sampleRate: 0.25, tagFormat: 'dogstatsd', tags: { env: 'prod' } });
    const h = p.histogram({ name: 'sampled', unit: 'ms' });
    const draws = [0.1, 0.5, 0.9, 0.2499]; // kept when below the rate: 1st and 4th
    let i = 0;
    const random = vi.spyOn(Math, 'random').mockImplementation(() => draws[i++ % draws.length] as number);
    for (let n = 1; n <= 8; n++) h.observe(n);
    random.mockRestore();
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual([
      'sampled:1|ms|@0.25|#env:prod',
      'sampled:4|ms|@0.25|#env:prod',
      'sampled:5|ms|@0.25|#env:prod',
      'sampled:8|ms|@0.25|#env:prod',
    ]);
    expect(selfCount(p, 'probekit_exporter_dropped')).toBe(0); // sampling is not a drop
  });

  it('holds at most maxTimerValues observations per series between flushes and counts the rest as dropped', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { maxTimerValues: 300 });
    const h = p.histogram({ name: 'h', unit: 'ms' });
    for (let n = 0; n < 305; n++) h.observe(1);
    await exporter.flush();
    const lines = linesOf(await sink.take());
    expect(lines.filter((l) => l === 'h:1|ms')).toHaveLength(300);
    expect(lines.filter((l) => l !== 'h:1|ms')).toEqual(['probekit_exporter_dropped.statsd:5|c']);
  });

  it('holds at most maxTimerValues observations even when the bound is below 256', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { maxTimerValues: 3 });
    const h = p.histogram({ name: 'h', unit: 'ms' });
    for (let n = 1; n <= 5; n++) h.observe(n);
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual(['h:1|ms', 'h:2|ms', 'h:3|ms', 'probekit_exporter_dropped.statsd:2|c']);
  });

  it('sends histograms registered before and after the exporter started from their first observation since the start', async () => {
    const sink = await openSink();
    const p = registry();
    const before = p.histogram({ name: 'before', unit: 'ms' });
    const routes = p.histogram({ name: 'routes', unit: 'ms', labels: ['route'] });
    routes.labels({ route: 'old' }).observe(98); // a series created before the start
    before.observe(99); // no exporter yet: nobody collects it
    const { exporter } = start(sink.port, { registry: p });
    const after = p.histogram({ name: 'after', unit: 'ms' });
    before.observe(1);
    routes.labels({ route: 'old' }).observe(2);
    routes.labels({ route: 'new' }).observe(3); // a series created after the start
    after.observe(4);
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual(['before:1|ms', 'routes.old:2|ms', 'routes.new:3|ms', 'after:4|ms']);
  });
});

// ---------------------------------------------------------------------------------------
// Names and tags
// ---------------------------------------------------------------------------------------

describe('statsd() names and tags', () => {
  it('keeps a dotted prefix as written in front of every name', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { prefix: 'myapp.api' });
    p.counter({ name: 'jobs', monotonic: true }).inc();
    p.histogram({ name: 'wait', unit: 'ms' }).observe(-1);
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual(['myapp.api.jobs:1|c', 'myapp.api.probekit_exporter_dropped.statsd:1|c']);
  });

  it('folds global tag values, then label values in declared label order, into the name with tagFormat none; dots become _ and empty values _', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { tagFormat: 'none', tags: { env: 'prod.eu', shard: '' } });
    const requests = p.counter({ name: 'requests', monotonic: true, labels: ['method', 'path', 'tenant'] });
    requests.labels({ tenant: '', path: '/v1.2/items', method: 'GET' }).inc(2);
    p.metric({ name: 'temperature', value: 20 });
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual(['requests.prod_eu._.GET./v1_2/items._:2|c', 'temperature.prod_eu._:20|g']);
  });

  it('sends DogStatsD tags after |#, global tags first, then the labels in declared order, with a sample rate before them', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { tagFormat: 'dogstatsd', tags: { env: 'prod', region: 'eu.west' }, sampleRate: 0.5 });
    p.counter({ name: 'requests', monotonic: true, labels: ['method', 'status'] }).labels({ status: '200', method: 'GET' }).inc(3);
    p.counter({ name: 'balance' }).inc(7);
    const random = vi.spyOn(Math, 'random').mockReturnValue(0); // the observation is sampled in
    p.histogram({ name: 'latency', unit: 'ms', labels: ['route'] }).labels({ route: '/a.b' }).observe(5);
    random.mockRestore();
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual([
      'requests:3|c|#env:prod,region:eu.west,method:GET,status:200',
      'balance:7|g|#env:prod,region:eu.west',
      'latency:5|ms|@0.5|#env:prod,region:eu.west,route:/a.b',
    ]);
  });

  it('sends no |# suffix with tagFormat dogstatsd when a series has neither tags nor labels', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { tagFormat: 'dogstatsd' });
    p.counter({ name: 'jobs', monotonic: true }).inc();
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:1|c']);
  });

  it('sends Telegraf tags as name,k=v before the value, with spaces and = in tags turned into _', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { tagFormat: 'telegraf', tags: { env: 'prod', 'data center': 'a=b' } });
    p.counter({ name: 'requests', monotonic: true, labels: ['method', 'status'] }).labels({ method: 'GET', status: '200' }).inc(3);
    p.histogram({ name: 'search', unit: 'ms', labels: ['q'] }).labels({ q: 'x = y' }).observe(12);
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual([
      'requests,env=prod,data_center=a_b,method=GET,status=200:3|c',
      'search,env=prod,data_center=a_b,q=x___y:12|ms',
    ]);
  });

  it.each([
    { tagFormat: 'none' as const, line: 'myapp.a_b.pqrs.x1cevil9cy:1|c' },
    { tagFormat: 'dogstatsd' as const, line: 'myapp.a_b:1|c|#k:pqrs,v:x1cevil9cy' },
    { tagFormat: 'telegraf' as const, line: 'myapp.a_b,k=pqrs,v=x1cevil9cy:1|c' },
  ])('turns : in a name into _ and removes : | @ # , newline and CR from the prefix, label values and tags with tagFormat $tagFormat, so nothing can inject a line', async ({ tagFormat, line }) => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { tagFormat, prefix: 'my|app\n', tags: { 'k|#\r': 'p:q,r\n@s' } });
    p.counter({ name: 'a:b', monotonic: true, labels: ['v'] }).labels({ v: 'x:1|c\nevil:9|c\r@#,y' }).inc();
    await exporter.flush();
    expect(await sink.take()).toEqual([line]);
  });
});

// ---------------------------------------------------------------------------------------
// Datagrams
// ---------------------------------------------------------------------------------------

describe('statsd() datagrams', () => {
  it('joins the lines of a datagram with \\n and ends it without a newline', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    p.counter({ name: 'a', monotonic: true }).inc(1);
    p.counter({ name: 'b', monotonic: true }).inc(2);
    p.counter({ name: 'c', monotonic: true }).inc(3);
    await exporter.flush();
    const datagrams = await sink.take();
    expect(datagrams).toEqual(['a:1|c\nb:2|c\nc:3|c']);
    expect(sink.sizes).toEqual([17]);
  });

  it('packs the lines greedily into datagrams of at most mtu bytes without ever splitting a line', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { mtu: 100 });
    const items = p.counter({ name: 'items', monotonic: true, labels: ['id'] });
    const expected: string[] = [];
    for (let i = 0; i < 60; i++) {
      items.labels({ id: `series${i}` }).inc(i + 1);
      expected.push(`items.series${i}:${i + 1}|c`);
    }
    await exporter.flush();
    const datagrams = await sink.take();
    expect(linesOf(datagrams)).toEqual(expected); // every line whole, in order, once
    expect(datagrams.length).toBeGreaterThan(10);
    for (const [i, d] of datagrams.entries()) {
      expect(sink.sizes[i]).toBe(Buffer.byteLength(d));
      expect(sink.sizes[i]).toBeLessThanOrEqual(100);
      expect(d.endsWith('\n')).toBe(false);
      const next = datagrams[i + 1];
      // Greedy: the next datagram's first line did not fit in this one.
      if (next !== undefined) expect((sink.sizes[i] as number) + 1 + Buffer.byteLength(next.split('\n')[0] as string)).toBeGreaterThan(100);
    }
  });

  it('counts the mtu in bytes, not characters', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { mtu: 64 });
    const users = p.counter({ name: 'u', monotonic: true, labels: ['name'] });
    // Each line is 22 characters but 37 bytes: two fit in 64 characters, not in 64 bytes.
    for (let i = 0; i < 4; i++) users.labels({ name: `${'é'.repeat(15)}${i}` }).inc();
    await exporter.flush();
    const datagrams = await sink.take();
    expect(datagrams).toEqual([0, 1, 2, 3].map((i) => `u.${'é'.repeat(15)}${i}:1|c`));
    expect(sink.sizes).toEqual([37, 37, 37, 37]);
  });

  it('sends a line longer than the mtu alone in its own datagram', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { mtu: 64 });
    p.counter({ name: 'a', monotonic: true }).inc();
    p.counter({ name: 'long', monotonic: true, labels: ['v'] }).labels({ v: 'x'.repeat(100) }).inc();
    p.counter({ name: 'b', monotonic: true }).inc();
    p.counter({ name: 'c', monotonic: true }).inc();
    await exporter.flush();
    expect(await sink.take()).toEqual(['a:1|c', `long.${'x'.repeat(100)}:1|c`, 'b:1|c\nc:1|c']);
    expect(sink.sizes).toEqual([5, 109, 11]);
  });

  it('stops a flush at maxQueueBytes, counts the timer values it did not send as dropped, and carries the counter deltas it did not send', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { maxQueueBytes: 60 });
    const lat = p.histogram({ name: 'lat', unit: 'ms' });
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    jobs.inc(5);
    for (let i = 0; i < 10; i++) lat.observe(1);
    await exporter.flush();
    // Ten 'lat:1|ms' lines take 9 bytes each with their newline: six fit in 60 bytes; the
    // other four timer values are dropped, and 'jobs:5|c' (after them) waits.
    expect(await sink.take()).toEqual([Array.from({ length: 6 }, () => 'lat:1|ms').join('\n')]);
    expect(selfCount(p, 'probekit_exporter_dropped')).toBe(4);
    jobs.inc(2);
    await exporter.flush();
    expect(await sink.take()).toEqual(['jobs:7|c\nprobekit_exporter_dropped.statsd:4|c']);
  });

  it('never sends the negative line of a gauge without the 0 line before it when the queue bound drops lines', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { maxQueueBytes: 7 });
    p.counter({ name: 'b' }).dec(5); // 'b:0|g' and 'b:-5|g': 13 bytes with their newlines
    await exporter.flush();
    const lines = linesOf(await sink.take());
    // Either both lines or neither: a lone 'b:-5|g' moves the daemon's gauge by -5.
    expect(lines).toEqual(lines.includes('b:-5|g') ? ['b:0|g', 'b:-5|g'] : []);
  });
});

// ---------------------------------------------------------------------------------------
// Reliability
// ---------------------------------------------------------------------------------------

describe('statsd() reliability', () => {
  it('keeps counter deltas sent while nothing listened and sends them once the daemon is back, exactly once', async () => {
    const port = await deadPort();
    const errors: Error[] = [];
    const { p, exporter } = start(port, { onError: (e) => errors.push(e) });
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    jobs.inc(5);
    await exporter.flush(); // leaves the socket; the refusal comes back afterwards
    await until('the refusal', () => errors.length > 0);
    expect(codeOf(errors[0] as Error)).toBe('ECONNREFUSED');
    // The daemon comes back on the same port.
    const back = dgram.createSocket('udp4');
    sockets.push(back);
    const received: string[] = [];
    back.on('message', (m: Buffer) => received.push(m.toString('utf8')));
    await new Promise<void>((resolve) => back.bind(port, '127.0.0.1', () => resolve()));
    jobs.inc(2);
    await exporter.flush();
    await until('the resent delta', () => received.some((d) => d.includes('jobs:')));
    expect(linesOf(received).filter((l) => l.startsWith('jobs:'))).toEqual(['jobs:7|c']);
    jobs.inc(1);
    await exporter.flush();
    await until('the next delta', () => linesOf(received).filter((l) => l.startsWith('jobs:')).length === 2);
    expect(linesOf(received).filter((l) => l.startsWith('jobs:'))).toEqual(['jobs:7|c', 'jobs:1|c']);
  });

  it('counts the counter deltas of a final flush the daemon refused as dropped', async () => {
    const port = await deadPort();
    const { p, exporter } = start(port, { onError: () => {} });
    p.counter({ name: 'a', monotonic: true }).inc(1);
    p.counter({ name: 'b', monotonic: true }).inc(1);
    await exporter.close();
    expect(selfCount(p, 'probekit_exporter_dropped')).toBe(2);
  });

  it('never sends a non-finite value: a timer that overflows when scaled to ms is dropped and counted', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const h = p.histogram({ name: 'slow', unit: 's' });
    h.observe(1e306); // 1e309 ms is Infinity
    h.observe(2);
    await exporter.flush();
    // The drop is counted as the line is made, so the self-metric (listed last) carries it in the same flush.
    expect(linesOf(await sink.take())).toEqual(['slow:2000|ms', 'probekit_exporter_dropped.statsd:1|c']);
    expect(selfCount(p, 'probekit_exporter_dropped')).toBe(1);
  });

  it('holds at most maxBufferedValues observations across all histogram series together, and counts the rest', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { maxBufferedValues: 5 });
    const h = p.histogram({ name: 'h', labels: ['k'] });
    for (const k of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) h.labels({ k }).observe(1);
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual(['h.a:1|ms', 'h.a:1|ms', 'h.a:1|ms', 'h.b:1|ms', 'h.b:1|ms', 'probekit_exporter_dropped.statsd:4|c']);
    expect(selfCount(p, 'probekit_exporter_dropped')).toBe(4);
    // The budget is back after the flush.
    for (let i = 0; i < 5; i++) h.labels({ k: 'c' }).observe(2);
    await exporter.flush();
    expect(linesOf(await sink.take())).toEqual(Array.from({ length: 5 }, () => 'h.c:2|ms'));
  });

  it('flushes a 1000-series histogram observed 2 million times within 2 s in a process limited to a 64 MB heap, every value sent or counted', () => {
    const r = spawnSync(process.execPath, ['--max-old-space-size=64', `${FIXTURES}statsd-memory.mjs`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as { flushMs: number; lines: number; dropped: number; peakRssMb: number };
    expect(result.lines + result.dropped).toBe(2_000_000);
    expect(result.lines).toBeGreaterThan(0);
    expect(result.flushMs).toBeLessThan(2000);
  });

  it('resolves flush() and close() while nothing listens, reporting ECONNREFUSED to onError and counting it in probekit_exporter_errors_total', async () => {
    const port = await deadPort();
    const errors: Error[] = [];
    const { p, exporter } = start(port, { onError: (e) => errors.push(e) });
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    // The refusal comes back after a datagram left: it is reported on a later socket operation.
    for (let i = 0; i < 100 && errors.length < 2; i++) {
      jobs.inc();
      await expect(exporter.flush()).resolves.toBeUndefined();
      await sleep(10);
    }
    await expect(exporter.close()).resolves.toBeUndefined();
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (const e of errors) {
      expect(e).toBeInstanceOf(Error);
      expect(codeOf(e)).toBe('ECONNREFUSED');
    }
    expect(selfCount(p, 'probekit_exporter_errors')).toBe(errors.length);
  });

  it('reports a host that does not resolve to onError, resolves flush() and close(), and retries the carried deltas in the final flush', async () => {
    const errors: Error[] = [];
    const { p, exporter } = start(8125, { host: 'nonexistent.invalid', onError: (e) => errors.push(e) });
    p.counter({ name: 'jobs', monotonic: true }).inc();
    await expect(exporter.flush()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
    const [first] = errors as [Error];
    expect(first).toBeInstanceOf(Error);
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(codeOf(first));
    expect(first).toMatchObject({ syscall: 'getaddrinfo', hostname: 'nonexistent.invalid' });
    expect(selfCount(p, 'probekit_exporter_errors')).toBe(1);
    await expect(exporter.close()).resolves.toBeUndefined();
    expect(errors).toHaveLength(2); // the final flush had the undelivered delta to send
    expect(selfCount(p, 'probekit_exporter_errors')).toBe(2);
  });

  it('reports a failed connect() to onError as the connect error, and tries to connect again at the next flush', async () => {
    const errors: Error[] = [];
    // Connecting a UDP socket to the broadcast address without SO_BROADCAST fails (EACCES on Linux).
    const { p, exporter } = start(8125, { host: '255.255.255.255', onError: (e) => errors.push(e) });
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    jobs.inc();
    await expect(exporter.flush()).resolves.toBeUndefined();
    jobs.inc();
    await expect(exporter.flush()).resolves.toBeUndefined();
    const connectError = expect.stringMatching(/^connect E[A-Z]+ 255\.255\.255\.255:8125$/);
    expect(errors.map((e) => e.message)).toEqual([connectError, connectError]);
    expect(errors.map((e) => (e as NodeJS.ErrnoException).syscall)).toEqual(['connect', 'connect']);
  });

  it('keeps an onError that throws away from the application when a host does not resolve', async () => {
    let calls = 0;
    const { p, exporter } = start(8125, {
      host: 'nonexistent.invalid',
      onError: () => {
        calls++;
        throw new Error('onError failed');
      },
    });
    p.counter({ name: 'jobs', monotonic: true }).inc();
    await expect(exporter.flush()).resolves.toBeUndefined();
    await expect(exporter.close()).resolves.toBeUndefined();
    expect(calls).toBe(2);
    expect(selfCount(p, 'probekit_exporter_errors')).toBe(2);
  });

  it('keeps an onError that throws away from the application when the socket reports ECONNREFUSED', async () => {
    const port = await deadPort();
    let calls = 0;
    const { p, exporter } = start(port, {
      onError: () => {
        calls++;
        throw new Error('onError failed');
      },
    });
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    for (let i = 0; i < 100 && calls < 2; i++) {
      jobs.inc();
      await expect(exporter.flush()).resolves.toBeUndefined();
      await sleep(10);
    }
    await expect(exporter.close()).resolves.toBeUndefined();
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(selfCount(p, 'probekit_exporter_errors')).toBe(calls);
  });

  it('flushes on its own every flushInterval milliseconds', async () => {
    const sink = await openSink();
    const { p } = start(sink.port, { flushInterval: 20 });
    p.counter({ name: 'jobs', monotonic: true }).inc(4);
    await until('a timed flush', () => sink.datagrams.length > 0);
    expect(sink.datagrams).toEqual(['jobs:4|c']);
  });

  it('performs a final flush in close(): what was recorded just before arrives', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    p.counter({ name: 'jobs', monotonic: true }).inc(7);
    p.histogram({ name: 'lat', unit: 'ms' }).observe(5);
    await exporter.close();
    expect(await sink.take()).toEqual(['jobs:7|c\nlat:5|ms']);
  });

  it('makes close() idempotent: a second call resolves and sends nothing recorded in between', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    jobs.inc();
    await exporter.close();
    expect(await sink.take()).toEqual(['jobs:1|c']);
    jobs.inc(5);
    await expect(exporter.close()).resolves.toBeUndefined();
    expect(await sink.take()).toEqual([]);
  });

  it('resolves flush() after close() without sending', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const jobs = p.counter({ name: 'jobs', monotonic: true });
    await exporter.close();
    jobs.inc(3);
    await expect(exporter.flush()).resolves.toBeUndefined();
    expect(await sink.take()).toEqual([]);
  });

  it('throws a TypeError for a second statsd() on the same registry until the first is closed, and the first keeps working', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    const lat = p.histogram({ name: 'lat', unit: 'ms' });
    const err = thrown(() => statsd({ port: sink.port, flushInterval: 0, registry: p }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_EXPORTER_EXISTS' });
    lat.observe(1);
    await exporter.flush();
    expect(await sink.take()).toEqual(['lat:1|ms']);
    await exporter.close();
    lat.observe(2); // no exporter collects it
    const { exporter: second } = start(sink.port, { registry: p });
    lat.observe(3);
    await second.flush();
    expect(await sink.take()).toEqual(['lat:3|ms']);
  });
});

// ---------------------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------------------

describe('statsd() timers and sockets', () => {
  it('lets the process exit on its own, with code 0, while an exporter with flushInterval 1000 runs, delivering its last interval on the way out', async () => {
    const sink = await openSink();
    const started = Date.now();
    const child = spawn(process.execPath, [`${FIXTURES}statsd-exit.mjs`, String(sink.port)], {
      cwd: FIXTURES,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
    const elapsed = Date.now() - started;
    expect(stderr).toBe('');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(elapsed).toBeLessThan(3000);
    expect(stdout).toBe('flushed\n');
    // The second interval was never flushed by the timer: beforeExit delivered it.
    expect(await sink.take()).toEqual(['jobs:1|c\nlatency:5|ms', 'jobs:2|c\nlatency:6|ms']);
  });
});

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

interface BadOptionRow {
  readonly what: string;
  readonly type: 'TypeError' | 'RangeError';
  readonly code: string;
  readonly option: string | undefined;
  readonly options: unknown;
}

const ERRORS = { TypeError, RangeError } as const;


const badOptions: readonly BadOptionRow[] = [
  { what: 'options null', type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined, options: null },
  { what: 'options "x"', type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined, options: 'x' },
  { what: 'port 0', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'port', options: { port: 0 } },
  { what: 'port 70000', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'port', options: { port: 70_000 } },
  { what: 'port "x"', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'port', options: { port: 'x' } },
  { what: 'port 8125.5', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'port', options: { port: 8125.5 } },
  { what: 'host 5', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'host', options: { host: 5 } },
  { what: 'prefix 5', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'prefix', options: { prefix: 5 } },
  { what: 'mtu 10', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'mtu', options: { mtu: 10 } },
  { what: 'mtu 65508', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'mtu', options: { mtu: 65_508 } },
  { what: 'flushInterval -1', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'flushInterval', options: { flushInterval: -1 } },
  { what: 'sampleRate 0', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'sampleRate', options: { sampleRate: 0 } },
  { what: 'sampleRate 1.5', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'sampleRate', options: { sampleRate: 1.5 } },
  { what: 'sampleRate NaN', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'sampleRate', options: { sampleRate: NaN } },
  { what: 'tagFormat "influx"', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'tagFormat', options: { tagFormat: 'influx' } },
  { what: 'tags { a: 1 }', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'tags.a', options: { tags: { a: 1 } } },
  { what: 'tags "x"', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'tags', options: { tags: 'x' } },
  { what: 'tags as an array', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'tags', options: { tags: ['a'] } },
  { what: 'maxQueueBytes 0', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'maxQueueBytes', options: { maxQueueBytes: 0 } },
  { what: 'maxTimerValues 0', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'maxTimerValues', options: { maxTimerValues: 0 } },
  { what: 'maxBytesPerSecond 100', type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'maxBytesPerSecond', options: { maxBytesPerSecond: 100 } },
  { what: 'registry {}', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'registry', options: { registry: {} } },
  { what: 'onError "x"', type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'onError', options: { onError: 'x' } },
  { what: 'the unknown option "interval"', type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'interval', options: { interval: 10 } },
];

describe('statsd() options', () => {
  it.each(badOptions)('throws a $type for $what', ({ type, code, option, options }) => {
    const err = thrown(() => {
      // A row that wrongly passed would start an exporter on the default registry: close it.
      const made = statsd(bad(options));
      exporters.push(made);
    });
    expectError(err, { type: ERRORS[type], code, option });
  });

  it('leaves the registry free for a valid exporter after rejecting options', async () => {
    const sink = await openSink();
    const p = registry();
    for (const row of badOptions) {
      const options = row.options;
      if (options === null || typeof options !== 'object' || 'registry' in options) continue;
      expect(() => statsd(bad({ ...options, registry: p }))).toThrow(ERRORS[row.type]);
    }
    const { exporter } = start(sink.port, { registry: p });
    p.histogram({ name: 'lat', unit: 'ms' }).observe(1);
    await exporter.flush();
    expect(await sink.take()).toEqual(['lat:1|ms']);
  });
});

describe('statsd() and a labelled metric', () => {
  function depth(p: Probe): void {
    const m = p.metric({ name: 'queue_depth', labels: ['queue'], value: () => [[{ queue: 'mail' }, 3], [{ queue: 'sms.eu' }, -2]] });
    m.labels({ queue: 'push' }).set(5);
    p.metric({ name: 'build', labels: ['service'] }).labels({ service: 'api' }).set('v1'); // strings have no StatsD form
  }

  it('sends each label set as a gauge, labels folded into the name with tagFormat none', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port);
    depth(p);
    await exporter.flush();
    expect(await sink.take()).toEqual(['queue_depth.push:5|g\nqueue_depth.mail:3|g\nqueue_depth.sms_eu:0|g\nqueue_depth.sms_eu:-2|g']);
  });

  it('sends each label set as a gauge with DogStatsD tags', async () => {
    const sink = await openSink();
    const { p, exporter } = start(sink.port, { tagFormat: 'dogstatsd' });
    depth(p);
    await exporter.flush();
    expect(await sink.take()).toEqual([
      'queue_depth:5|g|#queue:push\nqueue_depth:3|g|#queue:mail\nqueue_depth:0|g|#queue:sms.eu\nqueue_depth:-2|g|#queue:sms.eu',
    ]);
  });
});
