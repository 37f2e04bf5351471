/**
 * The published types of the probes: what `probe`, `createProbe()` and every probe they
 * return look like to an application. The classes that implement them (registry.ts,
 * counter.ts, …) never appear in the published declarations, so their private state cannot
 * leak into, or break, a consumer's type-check, and nothing here can be constructed
 * directly: probes come from a registry.
 *
 * This file holds types only and imports nothing but other type-only files.
 */

/** The four probe kinds. */
export type Kind = 'metric' | 'counter' | 'meter' | 'histogram';

/** Returns the current time in milliseconds. */
export type Clock = () => number;

/**
 * Label values of one series as probekit keeps and exports them: every value a string.
 * `labels()` takes {@link LabelInput}; `labelValues` reads back this.
 */
export type LabelValues<L extends string = string> = Readonly<Record<L, string>>;

/**
 * What `labels()` accepts for each declared label: a string, or a number, boolean or bigint,
 * which becomes its string form (`{ status: 200 }` and `{ status: '200' }` are one series).
 */
export type LabelValue = string | number | boolean | bigint;

/** The argument of `labels()`: exactly the declared label names, each with a {@link LabelValue}. */
export type LabelInput<L extends string> = { readonly [K in L]: LabelValue };

/** `labels()` on a probe declared without labels takes nothing a program can pass. */
export type LabelsArgument<L extends string> = [L] extends [never] ? never : LabelInput<L>;

/** What a metric holds or its value function returns. */
export type MetricValue = number | boolean | string | Date;

/** A metric's value, or a function called each time the metric is read. */
export type MetricInput = MetricValue | (() => MetricValue);

/** One series a labelled metric's value function reports: its label values and its value. */
export type LabelledValue<L extends string> = readonly [labels: LabelsArgument<L>, value: MetricValue];

/**
 * What a metric takes: a value, or a function called each time the metric is read. On a
 * labelled metric the function may report several series at once by returning an
 * iterable of `[labels, value]` pairs (an array of pairs, a `Map`'s entries, a generator).
 */
export type MetricSource<L extends string = never> = MetricValue | (() => MetricValue | Iterable<LabelledValue<L>>);

/** Options of {@link createProbe}. */
export interface ProbeOptions {
  /**
   * Returns the current time in milliseconds. Every window (meters, histogram
   * percentiles) and timer follows it exactly; inject one in tests instead of sleeping.
   * @default a shared coarse clock advanced by one unref()ed timer, with Date.now() underneath
   */
  readonly clock?: Clock;
  /**
   * Prepended to every exported name with `_` (`app` + `requests` → `app_requests`).
   * Must match `[a-zA-Z_:][a-zA-Z0-9_:]*`. Self-metrics keep their `probekit_` names.
   * @default ''
   */
  readonly prefix?: string;
  /**
   * Most distinct label sets one metric tracks; further new sets fold into one overflow
   * series whose labels are all `__overflow__`, with a single warning.
   * @default 1000
   */
  readonly maxSeriesPerMetric?: number;
}

/** Options shared by every probe. */
export interface BaseOptions {
  /** Name, pmx style free text allowed (`'Calls per minute'`); the exported name is derived from it. */
  readonly name: string;
  /** Longer description, exported as HELP. @default none (exporters show the name) */
  readonly help?: string;
}

/** Options of {@link Probe.metric}. */
export interface MetricOptions<L extends string = string> extends BaseOptions {
  /**
   * Initial value, or a function called every time the metric is read. With `labels`, the
   * function may return `[labels, value]` pairs, one per series (see {@link MetricSource}).
   * @default unset
   */
  readonly value?: MetricSource<L>;
  /** Unit, free text (`'MB'`, `'celsius'`). @default none */
  readonly unit?: string;
  /** Declared label names (`value` is reserved: it carries a string value). @default [] */
  readonly labels?: readonly L[];
}

/** Options of {@link Probe.counter}. */
export interface CounterOptions<L extends string = string> extends BaseOptions {
  /**
   * Only goes up: exported as a Prometheus counter, typed without `dec()`; a `dec()` that
   * reaches it anyway is dropped, counted and warned about once. @default false
   */
  readonly monotonic?: boolean;
  /** Declared label names, `[a-zA-Z_][a-zA-Z0-9_]*`. @default [] */
  readonly labels?: readonly L[];
  /** Unit, free text. @default none */
  readonly unit?: string;
}

/** Options of {@link Probe.meter}. */
export interface MeterOptions<L extends string = string> extends BaseOptions {
  /** Rate unit in seconds: 1 = per second, 60 = per minute (as in pmx). @default 1 */
  readonly samples?: number;
  /** Window length in seconds; at least `samples`. @default 60 */
  readonly timeframe?: number;
  /** Declared label names. @default [] */
  readonly labels?: readonly L[];
  /** Unit, free text (`'req/min'`). @default none */
  readonly unit?: string;
}

/** The percentiles a histogram reports when none are given. */
export type DefaultPercentiles = readonly [0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

/** Options of {@link Probe.histogram}. */
export interface HistogramOptions<L extends string = string, P extends readonly number[] = readonly number[]> extends BaseOptions {
  /** Unit of the observed values. Time units (`ms`, `s`, `us`, `ns`, `min`) scale the default buckets and timers. @default none (seconds for timers) */
  readonly unit?: string;
  /** Upper bounds of the cumulative buckets, strictly increasing. @default [0.005, …, 10] seconds, in the histogram's time unit */
  readonly buckets?: readonly number[];
  /** Percentiles reported by `val()`, each in [0, 1]. @default [0.5, 0.75, 0.9, 0.95, 0.99, 0.999] */
  readonly percentiles?: P;
  /** Window of min/max/mean/percentiles, in seconds. @default 60 */
  readonly timeframe?: number;
  /** Declared label names (`le` and `quantile` are reserved). @default [] */
  readonly labels?: readonly L[];
}

type PadKey<D extends string> = D extends `${string}${infer Rest}` ? (Rest extends '' ? `${D}0` : D) : D;

/**
 * The `val()` key of percentile `Q`: `0.5` → `'p50'`, `0.999` → `'p999'`, `0.05` → `'p05'`,
 * `1` → `'p100'`. A `Q` only known as `number` gives any `p…` key.
 */
export type PercentileKey<Q extends number> = number extends Q
  ? `p${number}`
  : Q extends 1
    ? 'p100'
    : Q extends 0
      ? 'p0'
      : `${Q}` extends `0.${infer D}`
        ? `p${PadKey<D>}`
        : `p${number}`;

/** The keys of a list of percentiles. */
export type PercentileKeys<P extends readonly number[]> = PercentileKey<P[number]>;

/** Window statistics and cumulative totals of a histogram series. */
export interface HistogramStats {
  /** Observations since creation (cumulative, like the Prometheus `_count`). */
  readonly count: number;
  /** Sum of all observations since creation (cumulative, like `_sum`). */
  readonly sum: number;
  /** Length of the window that min/max/mean/percentiles cover, in seconds. */
  readonly windowSeconds: number;
  /** Observations inside the window. */
  readonly windowCount: number;
  /** Smallest observation in the window; `null` when the window is empty. */
  readonly min: number | null;
  /** Largest observation in the window; `null` when the window is empty. */
  readonly max: number | null;
  /** Mean of the observations in the window; `null` when the window is empty. */
  readonly mean: number | null;
}

/**
 * What `histogram.val()` returns: {@link HistogramStats} and the requested window
 * percentiles, keyed `p50`, `p95`, `p99`, `p999`…; `null` when the window is empty.
 */
export type HistogramValue<K extends string = `p${number}`> = HistogramStats & { readonly [P in K]: number | null };

/**
 * A value you set, or a function evaluated at read time (a gauge).
 *
 * @example
 * const build = probe.metric({ name: 'build', value: '2026-11-21' });
 * const temp = probe.metric({ name: 'temperature', unit: 'celsius' });
 * temp.set(21.5);
 */
export interface Metric<L extends string = never> {
  /** Label values of this series; `{}` for the unlabelled series. */
  readonly labelValues: LabelValues<L>;
  /**
   * Sets the value: a finite number, boolean, string, valid Date, or a function
   * returning one (or, on a labelled metric's unlabelled series, `[labels, value]` pairs).
   * Anything else is dropped and counted in `probekit_dropped_values_total`; the previous
   * value stays. Never throws.
   */
  set(value: MetricSource<L>): void;
  /**
   * The current value (a value function is called now). `undefined` when nothing was
   * set or the function threw, rejected or returned something unusable; such a failure is
   * counted in `probekit_failed_reads_total`. Never throws.
   */
  val(): MetricValue | undefined;
  /** The child series for these label values (cached): `queue.labels({ name: 'mail' }).set(3)`. */
  labels(values: LabelsArgument<L>): Metric<L>;
}

/**
 * A count that only goes up (`monotonic: true`): exporters carry it as a true counter.
 *
 * @example
 * const served = probe.counter({ name: 'requests_served', monotonic: true, labels: ['method'] });
 * served.labels({ method: 'GET' }).inc();
 */
export interface MonotonicCounter<L extends string = never> {
  /** Label values of this series; `{}` for the unlabelled series. */
  readonly labelValues: LabelValues<L>;
  /**
   * Adds `n` (default 1). NaN, ±Infinity, a non-number, a negative `n`, or an increment
   * that would overflow past `Number.MAX_VALUE` is dropped and counted.
   */
  inc(n?: number): void;
  /** Sets the count back to 0 (exporters see a counter reset, as after a restart). */
  reset(): void;
  /** The current count. */
  val(): number;
  /** The child series for these label values (cached): hold it to make `inc()` as cheap as an unlabelled one. */
  labels(values: LabelsArgument<L>): MonotonicCounter<L>;
}

/**
 * A count of things that goes up and down, like pmx's counter.
 *
 * @example
 * const active = probe.counter({ name: 'Active requests' });
 * active.inc(); // request starts
 * active.dec(); // request ends
 */
export interface Counter<L extends string = never> extends MonotonicCounter<L> {
  /** Subtracts `n` (default 1). Bad values are dropped and counted. */
  dec(n?: number): void;
  /** The child series for these label values (cached). */
  labels(values: LabelsArgument<L>): Counter<L>;
}

/**
 * A rate over an exact sliding window: `val()` is the number of events marked in the
 * last `timeframe` seconds × `samples` / `timeframe`.
 *
 * @example
 * const rpm = probe.meter({ name: 'Requests per minute', samples: 60 });
 * rpm.mark();
 * rpm.val(); // requests in the last 60 s
 */
export interface Meter<L extends string = never> {
  /** Label values of this series; `{}` for the unlabelled series. */
  readonly labelValues: LabelValues<L>;
  /** Records `n` events (default 1); bad or overflowing values are dropped and counted. */
  mark(n?: number): void;
  /** Events per `samples` seconds over the last `timeframe` seconds. */
  val(): number;
  /** Events since creation. */
  total(): number;
  /** The child series for these label values (cached). */
  labels(values: LabelsArgument<L>): Meter<L>;
}

/** Times one operation for a histogram; see {@link Histogram.startTimer}. */
export interface HistogramTimer {
  /** Observes and returns the elapsed time in the histogram's unit; later calls only return it. */
  end(): number;
}

/**
 * A distribution: cumulative buckets, count and sum, and windowed min/max/mean/percentiles.
 *
 * @example
 * const latency = probe.histogram({ name: 'request_duration', unit: 'ms', percentiles: [0.5, 0.99] });
 * latency.observe(12.5);
 * latency.val().p99;
 */
export interface Histogram<L extends string = never, K extends string = PercentileKeys<DefaultPercentiles>> {
  /** Label values of this series; `{}` for the unlabelled series. */
  readonly labelValues: LabelValues<L>;
  /** Records one observation; NaN, ±Infinity, a non-number or an overflowing sum is dropped and counted. */
  observe(v: number): void;
  /** pmx's name for {@link Histogram.observe}. */
  update(v: number): void;
  /**
   * Starts a timer; `end()` observes the elapsed time in the histogram's unit (`ms`,
   * `s`, `us`, `ns`, `min`; seconds when the unit is not a time unit) and returns it.
   */
  startTimer(): HistogramTimer;
  /** Cumulative count and sum, and the window's min, max, mean and requested percentiles. */
  val(): HistogramValue<K>;
  /** Cumulative bucket counts, one per bound plus the final +Inf bucket. */
  buckets(): { readonly bounds: readonly number[]; readonly counts: readonly number[] };
  /** The child series for these label values (cached). */
  labels(values: LabelsArgument<L>): Histogram<L, K>;
}

/**
 * A registry of probes. `probe` is the process-wide default; {@link createProbe} makes
 * isolated ones (tests, libraries).
 *
 * @example
 * import { probe } from 'probekit';
 * const calls = probe.meter({ name: 'Calls per minute', samples: 60 });
 * calls.mark();
 * console.log(JSON.stringify(probe.snapshot()));
 */
export interface Probe {
  /** Prefix applied to exported names. */
  readonly prefix: string;
  /** Per-metric cap on distinct label sets. */
  readonly maxSeriesPerMetric: number;
  /**
   * A value you set, or a function evaluated at read time (a gauge).
   * @example
   * probe.metric({ name: 'Realtime users', value: () => sessions.size });
   * const depth = probe.metric({ name: 'queue_depth', labels: ['queue'] });
   * depth.labels({ queue: 'mail' }).set(3);
   */
  metric<const L extends string = never>(options: MetricOptions<L>): Metric<L>;
  /**
   * A count that only goes up: `monotonic: true` gives a type without `dec()`.
   * @example
   * const errors = probe.counter({ name: 'errors', monotonic: true, labels: ['type'] });
   * errors.labels({ type: 'timeout' }).inc();
   */
  counter<const L extends string = never>(options: CounterOptions<L> & { readonly monotonic: true }): MonotonicCounter<L>;
  /**
   * A count that goes up and down.
   * @example
   * const active = probe.counter({ name: 'Active requests' });
   * active.inc();
   * active.dec();
   */
  counter<const L extends string = never>(options: CounterOptions<L>): Counter<L>;
  /**
   * A rate over an exact sliding window: events in the last `timeframe` seconds per
   * `samples` seconds.
   * @example
   * const rpm = probe.meter({ name: 'Requests per minute', samples: 60, timeframe: 60 });
   * rpm.mark();
   */
  meter<const L extends string = never>(options: MeterOptions<L>): Meter<L>;
  /**
   * A distribution: cumulative buckets, count and sum, and windowed min/max/mean/percentiles.
   * `val()` is typed with exactly the percentile keys asked for.
   * @example
   * const latency = probe.histogram({ name: 'request_duration', unit: 'ms' });
   * latency.observe(12.5);
   */
  histogram<const L extends string = never, const P extends readonly number[] = DefaultPercentiles>(
    options: HistogramOptions<L, P>,
  ): Histogram<L, PercentileKeys<P>>;
  /**
   * Every probe and its current values as a plain JSON-serialisable object: what the
   * JSON endpoints, HTTP push and the dashboard carry. Your probes come first, in
   * registration order, then the `probekit_` self-metrics. Never throws.
   */
  snapshot(): Snapshot;
  /**
   * Stops this registry's use of the shared ticker. Probes keep working (each
   * recording call then reads the clock itself); call it when a test or library is done.
   */
  close(): void;
}

/** Labels of one series. */
export type SnapshotLabels = Readonly<Record<string, string>>;

/** What every family snapshot carries. */
export interface FamilyBase<K extends Kind, S> {
  /** The name the probe was registered with (may be free text). */
  readonly name: string;
  /** The stable exported name, `[a-zA-Z_:][a-zA-Z0-9_:]*`, prefix applied. */
  readonly exportName: string;
  readonly kind: K;
  readonly unit: string | null;
  readonly help: string | null;
  readonly labelNames: readonly string[];
  readonly series: readonly S[];
}

/** A metric's value: numbers, booleans and strings as they are, a Date as epoch milliseconds. */
export type MetricSeriesSnapshot =
  | { readonly labels: SnapshotLabels; readonly type: 'number' | 'date'; readonly value: number }
  | { readonly labels: SnapshotLabels; readonly type: 'boolean'; readonly value: boolean }
  | { readonly labels: SnapshotLabels; readonly type: 'string'; readonly value: string }
  | { readonly labels: SnapshotLabels; readonly type: 'failed'; readonly error: string };

export type MetricSnapshot = FamilyBase<'metric', MetricSeriesSnapshot>;

export interface CounterSeriesSnapshot {
  readonly labels: SnapshotLabels;
  readonly value: number;
}
export interface CounterSnapshot extends FamilyBase<'counter', CounterSeriesSnapshot> {
  readonly monotonic: boolean;
}

export interface MeterSeriesSnapshot {
  readonly labels: SnapshotLabels;
  /** Events per `samples` seconds over the last `timeframe` seconds. */
  readonly rate: number;
  /** Events since creation. */
  readonly total: number;
}
export interface MeterSnapshot extends FamilyBase<'meter', MeterSeriesSnapshot> {
  readonly samples: number;
  readonly timeframe: number;
}

export interface HistogramSeriesSnapshot {
  readonly labels: SnapshotLabels;
  /** Window statistics and cumulative count/sum, as `histogram.val()` returns them. */
  readonly value: HistogramValue;
  /** Cumulative bucket counts: `counts[i]` observations ≤ `bounds[i]`; the last count is +Inf (= count). */
  readonly buckets: { readonly bounds: readonly number[]; readonly counts: readonly number[] };
}
export type HistogramSnapshot = FamilyBase<'histogram', HistogramSeriesSnapshot>;

/** One family's snapshot. */
export type FamilySnapshot = MetricSnapshot | CounterSnapshot | MeterSnapshot | HistogramSnapshot;

/** What `probe.snapshot()` returns. */
export interface Snapshot {
  /** When it was taken, epoch milliseconds from the registry's clock. */
  readonly time: number;
  readonly metrics: readonly FamilySnapshot[];
}
