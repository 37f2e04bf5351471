import type { Family } from './family.js';
import type { MetricInput, MetricValue } from './types.js';

export type { MetricInput, MetricValue } from './types.js';

/** Outcome of reading a metric: its value, or why it could not be read. */
export type MetricReading = { readonly ok: true; readonly value: MetricValue } | { readonly ok: false; readonly error: string };

function usable(value: unknown): value is MetricValue {
  switch (typeof value) {
    case 'number':
      return value - value === 0;
    case 'boolean':
    case 'string':
      return true;
    case 'object':
      return value instanceof Date && !Number.isNaN(value.getTime());
    default:
      return false;
  }
}

/**
 * A value you set, or a function probekit calls at read time (a gauge).
 *
 * @example
 * const users = probe.metric({ name: 'Realtime users', value: () => sessions.size });
 * const build = probe.metric({ name: 'build', value: '2026-11-21' });
 * const temp = probe.metric({ name: 'temperature', unit: 'celsius' });
 * temp.set(21.5);
 */
export class Metric {
  /** @internal */ _value: MetricInput | undefined;
  /** @internal */ readonly _family: Family<Metric>;

  /** @internal Created by `probe.metric()`, not directly. */
  constructor(family: Family<Metric>, value: MetricInput | undefined) {
    this._family = family;
    this._value = value;
  }

  /**
   * Sets the value: a finite number, boolean, string, valid Date, or a function
   * returning one. Anything else (NaN, ±Infinity, `undefined`, objects) is dropped and
   * counted in `probekit_dropped_values_total`; the previous value stays.
   */
  set(value: MetricInput): void {
    if (typeof value === 'number') {
      if (value - value === 0) this._value = value;
      else this._family.drop();
      return;
    }
    if (typeof value === 'function' || usable(value)) this._value = value;
    else this._family.drop();
  }

  /**
   * The current value (a value function is called now). `undefined` when nothing was
   * set or the function threw or returned something unusable; such a failure is
   * counted in `probekit_failed_reads_total`.
   */
  val(): MetricValue | undefined {
    const read = this.read();
    return read.ok ? read.value : undefined;
  }

  /** @internal Reads the value, reporting failures instead of throwing. */
  read(): MetricReading {
    const input = this._value;
    if (typeof input !== 'function') {
      return input === undefined ? { ok: false, error: 'no value set' } : { ok: true, value: input };
    }
    let out: unknown;
    try {
      out = input();
    } catch (err) {
      this._family.failedRead();
      return { ok: false, error: `value function threw: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (usable(out)) return { ok: true, value: out };
    this._family.failedRead();
    let shown: string;
    try {
      shown = typeof out === 'object' && out !== null ? Object.prototype.toString.call(out) : String(out);
    } catch {
      shown = typeof out;
    }
    return { ok: false, error: `value function returned an unusable value: ${shown}` };
  }
}
