/**
 * The base of every exporter that sends on a timer (StatsD now, HTTP push next): an
 * `unref()`ed interval, one flush at a time (a flush asked for while one runs waits for
 * it), a final flush on close, failures to the `onError` option and
 * `probekit_exporter_errors_total{exporter}`, never to the application. The exporter is
 * registered with the lifecycle while open, so it flushes on `beforeExit` and is closed
 * by `shutdown()`.
 */
import type { Registry } from '../probes/probe.js';
import type { Counter } from '../probes/counter.js';
import { type Exporter, openExporter, withDeadline } from './shutdown.js';

/** What a periodic exporter is made with. */
export interface PeriodicOptions {
  /** Label value of the exporter in the self-metrics (`statsd`, `push`). */
  readonly name: string;
  /** The registry whose self-metrics count the exporter's failures. */
  readonly registry: Registry;
  /** Milliseconds between flushes; 0 flushes only when asked. */
  readonly intervalMs: number;
  /**
   * Spread of the flush times, as a fraction of the interval: the first flush comes at a
   * random point of the first interval and each later one after `intervalMs × (1 ± jitter/2)`,
   * so a fleet started together does not flush in lockstep. 0: a plain interval. @default 0
   */
  readonly jitter?: number;
  /** Source of randomness for the jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Called with every failure; an onError that throws is ignored. */
  readonly onError: ((error: Error) => void) | undefined;
  /** Sends what the registry holds now. May reject: the failure is reported, not thrown. */
  readonly send: () => Promise<void>;
  /** Releases what the exporter holds, after the final flush. May reject. */
  readonly release: () => Promise<void> | void;
  /** Called first thing in `close()`, before the final flush (an exporter whose last send differs). */
  readonly closing?: () => void;
  /**
   * Bound on `close()`'s final flush: after `ms`, `abort()` is called (the flush then
   * fails and is reported) and `close()` resolves. @default no bound of its own
   */
  readonly closeDeadline?: { readonly ms: number; readonly abort: () => void };
}

/** A running periodic exporter; see the module comment. */
export class PeriodicExporter implements Exporter {
  private readonly options: PeriodicOptions;
  private readonly errors: Counter<'exporter'>;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly unregister: () => void;
  private closing: Promise<void> | undefined;

  constructor(options: PeriodicOptions) {
    this.options = options;
    this.errors = options.registry
      .selfCounter('probekit_exporter_errors', 'Exporter failures (scrape, send, serialisation), by exporter', ['exporter'])
      .labels({ exporter: options.name });
    const jitter = options.jitter ?? 0;
    if (options.intervalMs > 0 && jitter === 0) {
      this.timer = setInterval(() => void this.run(), options.intervalMs);
      this.timer.unref();
    } else if (options.intervalMs > 0) {
      const random = options.random ?? Math.random;
      const next = (first: boolean): void => {
        const r = random();
        const delay = first ? options.intervalMs * r : options.intervalMs * (1 - jitter / 2 + jitter * r);
        this.timer = setTimeout(() => {
          void this.run();
          if (this.closing === undefined) next(false);
        }, delay);
        this.timer.unref();
      };
      next(true);
    }
    this.unregister = openExporter(this);
  }

  /** Reports a failure: onError and the self-metric. Never throws. */
  fail(error: unknown): void {
    try {
      this.errors.inc();
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // an onError that throws must not reach the application either
    }
  }

  /** Queues a flush behind the one running, if any. Always resolves. */
  private run(): Promise<void> {
    this.chain = this.chain.then(async () => {
      try {
        await this.options.send();
      } catch (err) {
        this.fail(err);
      }
    });
    return this.chain;
  }

  /** Sends what the registry holds now; after close() it only waits for the last flush. Always resolves. */
  flush(): Promise<void> {
    return this.closing === undefined ? this.run() : this.chain;
  }

  /** A final flush, then releases the exporter's resources and stops the timer. Idempotent; always resolves. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        this.options.closing?.();
      } catch (err) {
        this.fail(err);
      }
      if (this.timer !== undefined) clearTimeout(this.timer); // clears an interval too
      this.unregister();
      const final = this.run();
      const bound = this.options.closeDeadline;
      if (bound === undefined) await final;
      else {
        await withDeadline(final, bound.ms, () => {
          try {
            bound.abort();
          } catch (err) {
            this.fail(err);
          }
        });
      }
      try {
        await this.options.release();
      } catch (err) {
        this.fail(err);
      }
    })();
    return this.closing;
  }
}
