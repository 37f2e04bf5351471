import type { Family, LabelValues } from './family.js';

/**
 * A count of things. Like pmx's counter it goes up and down (`inc`/`dec`); created
 * with `monotonic: true` it only goes up, and exporters carry it as a true counter.
 *
 * @example
 * const active = probe.counter({ name: 'Active requests' });
 * active.inc(); // request starts
 * active.dec(); // request ends
 * const served = probe.counter({ name: 'requests_served', monotonic: true, labels: ['method'] });
 * served.labels({ method: 'GET' }).inc();
 */
export class Counter<L extends string = string> {
  /** @internal */ _value = 0;
  /** @internal How many times reset() was called: lets exporters that send deltas see a reset. */
  _resets = 0;
  /** @internal Lowest accepted increment: 0 when monotonic, -Infinity otherwise. */
  readonly _floor: number;
  /** @internal */ readonly _family: Family<Counter<L>>;
  /** Label values of this series; `{}` for the unlabelled series. */
  readonly labelValues: LabelValues<L>;

  /** @internal Created by `probe.counter()` and `labels()`, not directly. */
  constructor(family: Family<Counter<L>>, labelValues: LabelValues, monotonic: boolean) {
    this._family = family;
    this._floor = monotonic ? 0 : -Infinity;
    this.labelValues = labelValues as LabelValues<L>;
  }

  /**
   * Adds `n` (default 1). NaN, ±Infinity, a non-number, a negative `n` on a monotonic
   * counter, or an `n` that would take the count past `Number.MAX_VALUE` is dropped and
   * counted in `probekit_dropped_values_total`.
   */
  inc(n = 1): void {
    // `n - n !== 0` rejects NaN and both infinities in one comparison.
    if (typeof n !== 'number' || n - n !== 0 || n < this._floor) {
      this._family.drop();
      return;
    }
    // With n finite, only an overflow makes the sum infinite (this form measured fastest).
    const v = this._value + n;
    if (v === Infinity || v === -Infinity) {
      this._family.drop();
      return;
    }
    this._value = v;
  }

  /**
   * Subtracts `n` (default 1). On a monotonic counter (whose type has no `dec()`) the call
   * is dropped, counted and warned about once: a `dec()` in a rarely taken branch must
   * not crash production. Bad values are dropped and counted.
   */
  dec(n = 1): void {
    if (this._floor === 0) {
      this._family.decOnMonotonic();
      return;
    }
    if (typeof n !== 'number' || n - n !== 0) {
      this._family.drop();
      return;
    }
    const v = this._value - n;
    if (v === Infinity || v === -Infinity) {
      this._family.drop();
      return;
    }
    this._value = v;
  }

  /** Sets the count back to 0 (exporters see a counter reset, as after a restart). */
  reset(): void {
    this._value = 0;
    this._resets++;
  }

  /** The current count. */
  val(): number {
    return this._value;
  }

  /** The child series for these label values (cached): hold it to make `inc()` as cheap as an unlabelled one. */
  labels(values: LabelValues<L>): Counter<L> {
    return this._family.child(values);
  }
}
