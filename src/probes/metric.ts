import type { Family } from './family.js';
import type { MetricInput, MetricValue } from './types.js';

export type { MetricInput, MetricValue } from './types.js';

/** Outcome of reading a metric: its value, or why it could not be read. */
export type MetricReading = { readonly ok: true; readonly value: MetricValue } | { readonly ok: false; readonly error: string };

/**
 * `value` as a metric value, or `undefined` when it is not one. Never throws, whatever
 * `value` is (a Proxy whose traps throw, a null-prototype object, a Date subclass with a
 * hostile getTime): a Date comes back as a new plain Date, so nothing read later can
 * behave differently from what was checked here.
 */
export function metricValue(value: unknown): MetricValue | undefined {
  switch (typeof value) {
    case 'number':
      return value - value === 0 ? value : undefined;
    case 'boolean':
    case 'string':
      return value;
    case 'object':
      try {
        if (!(value instanceof Date)) return undefined;
        const time = Date.prototype.getTime.call(value);
        return Number.isNaN(time) ? undefined : new Date(time);
      } catch {
        return undefined;
      }
    default:
      return undefined;
  }
}

/** Marks a thenable's rejection as handled, so a value function returning a rejecting Promise cannot crash the process. */
function silence(value: object): void {
  try {
    const then = (value as { then?: unknown }).then;
    if (typeof then === 'function') then.call(value, undefined, () => {});
  } catch {
    // A hostile thenable: nothing more to do with it.
  }
}

/** A thrown value or returned value as short text, whatever it is. */
function shown(value: unknown): string {
  try {
    if (value instanceof Error) return String(value.message);
    if (typeof value === 'object' && value !== null) return Object.prototype.toString.call(value);
    return String(value);
  } catch {
    return typeof value;
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
    // Numbers first, inline: the common case takes no call.
    if (typeof value === 'number') {
      if (value - value === 0) this._value = value;
      else this._family.drop();
      return;
    }
    if (typeof value === 'function') {
      this._value = value;
      return;
    }
    const checked = metricValue(value);
    if (checked === undefined) this._family.drop();
    else this._value = checked;
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

  /**
   * @internal Reads the value, reporting failures instead of throwing: a value function
   * that throws (anything), returns a Promise or thenable (its rejection is handled
   * here, so it cannot crash the process) or returns something unusable is counted in
   * `probekit_failed_reads_total` and read as failed.
   */
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
      return { ok: false, error: `value function threw: ${shown(err)}` };
    }
    const value = metricValue(out);
    if (value !== undefined) return { ok: true, value };
    this._family.failedRead();
    if ((typeof out === 'object' && out !== null) || typeof out === 'function') {
      silence(out);
      if (isThenable(out)) return { ok: false, error: 'value function returned a Promise; value functions must return a value synchronously' };
    }
    return { ok: false, error: `value function returned an unusable value: ${shown(out)}` };
  }
}

function isThenable(value: object): boolean {
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return false;
  }
}
