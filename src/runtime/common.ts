/**
 * What the runtime metric groups (process, event loop, GC, host) share: how each is made
 * and stopped, and the two ways a reading is kept safe. A value function never throws into
 * the read path: a single value keeps its last good reading, a labelled one reports no
 * series; a cumulative source (CPU time, /proc counters) is sampled into a true counter.
 */
import type { MonotonicCounter, Probe } from '../probes/types.js';

/** Names of the runtime metrics: OpenTelemetry's runtime conventions, or prom-client's default metrics. */
export type RuntimeNaming = 'otel' | 'classic';

/** What every group is made with. */
export interface GroupContext {
  readonly registry: Probe;
  readonly naming: RuntimeNaming;
  /** Prepended to every family name, as written (`svc_`). */
  readonly prefix: string;
}

/** A running group of runtime metrics. */
export interface Group {
  /** Ends a window `elapsedMs` long: per-window figures are set, cumulative sources sampled. Never throws. */
  endWindow(elapsedMs: number): void;
  /** Brings its cumulative counters up to date, before each read of the registry. Never throws. */
  collect?(): void;
  /** Releases what the group holds (histogram, observer). Idempotent. */
  stop(): void;
}

/**
 * A value function for `read`: a read that throws or gives a non-finite number is skipped
 * and the previous reading stays, as with a dropped `set()`. `undefined` when the first
 * read already fails: the family is then not registered at all.
 */
export function lastGood(read: () => number): (() => number) | undefined {
  let last: number;
  try {
    last = read();
  } catch {
    return undefined;
  }
  if (!Number.isFinite(last)) return undefined;
  return () => {
    try {
      const v = read();
      if (Number.isFinite(v)) last = v;
    } catch {
      // skipped quietly: the previous reading stays
    }
    return last;
  };
}

/** A labelled value function that reports no series when `read` throws. */
export function quietPairs<T>(read: () => T[]): () => T[] {
  return () => {
    try {
      return read();
    } catch {
      return [];
    }
  };
}

/** The last cumulative value each counter series was advanced to (a sampler started again on one registry goes on from it). */
const seen = new WeakMap<object, number>();

/**
 * Advances a counter series to a source's cumulative value: adds what the source gained
 * since the last sample. A source that went backwards was reset (a device re-added, a
 * counter that wrapped): its whole new value is the gain, as Prometheus' `rate()` reads it.
 */
export function advance(series: MonotonicCounter<string>, cumulative: number): void {
  if (!Number.isFinite(cumulative) || cumulative < 0) return;
  const previous = seen.get(series) ?? 0;
  seen.set(series, cumulative);
  const gain = cumulative >= previous ? cumulative - previous : cumulative;
  if (gain > 0) series.inc(gain);
}

/** A watcher one registry shares among its callers: disposed when the last caller stops. */
export interface SharedWatch {
  users: number;
  dispose(): void;
}

/**
 * One more user of the watch `watches` holds for `registry` (made by `start` when there is
 * none): returns a handle whose idempotent `stop()` disposes the watch with its last user.
 */
export function useWatch<W extends SharedWatch>(watches: WeakMap<object, W>, registry: object, start: () => W): { stop(): void } {
  const watch = watches.get(registry) ?? start();
  watch.users++;
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (--watch.users === 0) watch.dispose();
    },
  };
}
