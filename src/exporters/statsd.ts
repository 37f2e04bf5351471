/**
 * The StatsD exporter: reads the registry at each flush and sends UDP datagrams. The
 * application's recording calls never touch the socket: counters are aggregated
 * client-side (one line per series per flush), gauges sent as they stand, and each
 * histogram observation (collected by a tap) as a timer.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { addFlushHook } from '../errors/process.js';
import { Counter } from '../probes/counter.js';
import type { Family } from '../probes/family.js';
import { Histogram, msPerUnit } from '../probes/histogram.js';
import { Meter } from '../probes/meter.js';
import { Metric } from '../probes/metric.js';
import { Tap } from '../probes/tap.js';
import { defaultRegistry, Registry } from '../probes/probe.js';
import type { Probe } from '../probes/types.js';
import {
  checkInteger,
  checkKnownKeys,
  checkObject,
  checkPositive,
  invalidArgument,
  optionalString,
  rangeError,
  typeError,
} from '../probes/validate.js';

/** How labels travel: folded into the name, DogStatsD `|#k:v`, or Telegraf `name,k=v`. */
export type TagFormat = 'none' | 'dogstatsd' | 'telegraf';

/** Options of {@link statsd}. */
export interface StatsdOptions {
  /** Daemon host; resolved once, and again after a send error. @default '127.0.0.1' */
  readonly host?: string;
  /** Daemon UDP port. @default 8125 */
  readonly port?: number;
  /** Prepended to every name with a `.`, kept as written (`'myapp.api'`). @default none */
  readonly prefix?: string;
  /** Tags added to every line (with `dogstatsd` or `telegraf`), or folded into names (`none`: values only). @default {} */
  readonly tags?: Readonly<Record<string, string>>;
  /** How labels are sent. @default 'none' */
  readonly tagFormat?: TagFormat;
  /** Milliseconds between flushes; 0 flushes only when asked. @default 1000 */
  readonly flushInterval?: number;
  /** Largest datagram in bytes; lines are never split, a longer line goes alone. @default 1432 */
  readonly mtu?: number;
  /**
   * Most bytes one flush sends. Lines are streamed out as they are made, counters first in
   * registry order; once a flush reaches the bound, the timer values it has not sent are
   * dropped and counted, and counter deltas wait for the next flush. @default 1048576
   */
  readonly maxQueueBytes?: number;
  /**
   * Pace of a large flush, in bytes per second. A loopback receiver with the default
   * socket buffer (208 KiB) must keep up: the Etsy daemon parses about 10 MB/s here while
   * it also flushes, and 4 MiB/s loses nothing (measured in the tests); raise it for a
   * faster receiver. @default 4194304
   */
  readonly maxBytesPerSecond?: number;
  /** Fraction of histogram observations sent as timers (`|@rate`), sampled client-side. @default 1 */
  readonly sampleRate?: number;
  /** Most observations a histogram series holds between flushes; beyond it they are dropped and counted. @default 65536 */
  readonly maxTimerValues?: number;
  /**
   * Most observations all histogram series together hold between flushes (8 bytes each);
   * beyond it they are dropped and counted. With `maxQueueBytes` it bounds the exporter's
   * memory whatever the registry holds. @default 262144
   */
  readonly maxBufferedValues?: number;
  /** Registry to read. @default the default `probe` */
  readonly registry?: Probe;
  /** Called with every send or resolution failure (never thrown into the application). @default none */
  readonly onError?: (error: Error) => void;
}

/** A running StatsD exporter. */
export interface StatsdExporter {
  /** Sends what the registry holds now; resolves when the datagrams were handed to the socket, even if sends failed. */
  flush(): Promise<void>;
  /** A final flush, then closes the socket and stops the timer. Idempotent. */
  close(): Promise<void>;
}

/** A large flush goes out in bursts of this many bytes, paced to `maxBytesPerSecond`. */
const BURST_BYTES = 16 * 1024;

/** How long close() waits for a refusal of its final flush (loopback reports one within a millisecond). */
const CLOSE_GRACE_MS = 20;

/** A counter value a datagram carries: confirmed as the daemon's once the datagram left without error. */
type Commit = readonly [series: object, value: number, resets: number];

const PROTOCOL = /[:|@#,\n\r]/g;

/** Removes what would break a StatsD line (`: | @ # ,` and line breaks), so a label can never inject a metric. */
export function clean(text: string): string {
  return text.replace(PROTOCOL, '');
}

/** A value as StatsD text; `undefined` for NaN and ±Infinity, which no daemon parses. */
function formatNumber(v: number): string | undefined {
  if (v - v !== 0) return undefined;
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(15)));
}

/**
 * Starts a StatsD exporter.
 *
 * @example
 * import { statsd } from 'probekit';
 * const exporter = statsd({ host: 'statsd.local', prefix: 'checkout', tagFormat: 'dogstatsd', tags: { env: 'prod' } });
 * // ... on shutdown:
 * await exporter.close();
 */
export function statsd(options: StatsdOptions = {}): StatsdExporter {
  const opts = checkObject('statsd() options', options);
  checkKnownKeys('statsd()', opts, [
    'host',
    'port',
    'prefix',
    'tags',
    'tagFormat',
    'flushInterval',
    'mtu',
    'maxQueueBytes',
    'sampleRate',
    'maxTimerValues',
    'maxBufferedValues',
    'maxBytesPerSecond',
    'registry',
    'onError',
  ]);
  const host = optionalString('statsd() option "host"', opts.host) ?? '127.0.0.1';
  const port = opts.port === undefined ? 8125 : checkInteger('statsd() option "port"', opts.port, 1, 65535);
  const prefix = optionalString('statsd() option "prefix"', opts.prefix);
  const tagFormat = (opts.tagFormat ?? 'none') as TagFormat;
  if (!['none', 'dogstatsd', 'telegraf'].includes(tagFormat)) throw typeError('statsd() option "tagFormat"', '"none", "dogstatsd" or "telegraf"', opts.tagFormat);
  const tags = opts.tags === undefined ? {} : opts.tags;
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) throw typeError('statsd() option "tags"', 'an object of tag names to string values', tags);
  for (const [k, v] of Object.entries(tags)) if (typeof v !== 'string') throw typeError(`statsd() option "tags.${k}"`, 'a string', v);
  const flushInterval = opts.flushInterval === undefined ? 1000 : checkInteger('statsd() option "flushInterval"', opts.flushInterval, 0);
  const mtu = opts.mtu === undefined ? 1432 : checkInteger('statsd() option "mtu"', opts.mtu, 64, 65_507);
  const maxQueueBytes = opts.maxQueueBytes === undefined ? 1 << 20 : checkInteger('statsd() option "maxQueueBytes"', opts.maxQueueBytes, 1);
  const sampleRate = opts.sampleRate === undefined ? 1 : checkPositive('statsd() option "sampleRate"', opts.sampleRate);
  if (sampleRate > 1) throw rangeError('statsd() option "sampleRate"', 'in (0, 1]', sampleRate);
  const maxBytesPerSecond = opts.maxBytesPerSecond === undefined ? 4 << 20 : checkInteger('statsd() option "maxBytesPerSecond"', opts.maxBytesPerSecond, 1024);
  const pauseMs = (BURST_BYTES / maxBytesPerSecond) * 1000;
  const maxTimerValues = opts.maxTimerValues === undefined ? 65_536 : checkInteger('statsd() option "maxTimerValues"', opts.maxTimerValues, 1);
  const maxBufferedValues =
    opts.maxBufferedValues === undefined ? 262_144 : checkInteger('statsd() option "maxBufferedValues"', opts.maxBufferedValues, 1);
  if (opts.registry !== undefined && !(opts.registry instanceof Registry)) throw typeError('statsd() option "registry"', 'a probekit registry (probe, createProbe())', opts.registry);
  const registry = (opts.registry as Registry | undefined) ?? defaultRegistry;
  if (opts.onError !== undefined && typeof opts.onError !== 'function') throw typeError('statsd() option "onError"', 'a function', opts.onError);
  const onError = opts.onError as ((e: Error) => void) | undefined;
  if (registry.histogramTap !== undefined) {
    throw invalidArgument('probekit: statsd(): this registry already has a StatsD exporter; close() it first (one exporter collects the histogram observations)');
  }

  const errors = registry.selfCounter('probekit_exporter_errors', 'Exporter failures (scrape, send, serialisation), by exporter', ['exporter']).labels({
    exporter: 'statsd',
  });
  const dropped = registry.selfCounter('probekit_exporter_dropped', 'Lines or values an exporter dropped to stay within its memory bounds, by exporter', ['exporter']).labels({
    exporter: 'statsd',
  });
  const fail = (err: unknown): void => {
    try {
      errors.inc();
      onError?.(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // an onError that throws must not reach the application either
    }
  };

  const globalTags = Object.entries(tags as Record<string, string>).map(([k, v]) => [clean(k), clean(v)] as const);
  // Counter values the daemon has (as far as the socket knows), with the reset count then.
  const sent = new WeakMap<object, { value: number; resets: number }>();
  const names = new WeakMap<object, { name: string; suffix: string }>();
  const tapConfig = { max: maxTimerValues, rate: sampleRate, budget: { left: maxBufferedValues } };
  registry.histogramTap = tapConfig; // histograms registered from now on collect from their first observation
  const tapFamily = (family: Family<unknown>): void => {
    family.tap = tapConfig;
    for (const h of family.all() as Histogram[]) h._tap ??= new Tap(tapConfig);
  };
  for (const family of registry.families()) if (family.root instanceof Histogram) tapFamily(family);

  /** Name and tag suffix of a series, built once. */
  function nameOf(family: Family<unknown>, series: object, labels: Readonly<Record<string, string>>): { name: string; suffix: string } {
    const known = names.get(series);
    if (known !== undefined) return known;
    let name = `${prefix === undefined ? '' : `${clean(prefix)}.`}${family.exportName.replace(PROTOCOL, '_')}`;
    const pairs = [...globalTags, ...family.labelNames.map((n) => [clean(n), clean(labels[n] ?? '')] as const)];
    let suffix = '';
    if (tagFormat === 'none') name += pairs.map(([, v]) => `.${v.replace(/\./g, '_') || '_'}`).join('');
    else if (tagFormat === 'telegraf') name += pairs.map(([k, v]) => `,${k.replace(/[= ]/g, '_')}=${v.replace(/[= ]/g, '_')}`).join('');
    else if (pairs.length > 0) suffix = `|#${pairs.map(([k, v]) => `${k}:${v}`).join(',')}`;
    const out = { name, suffix };
    names.set(series, out);
    return out;
  }

  // The line the generator yields last carries this counter commit (or none): no object per line.
  let lineCommit: Commit | undefined;
  // Set by the sender when a line did not fit in maxQueueBytes: the rest of the flush makes
  // no more lines; timer values are dropped and counted, counters and gauges wait.
  let queueFull = false;

  /**
   * Every line the registry holds now, made one at a time as the sender asks: counters,
   * gauges, then each histogram's timers, in registry order. A value that cannot be written
   * (NaN, ±Infinity, a negative timer) is dropped and counted here, the one place lines are
   * made. Once the sender refuses a line (`queueFull`), every timer value not yet written is
   * dropped and counted, and counter deltas wait for the next flush.
   */
  function* lines(): Generator<string, void, undefined> {
    const counter = function* (family: Family<unknown>, series: object, labels: Readonly<Record<string, string>>, value: number, resets = 0) {
      const before = sent.get(series);
      // After a reset (or a value that went down, for safety) the count starts over.
      const delta = before === undefined ? value : before.resets !== resets || value < before.value ? value : value - before.value;
      if (delta === 0 || queueFull) return;
      const text = formatNumber(delta);
      if (text === undefined) {
        dropped.inc();
        return;
      }
      const { name, suffix } = nameOf(family, series, labels);
      lineCommit = [series, value, resets];
      yield `${name}:${text}|c${suffix}`;
    };
    const gauge = function* (family: Family<unknown>, series: object, labels: Readonly<Record<string, string>>, value: number) {
      if (queueFull) return;
      const text = formatNumber(value);
      if (text === undefined) {
        dropped.inc();
        return;
      }
      const { name, suffix } = nameOf(family, series, labels);
      // A leading sign is a delta to the daemon: set 0 first, then apply the negative delta.
      // The two go as one unit, so no bound or datagram boundary can separate them.
      const line = `${name}:${text}|g${suffix}`;
      lineCommit = undefined;
      yield value < 0 ? `${name}:0|g${suffix}\n${line}` : line;
    };
    for (const family of registry.families()) {
      const root = family.root;
      if (root instanceof Counter) {
        for (const c of (family as Family<Counter>).reported((s) => s._value !== 0)) {
          if (root._floor === 0) yield* counter(family, c, c.labelValues, c._value, c._resets);
          else yield* gauge(family, c, c.labelValues, c._value);
        }
      } else if (root instanceof Meter) {
        for (const m of family.all() as Meter[]) yield* counter(family, m, m.labelValues, m._total);
      } else if (root instanceof Metric) {
        if (root._value === undefined) continue;
        const read = root.read();
        if (!read.ok || typeof read.value === 'string') continue;
        const v = read.value;
        yield* gauge(family, root, {}, typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : v.getTime() / 1000);
      } else if (root instanceof Histogram) {
        if (family.tap !== tapConfig) tapFamily(family); // defensive: every histogram is tapped at start or creation
        const toMs = msPerUnit(family.unit) ?? 1;
        const rate = sampleRate < 1 ? `|@${sampleRate}` : '';
        for (const h of family.all() as Histogram[]) {
          const tap = h._tap;
          if (tap === undefined) continue;
          const { values, length, dropped: lost } = tap.take();
          if (lost > 0) dropped.inc(lost);
          if (length === 0) continue;
          let sentUpTo = 0; // values written out or dropped here
          try {
            if (queueFull) continue;
            const { name, suffix } = nameOf(family, h, h.labelValues);
            for (; sentUpTo < length; sentUpTo++) {
              const v = values[sentUpTo] as number;
              const text = v < 0 ? undefined : formatNumber(v * toMs); // the daemon rejects negative timers
              if (text === undefined) {
                dropped.inc();
                continue;
              }
              lineCommit = undefined;
              yield `${name}:${text}|ms${rate}${suffix}`;
              if (queueFull) break; // refused: this value and the rest are dropped below
            }
          } finally {
            if (sentUpTo < length) dropped.inc(length - sentUpTo);
            tap.release(length);
          }
        }
      }
    }
  }

  let socket: dgram.Socket | undefined;
  let stale = true;

  async function connect(): Promise<dgram.Socket | undefined> {
    if (socket !== undefined && !stale) return socket;
    try {
      const found = await lookup(host);
      // After an error the socket is replaced, on the address the host resolves to now.
      try {
        socket?.close();
      } catch {
        // already closed
      }
      socket = undefined;
      const s = dgram.createSocket(found.family === 6 ? 'udp6' : 'udp4');
      s.on('error', (err) => {
        stale = true;
        errorSinceFlush = true;
        fail(err);
      });
      s.unref();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.connect(port, found.address, (err?: Error) => {
          s.off('error', reject);
          if (err) reject(err);
          else resolve();
        });
      }).catch((err: unknown) => {
        s.close();
        throw err;
      });
      socket = s;
      stale = false;
      return s;
    } catch (err) {
      fail(err);
      return undefined;
    }
  }

  // Delivery: a connected UDP socket learns of a refused datagram (ICMP) only later, as an
  // error on the socket. So a flush's counter values count as the daemon's only once no
  // error came before the next flush begins; otherwise they are taken back and their
  // deltas go again.
  let lastCommits: Array<readonly [series: object, before: { value: number; resets: number } | undefined]> = [];
  let errorSinceFlush = false;

  function settlePrevious(): void {
    if (errorSinceFlush) {
      for (const [series, before] of lastCommits) {
        if (before === undefined) sent.delete(series);
        else sent.set(series, before);
      }
    }
    lastCommits = [];
    errorSinceFlush = false;
  }

  function confirm(commits: readonly Commit[]): void {
    for (const [series, value, resets] of commits) {
      lastCommits.push([series, sent.get(series)]);
      sent.set(series, { value, resets });
    }
  }

  function sendDatagram(s: dgram.Socket, payload: string, commits: readonly Commit[]): Promise<void> {
    return new Promise<void>((resolve) => {
      try {
        s.send(payload, (err) => {
          if (err) {
            stale = true;
            errorSinceFlush = true;
            fail(err);
          } else confirm(commits);
          resolve();
        });
      } catch (err) {
        stale = true; // a socket that cannot send is replaced at the next flush
        errorSinceFlush = true;
        fail(err);
        resolve();
      }
    });
  }

  /**
   * Streams the registry's lines into datagrams of at most `mtu` bytes (never splitting a
   * line), sent in bursts of {@link BURST_BYTES} paced to `maxBytesPerSecond`: at any time
   * the exporter holds one burst, whatever the registry holds.
   */
  async function send(): Promise<void> {
    settlePrevious();
    const s = await connect();
    if (s === undefined) return; // nothing drained: counters and timer values wait for the next flush
    let budget = maxQueueBytes;
    let payload = '';
    let bytes = 0;
    let commits: Commit[] = [];
    let burst: Array<Promise<void>> = [];
    let burstBytes = 0;
    const close = (): void => {
      if (bytes === 0) return;
      burst.push(sendDatagram(s, payload, commits));
      burstBytes += bytes;
      payload = '';
      bytes = 0;
      commits = [];
    };
    queueFull = false;
    for (const text of lines()) {
      const size = Buffer.byteLength(text);
      if (size + 1 > budget) {
        queueFull = true; // the generator drops (and counts) the timers left and stops
        continue;
      }
      budget -= size + 1;
      if (bytes > 0 && bytes + 1 + size > mtu) close();
      payload = bytes === 0 ? text : `${payload}\n${text}`;
      bytes += (bytes === 0 ? 0 : 1) + size;
      if (lineCommit !== undefined) commits.push(lineCommit);
      if (burstBytes + bytes >= BURST_BYTES) {
        close();
        await Promise.all(burst);
        burst = [];
        burstBytes = 0;
        // Let the receiver drain its socket buffer before the next burst.
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    }
    close();
    await Promise.all(burst);
  }

  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  const flush = (): Promise<void> => {
    chain = chain.then(async () => {
      try {
        await send();
      } catch (err) {
        fail(err);
      }
    });
    return chain;
  };

  const timer = flushInterval > 0 ? setInterval(() => void flush(), flushInterval) : undefined;
  timer?.unref();
  const removeHook = addFlushHook(flush);

  return {
    flush: () => (closed ? chain : flush()),
    async close() {
      if (closed) return chain;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      removeHook();
      await flush();
      // A refusal of the final flush arrives as a socket error a moment later: its counter
      // deltas then never reach the daemon, and are counted as dropped.
      if (socket !== undefined && lastCommits.length > 0) await new Promise((r) => setTimeout(r, CLOSE_GRACE_MS));
      if (errorSinceFlush) dropped.inc(lastCommits.length);
      registry.histogramTap = undefined;
      for (const family of registry.families()) {
        if (!(family.root instanceof Histogram)) continue;
        family.tap = undefined;
        for (const h of family.all() as Histogram[]) h._tap = undefined;
      }
      try {
        socket?.close();
      } catch {
        // already closed
      }
      socket = undefined;
    },
  };
}
