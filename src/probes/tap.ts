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
}

const FIRST = 256;

/** The raw observations of one series since the last drain. */
export class Tap {
  values: Float64Array;
  length = 0;
  /** Values dropped because the tap was full, since the last drain. */
  dropped = 0;
  readonly max: number;
  readonly rate: number;

  constructor(config: TapConfig) {
    this.max = config.max;
    this.rate = config.rate;
    this.values = new Float64Array(Math.min(FIRST, config.max));
  }

  add(v: number): void {
    if (this.rate < 1 && Math.random() >= this.rate) return;
    if (this.length === this.values.length) {
      if (this.length >= this.max) {
        this.dropped++;
        return;
      }
      const next = new Float64Array(Math.min(this.max, this.values.length * 2));
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = v;
  }

  /** The values since the last drain (a copy), and empties the tap. */
  drain(): { values: Float64Array; dropped: number } {
    const out = { values: this.values.slice(0, this.length), dropped: this.dropped };
    this.length = 0;
    this.dropped = 0;
    return out;
  }
}
