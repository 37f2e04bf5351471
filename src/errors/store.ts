/**
 * `notify()` and the error store: normalised records, listeners, a bounded ring of
 * recent errors deduplicated by fingerprint, and the error metrics exporters carry.
 */
import type { Counter } from '../probes/counter.js';
import type { Meter } from '../probes/meter.js';
import { defaultRegistry, type Registry, registryOption } from '../probes/probe.js';
import type { Probe } from '../probes/types.js';
import { invalid, is, option, parseOptions, typeError } from '../util/validate.js';
import { storage, thrownFrom } from './frame.js';
import { shared } from '../util/shared.js';
import { hasBrand } from '../util/brand.js';
import { type ErrorRecord, mergeContext, toRecord } from './record.js';

/** Called with every record the store takes. */
export type ErrorListener = (record: ErrorRecord) => void;

/** One fingerprint's entry in the ring of recent errors. */
export interface ErrorGroup {
  readonly fingerprint: string;
  /** Occurrences since the group entered the ring. */
  readonly count: number;
  /** Epoch ms of the first and the latest occurrence. */
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** The latest occurrence. */
  readonly last: ErrorRecord;
}

/** What `errors.snapshot()` returns. */
export interface ErrorsSnapshot {
  /** Records taken since the store was created (or cleared). */
  readonly total: number;
  /** Distinct fingerprints, most recently seen first; at most `capacity`. */
  readonly recent: readonly ErrorGroup[];
}

/** Options of {@link createErrorStore}. */
export interface ErrorStoreOptions {
  /** Registry for the error metrics. @default the default `probe` */
  readonly probe?: Probe;
  /** Distinct fingerprints kept in the ring; the least recently seen is evicted. @default 100 */
  readonly capacity?: number;
}

interface MutableGroup {
  fingerprint: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  last: ErrorRecord;
}

const STORE_OPTIONS = {
  probe: registryOption,
  capacity: option(is.integer(1), 100),
};

/**
 * Where notified and captured errors go. `errors` is the process-wide one that
 * `notify()`, process capture and domains use; `createErrorStore()` makes isolated ones.
 */
/** Brand of an error store, shared by every installed copy of probekit. */
const STORE_BRAND: unique symbol = Symbol.for('probekit.errorStore') as never;

/** True for an error store made by any installed copy of probekit (`instanceof` would reject another copy's). */
export function isErrorStore(value: unknown): value is ErrorStore {
  return hasBrand(value, STORE_BRAND);
}

/** The option check for a `store` option. */
export const storeOption = option((where, v): ErrorStore => {
  if (!isErrorStore(v)) throw typeError(where, 'an ErrorStore from createErrorStore()', v);
  return v;
});

export class ErrorStore {
  /** @internal Brand (see isErrorStore). */
  readonly [STORE_BRAND] = true;
  /** Distinct fingerprints kept. */
  readonly capacity: number;
  private readonly probe: Registry;
  private readonly groups = new Map<string, MutableGroup>();
  private readonly listeners = new Set<ErrorListener>();
  private total = 0;
  private readonly byName: Counter<'name'>;
  private readonly perMinute: Meter<never>;
  private startTicker: (() => void) | undefined;
  private readonly reentrant: Counter<never>;
  private listenerFailures: Counter<never> | undefined;
  /** Listeners running now: a `notify()` from inside one is re-entry. */
  private dispatching = 0;

  constructor(options: ErrorStoreOptions = {}) {
    const opts = parseOptions('createErrorStore()', STORE_OPTIONS, options);
    this.probe = opts.probe ?? defaultRegistry;
    this.capacity = opts.capacity;
    // Registered now, in the reserved namespace, so no application probe can take their
    // names and nothing about them can fail later, in the middle of recording an error.
    this.byName = this.probe.selfCounter('probekit_errors_notified', 'Errors notified or captured, by error name', ['name'], true);
    const perMinute = this.probe.selfMeter('probekit_errors_per_minute', 'Errors notified or captured in the last minute', 60, 60);
    this.perMinute = perMinute.meter;
    this.startTicker = perMinute.start;
    this.reentrant = this.probe.selfCounter('probekit_errors_reentrant', 'notify() calls made from inside an onError listener, ignored');
  }

  /**
   * Records anything that was thrown or went wrong: an Error (any subclass, an
   * AggregateError, a `cause` chain), a string, any object, `null`, `undefined`, a
   * Symbol. Never throws, and always returns the record. The record carries the active
   * request context merged with `context`.
   *
   * A `notify()` made from inside an `onError` listener is re-entry (a listener that
   * reports its own failures would loop): it returns the record without storing or
   * dispatching it and counts it in `probekit_errors_reentrant_total`.
   */
  notify(error: unknown, context?: Record<string, unknown>, source = 'notify'): ErrorRecord {
    let merged: Record<string, unknown> | undefined;
    try {
      const active = storage.getStore()?.store ?? (error !== null && typeof error === 'object' ? thrownFrom.get(error) : undefined);
      merged = mergeContext(active, context);
    } catch {
      merged = undefined;
    }
    const record = toRecord(error, { context: merged, source, time: this.probe.time.now() });
    if (this.dispatching > 0) {
      this.reentrant.inc();
      return record;
    }
    return this.take(record);
  }

  /** @internal Takes a record made elsewhere (a child process's). Never throws. */
  take(record: ErrorRecord): ErrorRecord {
    // The ring first: nothing after it (metrics, listeners) can keep a record out of it.
    try {
      this.total++;
      let group = this.groups.get(record.fingerprint);
      if (group === undefined) {
        group = { fingerprint: record.fingerprint, count: 0, firstSeen: record.time, lastSeen: record.time, last: record };
      } else {
        this.groups.delete(record.fingerprint); // re-inserted below: Map order is recency order
      }
      group.count++;
      group.lastSeen = record.time;
      group.last = record;
      this.groups.set(record.fingerprint, group);
      if (this.groups.size > this.capacity) {
        const oldest = this.groups.keys().next().value;
        if (oldest !== undefined) this.groups.delete(oldest);
      }
    } catch {
      // bookkeeping must never turn one error into two
    }
    this.byName.labels({ name: record.name }).inc();
    if (this.startTicker !== undefined) {
      this.startTicker();
      this.startTicker = undefined;
    }
    this.perMinute.mark();
    this.dispatching++;
    try {
      for (const listener of this.listeners) {
        try {
          listener(record);
        } catch {
          this.listenerFailures ??= this.probe.selfCounter('probekit_error_listener_failures', 'onError listeners that threw');
          this.listenerFailures.inc();
        }
      }
    } finally {
      this.dispatching--;
    }
    return record;
  }

  /**
   * Subscribes to every record; returns the function that unsubscribes. A listener
   * that throws is isolated (the others still run) and counted in
   * `probekit_error_listener_failures_total`, never rethrown.
   */
  onError(listener: ErrorListener): () => void {
    if (typeof listener !== 'function') throw invalid(`probekit: onError() argument must be a function, got ${typeof listener}`, 'PROBEKIT_INVALID_ARGUMENT');
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The ring of recent errors, most recently seen first. */
  snapshot(): ErrorsSnapshot {
    const recent = [...this.groups.values()].reverse().map((g) => ({ ...g }));
    return { total: this.total, recent };
  }

  /** Empties the ring and the total (the metrics keep counting, as counters do). */
  clear(): void {
    this.groups.clear();
    this.total = 0;
  }
}

/** Creates an isolated error store; see {@link ErrorStoreOptions}. */
export function createErrorStore(options: ErrorStoreOptions = {}): ErrorStore {
  return new ErrorStore(options);
}

/** The process-wide error store: what `notify()`, process capture and child forwarding feed. */
export const errors: ErrorStore = shared('errors', () => createErrorStore());

/**
 * Records an error in the process-wide store; see {@link ErrorStore.notify}. Never throws.
 *
 * @example
 * import { notify } from 'probekit';
 * try { await charge(order); } catch (err) { notify(err, { orderId: order.id }); }
 */
export function notify(error: unknown, context?: Record<string, unknown>): ErrorRecord {
  return errors.notify(error, context);
}

/** Subscribes to the process-wide store; see {@link ErrorStore.onError}. */
export function onError(listener: ErrorListener): () => void {
  return errors.onError(listener);
}
