/**
 * A tap collects a histogram's raw observations between two exporter flushes, for
 * exporters that send every value (StatsD timers). Histograms carry none unless an
 * exporter asks: then `observe()` pays one more append.
 */

/** What an exporter asks of the taps of a histogram family. */
export interface TapConfig {
  /** Most values held per series between two drains; beyond it new values are dropped and counted. */
  readonly max: number;
  /** Fraction of observations kept (client-side sampling), in (0, 1]. */
  readonly rate: number;
  /** Values all taps of the exporter may still hold, shared: it bounds the exporter's memory, not one series'. */
  readonly budget: { left: number };
}

const FIRST = 256;

/** The raw observations of one series since the last drain. */
export class Tap {
  values: Float64Array;
  length = 0;
  /** Values dropped because the tap or the exporter's budget was full, since the last take. */
  dropped = 0;
  readonly max: number;
  readonly rate: number;
  readonly budget: { left: number };

  constructor(config: TapConfig) {
    this.max = config.max;
    this.rate = config.rate;
    this.budget = config.budget;
    this.values = new Float64Array(Math.min(FIRST, config.max));
  }

  add(v: number): void {
    if (this.rate < 1 && Math.random() >= this.rate) return;
    const budget = this.budget;
    if (this.length >= this.max || budget.left <= 0) {
      this.dropped++;
      return;
    }
    if (this.length === this.values.length) {
      const next = new Float64Array(Math.min(this.max, this.values.length * 2));
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = v;
    budget.left--;
  }

  /**
   * Hands over the values since the last take (the array itself, no copy) and starts a new
   * one. The values stay counted against the budget until {@link Tap.release}.
   */
  take(): { values: Float64Array; length: number; dropped: number } {
    const out = { values: this.values, length: this.length, dropped: this.dropped };
    this.values = new Float64Array(Math.min(FIRST, this.max));
    this.length = 0;
    this.dropped = 0;
    return out;
  }

  /** Returns `n` taken values to the budget once they were written out. */
  release(n: number): void {
    this.budget.left += n;
  }
}
