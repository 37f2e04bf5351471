import type { Family } from './family.js';
import type { LabelValues, MetricSource, MetricValue } from './types.js';

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
 * A value you set, or a function probekit calls at read time (a gauge), optionally labelled.
 *
 * @example
 * const users = probe.metric({ name: 'Realtime users', value: () => sessions.size });
 * const build = probe.metric({ name: 'build', value: '2026-11-21' });
 * const temp = probe.metric({ name: 'temperature', unit: 'celsius' });
 * temp.set(21.5);
 */
export class Metric<L extends string = string> {
  /**
   * @internal The value when it is a number; NaN otherwise (a number value is always
   * finite). Numbers live in a field that only ever holds doubles, so `set()` with a
   * changing float writes in place and allocates nothing.
   */
  _number = Number.NaN;
  /** @internal A value that is not a number: boolean, string, Date, or a value function; `undefined` for a number or nothing. */
  _input: MetricSource | undefined = undefined;
  /** @internal */ readonly _family: Family<Metric<L>>;
  /** Label values of this series; `{}` for the unlabelled series. */
  readonly labelValues: LabelValues<L>;

  /** @internal Created by `probe.metric()` and `labels()`, not directly. */
  constructor(family: Family<Metric<L>>, labelValues: LabelValues, value: MetricSource | undefined) {
    this._family = family;
    this.labelValues = labelValues as LabelValues<L>;
    if (value !== undefined) this._replace(value);
  }

  /**
   * Sets the value: a finite number, boolean, string, valid Date, or a function
   * returning one. Anything else (NaN, ±Infinity, `undefined`, objects) is dropped and
   * counted in `probekit_dropped_values_total`; the previous value stays.
   */
  set(value: MetricSource): void {
    // A finite number, inline: the common case is one branch, one store and one load
    // (`x - x` is 0 only for finite x); everything else goes to setOther().
    if (typeof value === 'number' && value - value === 0) {
      this._number = value;
      // A load and a branch the predictor always gets right: cheaper than a second store.
      if (this._input !== undefined) this._input = undefined;
      return;
    }
    this.setOther(value);
  }

  /** Off the fast path: NaN and ±Infinity (dropped), functions, and the other value types. */
  private setOther(value: MetricSource): void {
    if (typeof value === 'function') {
      this._replace(value);
      return;
    }
    const checked = typeof value === 'number' ? undefined : metricValue(value);
    if (checked === undefined) this._family.drop();
    else this._replace(checked);
  }

  /** @internal Takes a checked value or a function (registration, hot reload). */
  _replace(value: MetricSource): void {
    if (typeof value === 'number') {
      this._number = value;
      this._input = undefined;
    } else {
      this._input = value;
      this._number = Number.NaN;
    }
  }

  /** @internal True once a value or function was given. */
  get _isSet(): boolean {
    return this._input !== undefined || this._number === this._number;
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

  /** The child series for these label values (cached): hold it to make `set()` as cheap as an unlabelled one. */
  labels(values: LabelValues<L>): Metric<L> {
    return this._family.child(values);
  }

  /**
   * @internal Reads the value, reporting failures instead of throwing: a value function
   * that throws (anything), returns a Promise or thenable (its rejection is handled
   * here, so it cannot crash the process) or returns something unusable is counted in
   * `probekit_failed_reads_total` and read as failed.
   */
  read(): MetricReading {
    if (this._input === undefined && this._number === this._number) return { ok: true, value: this._number };
    const raw = this.call();
    if (!raw.ok || metricValue(raw.value) !== undefined || !raw.called) return raw as MetricReading;
    return this.unusable(raw.value);
  }

  /**
   * @internal Like {@link Metric.read}, for the unlabelled series of a labelled metric: its
   * value function may also return `[labels, value]` pairs, handed back unchecked
   * (`pairs`) for the read path to check one by one.
   */
  readMany(): MetricReading | { readonly ok: true; readonly pairs: Iterable<unknown> } {
    if (this._input === undefined && this._number === this._number) return { ok: true, value: this._number };
    const raw = this.call();
    if (!raw.ok || !raw.called) return raw as MetricReading;
    if (metricValue(raw.value) !== undefined) return { ok: true, value: metricValue(raw.value) as MetricValue };
    const out = raw.value;
    if (typeof out === 'object' && out !== null && !isThenable(out) && isIterable(out)) return { ok: true, pairs: out as Iterable<unknown> };
    return this.unusable(out);
  }

  /** Calls a value function (or returns the stored value), catching what it throws. */
  private call(): { ok: true; value: unknown; called: boolean } | { ok: false; error: string } {
    const input = this._input;
    if (typeof input !== 'function') {
      return input === undefined ? { ok: false, error: 'no value set' } : { ok: true, value: input, called: false };
    }
    try {
      const out: unknown = input();
      const value = metricValue(out);
      return { ok: true, value: value ?? out, called: true };
    } catch (err) {
      this._family.failedRead();
      return { ok: false, error: `value function threw: ${shown(err)}` };
    }
  }

  /** Counts and describes a value function result that is not a metric value. */
  private unusable(out: unknown): MetricReading {
    this._family.failedRead();
    if ((typeof out === 'object' && out !== null) || typeof out === 'function') {
      silence(out as object);
      if (isThenable(out as object)) return { ok: false, error: 'value function returned a Promise; value functions must return a value synchronously' };
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

function isIterable(value: object): boolean {
  try {
    return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
  } catch {
    return false;
  }
}
