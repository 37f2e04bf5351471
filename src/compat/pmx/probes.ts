/**
 * pmx's four probes on probekit's: each facade probe is a probekit probe in the given
 * registry (so Prometheus, StatsD and push carry it) plus what PM2's `axm:monitor`
 * message needs (value, unit, type, agg_type, historic). Option names are pmx 1.6's and
 * @pm2/io's; options probekit does not model are accepted (see {@link PMX_ACCEPTED}).
 */
import type { Registry } from '../../probes/probe.js';
import type { Counter, Histogram, Meter, Metric, MetricValue } from '../../probes/types.js';
import { is, typeError } from '../../util/validate.js';
import { isoDateTime } from './date.js';

/** How PM2 Plus aggregates a probe across processes (pmx's `agg_type`). */
export type AggType = 'avg' | 'min' | 'max' | 'sum' | 'none';

/** Which figure of a histogram pmx reports (pmx's `measurement`). */
export type Measurement = 'min' | 'max' | 'sum' | 'count' | 'variance' | 'mean' | 'stddev' | 'median' | 'p75' | 'p95' | 'p99' | 'p999';

const AGG_TYPES: readonly AggType[] = ['avg', 'min', 'max', 'sum', 'none'];
const MEASUREMENTS: readonly Measurement[] = ['min', 'max', 'sum', 'count', 'variance', 'mean', 'stddev', 'median', 'p75', 'p95', 'p99', 'p999'];

/**
 * Options pmx or @pm2/io know and probekit accepts without modelling them: `alert`
 * (PM2 Plus alerting), `historic` (sent to PM2 as given), `agg_type` (sent to PM2), `type`
 * and `id` (the probe's type id sent to PM2), `value` on the kinds that compute their
 * own, `seconds` (pmx's old name of `samples`), and `warning`/`tickInterval` of old
 * meters.
 */
export const PMX_ACCEPTED = ['alert', 'historic', 'agg_type', 'type', 'id', 'value', 'seconds', 'warning', 'tickInterval'] as const;

/** Options of the facade's `metric()` (pmx `probe.metric`, @pm2/io `metric`). */
export interface PmxMetricOptions {
  /** The probe's name, free text (`'Last call'`). */
  readonly name: string;
  /** A value, or a function called when the metric is read. A full ISO 8601 date-time string is exported to Prometheus as a timestamp. */
  readonly value?: unknown;
  /** Unit, free text, shown by PM2 and in the Prometheus HELP. */
  readonly unit?: string;
  /** Aggregation for PM2 Plus, sent as `agg_type`. @default 'avg' */
  readonly agg_type?: AggType;
  /** Sent to PM2 as given; probekit has no alerting. */
  readonly alert?: unknown;
  /** Sent to PM2. @default true */
  readonly historic?: boolean;
  /** pmx's type id sent to PM2 (`id` is @pm2/io's name for it). @default the name */
  readonly type?: string;
  /** @pm2/io's name for `type`. */
  readonly id?: string;
  /** Any other option: accepted, warned about once (`PROBEKIT_PMX_UNKNOWN_OPTION`). */
  readonly [other: string]: unknown;
}

/** Options of the facade's `counter()`. */
export type PmxCounterOptions = Omit<PmxMetricOptions, 'value'>;

/** Options of the facade's `meter()`. */
export interface PmxMeterOptions extends PmxCounterOptions {
  /** Rate unit in seconds (60 = per minute). @default 1 */
  readonly samples?: number;
  /** Window in seconds, at least `samples`. @default 60 */
  readonly timeframe?: number;
}

/** Options of the facade's `histogram()`. */
export interface PmxHistogramOptions extends PmxCounterOptions {
  /** The figure sent to PM2. @default 'mean' */
  readonly measurement?: Measurement;
}

/** pmx's metric: `set()` and `val()`. */
export interface PmxMetric {
  /** Sets the value (or a value function). Never throws; an unusable value is dropped and counted. */
  set(value: unknown): void;
  /** The value as set (a value function is called now); `undefined` when unset or failing. */
  val(): unknown;
}

/** pmx's histogram: `update()` records, `val()` is the `measurement`. */
export interface PmxHistogram {
  /** Records one value. Never throws. */
  update(value: number): void;
  /** Records one value (probekit's name). Never throws. */
  observe(value: number): void;
  /** The `measurement` now; `null` when the window is empty. */
  val(): number | null;
}

/** One facade probe as the PM2 monitor reads it. */
export interface MonitoredProbe {
  readonly name: string;
  readonly kind: 'metric' | 'counter' | 'meter' | 'histogram';
  readonly type: string;
  readonly unit: string | undefined;
  readonly aggType: AggType;
  readonly historic: unknown;
  /** The value PM2 gets now, or `undefined` to leave the probe out this time. Never throws. */
  value(): number | string | boolean | undefined;
}

const warned = new Set<string>();

/** Warns once per process for each option name neither pmx, @pm2/io nor probekit knows. */
function warnUnknown(fn: string, key: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(`probekit: pmx ${fn} got the option "${key}", which neither pmx, @pm2/io nor probekit knows; it is ignored`, {
    code: 'PROBEKIT_PMX_UNKNOWN_OPTION',
  });
}

interface Common {
  readonly name: string;
  readonly unit: string | undefined;
  readonly aggType: AggType;
  readonly historic: unknown;
  readonly type: string;
}

/** Checks what every facade probe takes; unknown options are warned about, never thrown. */
function common(fn: string, input: unknown, own: readonly string[]): Common & { readonly raw: Record<string, unknown> } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw typeError(`${fn} options`, 'an options object', input);
  const raw = input as Record<string, unknown>;
  const known = ['name', 'unit', ...PMX_ACCEPTED, ...own];
  for (const key of Object.keys(raw)) if (!known.includes(key)) warnUnknown(fn, key);
  const name = is.nonEmpty(`${fn} option "name"`, raw.name);
  const unit = raw.unit === undefined ? undefined : is.string(`${fn} option "unit"`, raw.unit);
  const aggType = raw.agg_type === undefined ? 'avg' : is.oneOf(AGG_TYPES)(`${fn} option "agg_type"`, raw.agg_type);
  const type = raw.type ?? raw.id;
  return {
    raw,
    name,
    unit: unit === '' ? undefined : unit,
    aggType,
    historic: raw.historic ?? true,
    type: typeof type === 'string' && type !== '' ? type : name,
  };
}

/** A finite number rounded to two decimals, as pmx sent rates and histogram figures. */
function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** What PM2 can show of a value: numbers, strings, booleans; a Date as its ISO string. */
function forPm2(value: unknown): number | string | boolean | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? value : undefined;
    case 'boolean':
      return value;
    case 'string':
      return value.length > 1024 ? `${value.slice(0, 1021)}...` : value;
    case 'object':
      try {
        return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : undefined;
      } catch {
        return undefined;
      }
    default:
      return undefined;
  }
}

/** The value probekit's metric keeps: a full ISO date-time string becomes its Date. */
function forProbekit(value: unknown): unknown {
  return typeof value === 'string' ? (isoDateTime(value) ?? value) : value;
}

/** pmx's `probe.metric()`: a probekit metric that keeps the value as given for PM2. */
export function pmxMetric(registry: Registry, options: unknown): { readonly probe: PmxMetric; readonly monitored: MonitoredProbe } {
  const c = common('metric()', options, []);
  const core: Metric = registry.metric({ name: c.name, ...(c.unit === undefined ? {} : { unit: c.unit }) });
  let raw: unknown;
  const read = (): unknown => {
    if (typeof raw !== 'function') return raw;
    try {
      return (raw as () => unknown)();
    } catch {
      return undefined;
    }
  };
  const probe: PmxMetric = {
    set(value) {
      raw = value;
      if (typeof value === 'function') {
        const fn = value as () => unknown;
        // Read by probekit's read path, which counts a throw or an unusable value.
        core.set(() => forProbekit(fn()) as MetricValue);
      } else {
        core.set(forProbekit(value) as MetricValue);
      }
    },
    val: read,
  };
  if (c.raw.value !== undefined) probe.set(c.raw.value);
  return { probe, monitored: { ...c, kind: 'metric', value: () => forPm2(read()) } };
}

/** pmx's `probe.counter()`: probekit's up-and-down counter. */
export function pmxCounter(registry: Registry, options: unknown): { readonly probe: Counter; readonly monitored: MonitoredProbe } {
  const c = common('counter()', options, []);
  const probe = registry.counter({ name: c.name, ...(c.unit === undefined ? {} : { unit: c.unit }) });
  return { probe, monitored: { ...c, kind: 'counter', value: () => probe.val() } };
}

/** pmx's `probe.meter()`: probekit's exact sliding window, with pmx's `samples` and `timeframe`. */
export function pmxMeter(registry: Registry, options: unknown): { readonly probe: Meter; readonly monitored: MonitoredProbe } {
  const c = common('meter()', options, ['samples', 'timeframe']);
  const samples = c.raw.samples ?? c.raw.seconds;
  const probe = registry.meter({
    name: c.name,
    ...(c.unit === undefined ? {} : { unit: c.unit }),
    ...(samples === undefined ? {} : { samples: samples as number }),
    ...(c.raw.timeframe === undefined ? {} : { timeframe: c.raw.timeframe as number }),
  });
  return { probe, monitored: { ...c, kind: 'meter', value: () => round2(probe.val()) } };
}

/** pmx's `probe.histogram()`: probekit's histogram, reporting pmx's `measurement`. */
export function pmxHistogram(registry: Registry, options: unknown): { readonly probe: PmxHistogram; readonly monitored: MonitoredProbe } {
  const c = common('histogram()', options, ['measurement']);
  const measurement = c.raw.measurement === undefined ? 'mean' : is.oneOf(MEASUREMENTS)('histogram() option "measurement"', c.raw.measurement);
  const core: Histogram = registry.histogram({ name: c.name, ...(c.unit === undefined ? {} : { unit: c.unit }) });
  // variance and stddev are not in probekit's sketch: a running (Welford) accumulator over
  // every value since creation, kept only when asked for.
  const spread = measurement === 'variance' || measurement === 'stddev';
  let n = 0;
  let mean = 0;
  let m2 = 0;
  const record = (value: number): void => {
    core.observe(value);
    if (spread && typeof value === 'number' && Number.isFinite(value)) {
      n++;
      const delta = value - mean;
      mean += delta / n;
      m2 += delta * (value - mean);
    }
  };
  const val = (): number | null => {
    if (spread) {
      if (n === 0) return null;
      const variance = m2 / n;
      return measurement === 'variance' ? variance : Math.sqrt(variance);
    }
    const stats = core.val() as unknown as Record<string, number | null>;
    const key = measurement === 'median' ? 'p50' : measurement;
    const out = stats[key];
    return typeof out === 'number' ? out : null;
  };
  const probe: PmxHistogram = { update: record, observe: record, val };
  return {
    probe,
    monitored: {
      ...c,
      kind: 'histogram',
      value: () => {
        const v = val();
        return v === null ? undefined : round2(v);
      },
    },
  };
}
