/**
 * Time for the windowed probes (meters, histogram windows).
 *
 * Reading the wall clock costs more than the rest of `mark()` or `observe()`, so the
 * recording paths never read it. Each registry owns a {@link TimeSource} whose `tick`
 * is bumped by one process-wide, `unref()`ed interval; a recording call compares the
 * tick it saw last with the current one and only reads the clock when it changed.
 *
 * With an injected clock (or after `close()`), `tick` is `NaN`: `NaN !== seen` always
 * holds, so every recording call reads the clock and windows follow it exactly, at no
 * cost to the real-time fast path.
 */

import type { Clock } from './types.js';

export type { Clock } from './types.js';

const MIN_PERIOD_MS = 5;
const MAX_PERIOD_MS = 100;

/** One registry's view of time; see the module comment. */
export class TimeSource {
  /** Bumped by the shared ticker while live; `NaN` when every read must consult the clock. */
  tick: number;
  /** Milliseconds, used for window arithmetic. */
  readonly now: Clock;
  /** Milliseconds with sub-millisecond resolution, from an arbitrary origin; only differences are meaningful (timers). */
  readonly precise: Clock;
  /** Smallest window step (ms) among this source's users; decides the tick period. */
  finestStepMs = Infinity;

  constructor(clock?: Clock) {
    if (clock === undefined) {
      this.tick = 0;
      this.now = Date.now;
      this.precise = () => performance.now();
    } else {
      this.tick = Number.NaN;
      this.now = clock;
      this.precise = clock;
    }
  }

  /** True when the shared ticker drives this source (real time, not closed). */
  get live(): boolean {
    return ticker.has(this);
  }

  /**
   * Declares that a probe with window steps of `stepMs` uses this source: starts the
   * shared ticker for a real-time source, fine enough for the finest step.
   */
  use(stepMs: number): void {
    if (Number.isNaN(this.tick) && !ticker.has(this)) return; // injected clock or closed
    if (stepMs < this.finestStepMs) this.finestStepMs = stepMs;
    ticker.add(this);
  }

  /** Leaves the ticker for good: later reads consult the clock on every call. */
  close(): void {
    ticker.delete(this);
    this.tick = Number.NaN;
  }
}

/**
 * The process-wide ticker: one interval, `unref()`ed, stopped when no source uses it.
 * Its period is a tenth of the finest window step in use, clamped to 5–100 ms, so an
 * event is attributed to its window step at most a tenth of a step late.
 */
class Ticker {
  private readonly sources = new Set<TimeSource>();
  private timer: NodeJS.Timeout | undefined;
  private period = 0;

  has(source: TimeSource): boolean {
    return this.sources.has(source);
  }

  add(source: TimeSource): void {
    this.sources.add(source);
    this.schedule();
  }

  delete(source: TimeSource): void {
    if (this.sources.delete(source)) this.schedule();
  }

  /** Period currently in force, in ms (0 when stopped); for tests and diagnostics. */
  get periodMs(): number {
    return this.period;
  }

  private schedule(): void {
    let finest = Infinity;
    for (const source of this.sources) if (source.finestStepMs < finest) finest = source.finestStepMs;
    const period = this.sources.size === 0 ? 0 : Math.min(MAX_PERIOD_MS, Math.max(MIN_PERIOD_MS, Math.floor(finest / 10)));
    if (period === this.period) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.period = period;
    if (period === 0) return;
    this.timer = setInterval(() => {
      for (const source of this.sources) source.tick++;
    }, period);
    this.timer.unref();
  }
}

/** The single ticker of this module instance. */
export const ticker = new Ticker();

/** Non-negative remainder: the ring slot of window step `step` (a clock before the epoch gives negative steps). */
export function ringIndex(step: number, size: number): number {
  const r = step % size;
  return r < 0 ? r + size : r;
}
