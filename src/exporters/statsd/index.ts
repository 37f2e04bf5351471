/**
 * The StatsD exporter: reads the registry at each flush and sends UDP datagrams. The
 * application's recording calls never touch the socket. Three units: the serializer
 * (lines from the registry's read path), the UDP transport, and the periodic base
 * (timer, one flush at a time, final flush on close, lifecycle). This file holds the
 * options and the sender that packs lines into datagrams and paces them.
 */
import type { Probe } from '../../probes/types.js';
import { defaultRegistry, registryOption } from '../../probes/probe.js';
import { PeriodicExporter } from '../../lifecycle/periodic.js';
import { is, option, parseOptions, rangeError } from '../../util/validate.js';
import { clean, type Commit, StatsdSerializer, type TagFormat } from './serializer.js';
import { UdpTransport } from './udp.js';

export { clean };
export type { TagFormat };

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

/** Every option, its check and its default: the one place they are declared. */
const STATSD_OPTIONS = {
  host: option(is.string, '127.0.0.1'),
  port: option(is.integer(1, 65535), 8125),
  prefix: option(is.string),
  tags: option(is.stringRecord, {}),
  tagFormat: option(is.oneOf(['none', 'dogstatsd', 'telegraf'] as const), 'none'),
  flushInterval: option(is.integer(0), 1000),
  mtu: option(is.integer(64, 65_507), 1432),
  maxQueueBytes: option(is.integer(1), 1 << 20),
  sampleRate: option((where, v) => {
    const rate = is.positive(where, v);
    if (rate > 1) throw rangeError(where, 'in (0, 1]', rate);
    return rate;
  }, 1),
  maxTimerValues: option(is.integer(1), 65_536),
  maxBufferedValues: option(is.integer(1), 262_144),
  maxBytesPerSecond: option(is.integer(1024), 4 << 20),
  registry: registryOption,
  onError: option(is.function<(e: Error) => void>()),
};

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
  const opts = parseOptions('statsd()', STATSD_OPTIONS, options);
  const registry = opts.registry ?? defaultRegistry;
  const pauseMs = (BURST_BYTES / opts.maxBytesPerSecond) * 1000;
  // Taps first: this throws when the registry already has an exporter, before anything starts.
  const removeTaps = registry.addTap({ max: opts.maxTimerValues, rate: opts.sampleRate, budget: { left: opts.maxBufferedValues } });

  const droppedCounter = registry
    .selfCounter('probekit_exporter_dropped', 'Lines or values an exporter dropped to stay within its memory bounds, by exporter', ['exporter'])
    .labels({ exporter: 'statsd' });
  const dropped = (n: number): void => droppedCounter.inc(n);
  const serializer = new StatsdSerializer(registry, { prefix: opts.prefix, tags: opts.tags, tagFormat: opts.tagFormat, sampleRate: opts.sampleRate, dropped });
  // eslint-disable-next-line prefer-const -- assigned once the exporter (which reports failures) exists
  let exporter: PeriodicExporter;
  const udp = new UdpTransport(opts.host, opts.port, (err) => exporter.fail(err));

  /**
   * Streams the registry's lines into datagrams of at most `mtu` bytes (never splitting a
   * line), sent in bursts of {@link BURST_BYTES} paced to `maxBytesPerSecond`: at any time
   * the exporter holds one burst, whatever the registry holds.
   */
  async function send(): Promise<void> {
    serializer.begin(udp.settle());
    const s = await udp.connect();
    if (s === undefined) return; // nothing drained: counters and timer values wait for the next flush
    let budget = opts.maxQueueBytes;
    let payload = '';
    let bytes = 0;
    let commits: Commit[] = [];
    let burst: Array<Promise<void>> = [];
    let burstBytes = 0;
    const close = (): void => {
      if (bytes === 0) return;
      const carried = commits;
      burst.push(udp.send(s, payload).then((ok) => (ok ? serializer.confirm(carried) : undefined)));
      burstBytes += bytes;
      payload = '';
      bytes = 0;
      commits = [];
    };
    for (const text of serializer.lines()) {
      const size = Buffer.byteLength(text);
      if (size + 1 > budget) {
        serializer.queueFull = true; // the serializer drops (and counts) the timers left and stops
        continue;
      }
      budget -= size + 1;
      if (bytes > 0 && bytes + 1 + size > opts.mtu) close();
      payload = bytes === 0 ? text : `${payload}\n${text}`;
      bytes += (bytes === 0 ? 0 : 1) + size;
      if (serializer.lineCommit !== undefined) commits.push(serializer.lineCommit);
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

  async function release(): Promise<void> {
    // A refusal of the final flush arrives as a socket error a moment later: its counter
    // deltas then never reach the daemon, and are counted as dropped.
    if (udp.open && serializer.unconfirmed > 0) await new Promise((r) => setTimeout(r, CLOSE_GRACE_MS));
    if (udp.errorSinceFlush) dropped(serializer.unconfirmed);
    removeTaps();
    udp.close();
  }

  exporter = new PeriodicExporter({ name: 'statsd', registry, intervalMs: opts.flushInterval, onError: opts.onError, send, release });
  return {
    flush: () => exporter.flush(),
    close: () => exporter.close(),
  };
}
