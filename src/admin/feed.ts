/**
 * The dashboard's live feed: once a second, one frame of every probe's value, the process
 * panel, alert states, health and the error count, serialised once and written to every
 * open stream as a server-sent event. A short ring of recent frames lets a new tab start
 * with history.
 *
 * Compact by construction: each series (a probe's labelled series, and one per statistic
 * of a histogram) gets a stable small id, announced once in a `series` event; a frame
 * carries only the values, in id order. Everything is bounded: the ring by frames and
 * bytes, the ids by count, the streams by count and by what a slow reader may leave
 * unread (it is cut off, not buffered for).
 */
import { PassThrough } from 'node:stream';
import { alertStates, type AlertState } from './alerts.js';
import { health, type HealthReport } from './health.js';
import type { ErrorStore } from '../errors/store.js';
import type { FamilySnapshot, HistogramValue, Probe } from '../probes/types.js';
import { nodePerfHooks } from '../util/lazy.js';

/** Frames the ring keeps: five minutes at one a second. */
export const RING_FRAMES = 300;
/** Bytes the ring may hold; the oldest frames go first beyond it. */
export const RING_BYTES = 8 * 1024 * 1024;
/** Series ids handed out at most; later series are counted in `dropped`, not shown. */
export const MAX_SERIES = 2000;
/** Streams open at once; one more is answered 503. */
export const MAX_STREAMS = 32;
/** What a stream may leave unread before it is cut off (a stalled tab must not hold memory). */
export const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/** Health checks run every this many frames (they may be slow; the last report is repeated in between). */
const HEALTH_EVERY = 5;
/** The event-loop delay sampler's period, in ms. */
const LOOP_RESOLUTION_MS = 10;
/** Histogram statistics drawn, when the histogram keeps them. */
const HISTOGRAM_STATS = ['p50', 'p95', 'p99'] as const;

/** One series as the page learns it. */
export interface SeriesDef {
  readonly id: number;
  /** The probe's exported name (the chart it belongs to). */
  readonly family: string;
  /** The name it was registered with. */
  readonly name: string;
  readonly kind: FamilySnapshot['kind'];
  readonly unit: string | null;
  readonly help: string | null;
  readonly labels: Readonly<Record<string, string>>;
  /** `value` (metrics, counters), `rate` (meters: per `per` seconds), or a histogram statistic (`p50`, `p95`, `p99`). */
  readonly stat: string;
  /** A meter's `samples`: the rate is events per this many seconds. */
  readonly per?: number;
  /** `date` for a metric whose value is a Date (sent as epoch ms). */
  readonly format?: 'date';
}

/** The process panel of one frame. */
export interface ProcessFigures {
  /** CPU time used since the previous frame, as a share of one core, in percent. */
  readonly cpu: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  /** Event-loop delay since the previous frame, ms (null when nothing was sampled). */
  readonly loopP50: number | null;
  readonly loopP99: number | null;
  readonly loopMax: number | null;
  /** Garbage-collection pauses since the previous frame: how many, and their total ms. */
  readonly gcCount: number;
  readonly gcMs: number;
}

/** One second's frame. */
export interface Frame {
  /** Epoch ms. */
  readonly t: number;
  /** Values by series id; null where a series had no value. */
  readonly v: ReadonlyArray<number | string | null>;
  readonly p: ProcessFigures;
  readonly a: readonly AlertState[];
  /** Errors recorded so far, and when the latest was seen (epoch ms). */
  readonly e: { readonly total: number; readonly last: number | null };
  /** The latest health report; null when no check is registered. */
  readonly h: HealthReport | null;
  /** Series left out because {@link MAX_SERIES} ids were handed out. */
  readonly d: number;
}

/** Options of {@link LiveFeed}. */
export interface FeedOptions {
  /** Where the values come from (its `snapshot()`). */
  readonly registry: Pick<Probe, 'snapshot'>;
  readonly errors: ErrorStore;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
  /** The process panel's figures; tests give fixed ones. @default this process, measured */
  readonly process?: () => ProcessFigures;
  /** Frames kept for a new tab. @default {@link RING_FRAMES} */
  readonly ringFrames?: number;
  /** Series ids handed out at most. @default {@link MAX_SERIES} */
  readonly maxSeries?: number;
  /** Streams open at once. @default {@link MAX_STREAMS} */
  readonly maxStreams?: number;
  /** Called with failures (a probe read, a stream); never thrown. */
  readonly onError?: (error: Error) => void;
}

/** An SSE event, as bytes. */
function event(name: string, data: unknown): Buffer {
  return Buffer.from(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`, 'utf8');
}

/** Measures this process for the panel: CPU, memory, event-loop delay and GC since the previous call. */
export class ProcessSampler {
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();
  private readonly delay = nodePerfHooks().monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private gcCount = 0;
  private gcMs = 0;
  private readonly observer: import('node:perf_hooks').PerformanceObserver;

  constructor() {
    this.delay.enable();
    const perf = nodePerfHooks();
    this.observer = new perf.PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gcCount += 1;
        this.gcMs += entry.duration;
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** The figures since the previous call. */
  read(): ProcessFigures {
    const now = performance.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const wallUs = Math.max(1, (now - this.lastAt) * 1000);
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const mem = process.memoryUsage();
    const sampled = this.delay.count > 0;
    // Each sample is a timer's wait, the resolution included: the delay is what exceeds it.
    const ms = (ns: number): number => Math.max(0, Math.round(ns / 1e4) / 100 - LOOP_RESOLUTION_MS);
    const figures: ProcessFigures = {
      cpu: Math.round(((cpu.user + cpu.system) / wallUs) * 1000) / 10,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      external: mem.external,
      loopP50: sampled ? ms(this.delay.percentile(50)) : null,
      loopP99: sampled ? ms(this.delay.percentile(99)) : null,
      loopMax: sampled ? ms(this.delay.max) : null,
      gcCount: this.gcCount,
      gcMs: Math.round(this.gcMs * 100) / 100,
    };
    this.delay.reset();
    this.gcCount = 0;
    this.gcMs = 0;
    return figures;
  }

  stop(): void {
    this.delay.disable();
    this.observer.disconnect();
  }
}

/** The feed; see the module comment. */
export class LiveFeed {
  private readonly registry: Pick<Probe, 'snapshot'>;
  private readonly errors: ErrorStore;
  private readonly clock: () => number;
  private readonly measure: () => ProcessFigures;
  private readonly sampler: ProcessSampler | undefined;
  private readonly ringFrames: number;
  private readonly maxSeries: number;
  private readonly maxStreams: number;
  private readonly onError: ((error: Error) => void) | undefined;
  private readonly ids = new Map<string, number>();
  private readonly defs: SeriesDef[] = [];
  /** Series the id limit left out of the latest frame. */
  private dropped = 0;
  private readonly ring: Buffer[] = [];
  private ringBytes = 0;
  private readonly streams = new Set<PassThrough>();
  private healthReport: HealthReport | null = null;
  private healthRunning = false;
  private frames = 0;
  private closed = false;
  /** When the feed started (epoch ms): a page that sees another value talks to a new process and starts over. */
  private readonly started: number;

  constructor(options: FeedOptions) {
    this.registry = options.registry;
    this.errors = options.errors;
    this.clock = options.clock ?? Date.now;
    this.started = this.clock();
    this.ringFrames = options.ringFrames ?? RING_FRAMES;
    this.maxSeries = options.maxSeries ?? MAX_SERIES;
    this.maxStreams = options.maxStreams ?? MAX_STREAMS;
    this.onError = options.onError;
    if (options.process === undefined) {
      this.sampler = new ProcessSampler();
      const sampler = this.sampler;
      this.measure = () => sampler.read();
    } else {
      this.sampler = undefined;
      this.measure = options.process;
    }
  }

  /** Streams open now. */
  get open(): number {
    return this.streams.size;
  }

  /** Frames in the ring. */
  get history(): number {
    return this.ring.length;
  }

  private report(err: unknown): void {
    try {
      this.onError?.(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // an onError that throws must not reach the application either
    }
  }

  /** The id of a series, handed out on first sight; undefined past the limit. */
  private idOf(family: FamilySnapshot, labels: Readonly<Record<string, string>>, stat: string, fresh: SeriesDef[], per?: number, format?: 'date'): number | undefined {
    const key = `${family.exportName}\u0000${stat}\u0000${JSON.stringify(labels)}`;
    let id = this.ids.get(key);
    if (id !== undefined) return id;
    if (this.defs.length >= this.maxSeries) {
      this.dropped += 1;
      return undefined;
    }
    id = this.defs.length;
    const def: SeriesDef = {
      id,
      family: family.exportName,
      name: family.name,
      kind: family.kind,
      unit: family.unit,
      help: family.help,
      labels,
      stat,
      ...(per === undefined ? {} : { per }),
      ...(format === undefined ? {} : { format }),
    };
    this.ids.set(key, id);
    this.defs.push(def);
    fresh.push(def);
    return id;
  }

  /** Reads every probe once: the values by id, and the series first seen now. */
  private values(fresh: SeriesDef[]): Array<number | string | null> {
    const values: Array<number | string | null> = [];
    this.dropped = 0;
    const put = (id: number | undefined, value: number | string | null): void => {
      if (id === undefined) return;
      while (values.length < id) values.push(null);
      values[id] = typeof value === 'number' && !Number.isFinite(value) ? null : value;
    };
    let snapshot;
    try {
      snapshot = this.registry.snapshot();
    } catch (err) {
      this.report(err);
      return values;
    }
    for (const family of snapshot.metrics) {
      for (const series of family.series) {
        const labels = series.labels;
        switch (family.kind) {
          case 'metric': {
            const s = series as FamilySnapshot['series'][number] & { type: string; value?: unknown };
            const value = s.type === 'failed' ? null : s.type === 'boolean' ? (s.value ? 1 : 0) : (s.value as number | string);
            put(this.idOf(family, labels, 'value', fresh, undefined, s.type === 'date' ? 'date' : undefined), value);
            break;
          }
          case 'counter':
            put(this.idOf(family, labels, 'value', fresh), (series as { value: number }).value);
            break;
          case 'meter':
            put(this.idOf(family, labels, 'rate', fresh, family.samples), (series as { rate: number }).rate);
            break;
          case 'histogram': {
            const value = (series as { value: HistogramValue }).value as unknown as Record<string, number | null | undefined>;
            let shown = 0;
            for (const stat of HISTOGRAM_STATS) {
              if (!(stat in value)) continue;
              shown += 1;
              put(this.idOf(family, labels, stat, fresh), value[stat] ?? null);
            }
            // Percentiles of its own choosing: the first three it keeps.
            if (shown === 0) {
              for (const stat of Object.keys(value).filter((k) => /^p\d/.test(k)).slice(0, 3)) put(this.idOf(family, labels, stat, fresh), value[stat] ?? null);
            }
            break;
          }
        }
      }
    }
    while (values.length < this.defs.length) values.push(null);
    return values;
  }

  private runHealth(): void {
    if (this.healthRunning || health.list().length === 0) {
      if (health.list().length === 0) this.healthReport = null;
      return;
    }
    this.healthRunning = true;
    health
      .run()
      .then((report) => {
        this.healthReport = report;
      }, (err: unknown) => this.report(err))
      .finally(() => {
        this.healthRunning = false;
      });
  }

  /** Takes one frame: appends it to the ring and writes it (and any new series) to every open stream. Never throws. */
  sample(): Frame | undefined {
    if (this.closed) return undefined;
    try {
      if (this.frames % HEALTH_EVERY === 0) this.runHealth();
      this.frames += 1;
      const fresh: SeriesDef[] = [];
      const v = this.values(fresh);
      const recent = this.errors.snapshot();
      const frame: Frame = {
        t: this.clock(),
        v,
        p: this.measure(),
        a: alertStates(),
        e: { total: recent.total, last: recent.recent[0]?.lastSeen ?? null },
        h: this.healthReport,
        d: this.dropped,
      };
      const bytes = event('frame', frame);
      this.ring.push(bytes);
      this.ringBytes += bytes.length;
      while (this.ring.length > this.ringFrames || (this.ringBytes > RING_BYTES && this.ring.length > 1)) this.ringBytes -= (this.ring.shift() as Buffer).length;
      const out = fresh.length === 0 ? bytes : Buffer.concat([event('series', { series: fresh, dropped: this.dropped }), bytes]);
      for (const stream of this.streams) this.write(stream, out);
      return frame;
    } catch (err) {
      this.report(err);
      return undefined;
    }
  }

  private write(stream: PassThrough, bytes: Buffer): void {
    if (stream.destroyed) return;
    if (stream.writableLength + stream.readableLength > MAX_UNREAD_BYTES) {
      // A reader this far behind is gone or stalled: cut it off rather than hold its backlog.
      stream.destroy();
      return;
    }
    stream.write(bytes);
  }

  /**
   * Opens a stream: every series known so far and the ring's frames, then each new frame.
   * Undefined when {@link MAX_STREAMS} are open or the feed is closed.
   */
  subscribe(): PassThrough | undefined {
    if (this.closed || this.streams.size >= this.maxStreams) return undefined;
    const stream = new PassThrough();
    this.streams.add(stream);
    const forget = (): void => {
      this.streams.delete(stream);
    };
    stream.once('close', forget);
    stream.once('error', forget);
    // `retry` tells an EventSource-style reader how long to wait before reconnecting.
    const hello = Buffer.concat([Buffer.from(`retry: 2000\n\n`, 'utf8'), event('hello', { pid: process.pid, title: process.title, node: process.version, started: this.started })]);
    stream.write(Buffer.concat([hello, event('series', { series: this.defs, dropped: this.dropped }), ...this.ring]));
    return stream;
  }

  /** Ends every stream and stops measuring; later samples and subscriptions do nothing. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.sampler?.stop();
    this.ring.length = 0;
    this.ringBytes = 0;
  }
}
