import { Counter } from './counter.js';
import { Family } from './family.js';
import { BucketLayout, DEFAULT_BUCKETS_SECONDS, DEFAULT_PERCENTILES, Histogram, HISTOGRAM_STEPS } from './histogram.js';
import { Meter, METER_STEPS } from './meter.js';
import { Metric, metricValue } from './metric.js';
import { isExportName, isLabelName, toExportName, withPrefix } from './names.js';
import { familyPlan } from './plan.js';
import { type Reader, reader } from './read.js';
import { Tap, type TapConfig } from './tap.js';
import { TimeSource } from './time.js';
import { msPerUnit } from '../util/units.js';
import { shared } from '../util/shared.js';
import { hasBrand } from '../util/brand.js';
import type {
  Clock,
  CounterOptions,
  Counter as CounterApi,
  DefaultPercentiles,
  FamilySnapshot,
  Histogram as HistogramApi,
  HistogramOptions,
  Kind,
  LabelValues,
  Meter as MeterApi,
  MeterOptions,
  Metric as MetricApi,
  MetricOptions,
  MetricSource,
  MonotonicCounter,
  PercentileKeys,
  Probe,
  ProbeOptions,
  Snapshot,
} from './types.js';
import { describe, is, nameConflict, option, outOfRange, parseOptions, ProbekitTypeError, rangeError, required, typeError } from '../util/validate.js';

/** Brand of a probekit registry, shared by every installed copy. */
const REGISTRY_BRAND: unique symbol = Symbol.for('probekit.registry') as never;

/**
 * True for a registry made by any installed copy of probekit (`instanceof` would reject
 * another copy's). Its `read` is that copy's own read path.
 */
export function isRegistry(value: unknown): value is Registry {
  return hasBrand(value, REGISTRY_BRAND);
}

const DEFAULT_MAX_SERIES = 1000;
const MAX_BUCKETS = 65_000;

const SELF_DROPPED = 'probekit_dropped_values';
const SELF_FOLDED = 'probekit_folded_label_sets';
const SELF_FAILED = 'probekit_failed_reads';
const SELF_INVALID_LABELS = 'probekit_invalid_labels';

type AnyFamily = Family<unknown>;

/**
 * The implementation of a probe registry ({@link Probe} is what applications see). The
 * exporters and the error side reach the families through it; it never appears in the
 * published types. (It is a `FamilyOwner` too, checked where it hands itself to a
 * `Family`; declaring `implements FamilyOwner` would put an interface whose members are
 * stripped from the declarations into them, which a consumer's `tsc` rejects.)
 */
/** The `registry` option every exporter and instrumentation takes: a probekit registry (`probe`, `createProbe()`). */
export const registryOption = option((where, v): Registry => {
  if (!isRegistry(v)) throw typeError(where, 'a probekit registry (probe, createProbe())', v);
  return v;
});

export class Registry implements Probe {
  /** @internal */ readonly time: TimeSource;
  /** Prefix applied to exported names. */
  readonly prefix: string;
  /** Per-metric cap on distinct label sets. */
  readonly maxSeriesPerMetric: number;
  private readonly byName = new Map<string, AnyFamily>();
  private readonly byExport = new Map<string, AnyFamily>();
  private readonly selfFamilies = new Set<AnyFamily>();
  private readonly exposed = new Map<string, AnyFamily>();
  private readonly dropped: Counter<'metric'>;
  private readonly folded: Counter<'metric'>;
  private readonly failedReads: Counter<'metric'>;
  private readonly invalidLabels: Counter<'metric'>;
  private closed = false;
  /** Called before each read of the whole registry (snapshot, exposition, StatsD flush). */
  private readonly collectors: Array<() => void> = [];
  /** @internal Taps for new histograms, while an exporter that sends each value reads this registry. */
  histogramTap: TapConfig | undefined = undefined;
  /** @internal The read path (read.ts): exporters read this registry's probes through it, and only through it. */
  readonly read: Reader = reader;
  /** @internal Brand: a registry from any installed copy of probekit (see isRegistry). */
  readonly [REGISTRY_BRAND] = true;

  constructor(options: ProbeOptions = {}) {
    const opts = parseOptions('createProbe()', PROBE_OPTIONS, options);
    this.prefix = opts.prefix;
    this.maxSeriesPerMetric = opts.maxSeriesPerMetric;
    this.time = new TimeSource(opts.clock);
    const self = (name: string, help: string): Counter<'metric'> => this.selfCounter(name, help, ['metric']);
    this.dropped = self(SELF_DROPPED, 'Values that recording calls dropped (NaN, infinite, non-number, negative increments, overflow past Number.MAX_VALUE, dec() on a monotonic counter), by metric');
    this.folded = self(SELF_FOLDED, 'Calls whose new label set was folded into the overflow series by the cardinality cap (or that a value function reported beyond it), by metric');
    this.failedReads = self(SELF_FAILED, 'Metric value functions that threw, rejected or returned an unusable value, by metric');
    this.invalidLabels = self(SELF_INVALID_LABELS, "labels() calls given a missing, unusable or unknown label, recorded with the fallback value '', by metric");
  }

  /**
   * A value you set, or a function evaluated at read time (a gauge), optionally labelled.
   * @example
   * probe.metric({ name: 'Realtime users', value: () => sessions.size });
   * const depth = probe.metric({ name: 'queue_depth', labels: ['queue'] });
   * depth.labels({ queue: 'mail' }).set(3);
   */
  metric<const L extends string = never>(options: MetricOptions<L>): MetricApi<L> {
    const opts = parseOptions('metric()', METRIC_OPTIONS, options, { required: true });
    const given = opts.value;
    const value = given === undefined || typeof given === 'function' ? given : metricValue(given);
    if (given !== undefined && value === undefined) {
      throw typeError('metric() option "value"', 'a finite number, boolean, string, valid Date or a function returning one', given);
    }
    const labels = checkLabels('metric()', opts.labels, ['value']);
    const family = this.register<Metric<L>>('metric', opts.name, { unit: opts.unit, help: opts.help, ...(labels.length > 0 ? { labels } : {}) }, false, (f, l) => new Metric(f, l, undefined));
    // Registering the same metric again (hot reload) takes the new value or function.
    if (value !== undefined) family.root._replace(value as MetricSource);
    return family.root as unknown as MetricApi<L>;
  }

  /**
   * A count that goes up and down, or only up with `monotonic: true`.
   * @example
   * const errors = probe.counter({ name: 'errors', monotonic: true, labels: ['type'] });
   * errors.labels({ type: 'timeout' }).inc();
   */
  counter<const L extends string = never>(options: CounterOptions<L> & { readonly monotonic: true }): MonotonicCounter<L>;
  counter<const L extends string = never>(options: CounterOptions<L>): CounterApi<L>;
  counter<const L extends string = never>(options: CounterOptions<L>): CounterApi<L> {
    const opts = parseOptions('counter()', COUNTER_OPTIONS, options, { required: true });
    const monotonic = opts.monotonic;
    const labels = checkLabels('counter()', opts.labels, []);
    const family = this.register<Counter<L>>('counter', opts.name, { help: opts.help, unit: opts.unit, labels, monotonic }, false, (f, l) => new Counter(f, l, monotonic));
    return family.root as unknown as CounterApi<L>;
  }

  /**
   * A rate over an exact sliding window: events in the last `timeframe` seconds per
   * `samples` seconds.
   * @example
   * const rpm = probe.meter({ name: 'Requests per minute', samples: 60, timeframe: 60 });
   * rpm.mark();
   */
  meter<const L extends string = never>(options: MeterOptions<L>): MeterApi<L> {
    const opts = parseOptions('meter()', METER_OPTIONS, options, { renamed: { seconds: 'samples' }, required: true });
    const { samples, timeframe } = opts;
    if (timeframe < samples) {
      throw outOfRange(
        `probekit: meter() option "timeframe" must be at least "samples" (${samples} s), got ${describe(timeframe)}: the window cannot be shorter than the rate unit`,
        'timeframe',
      );
    }
    const labels = checkLabels('meter()', opts.labels, []);
    const family = this.register<Meter<L>>(
      'meter',
      opts.name,
      { help: opts.help, unit: opts.unit, labels, samples, timeframe },
      false,
      (f, l) => new Meter(f, l, samples, timeframe),
    );
    this.time.use((timeframe * 1000) / METER_STEPS);
    return family.root as unknown as MeterApi<L>;
  }

  /**
   * A distribution: cumulative buckets, count and sum, and windowed min/max/mean/percentiles.
   * @example
   * const latency = probe.histogram({ name: 'request_duration', unit: 'ms' });
   * latency.observe(12.5);
   */
  histogram<const L extends string = never, const P extends readonly number[] = DefaultPercentiles>(
    options: HistogramOptions<L, P>,
  ): HistogramApi<L, PercentileKeys<P>> {
    return this.makeHistogram(options, true);
  }

  /**
   * @internal A histogram observed rarely (GC pauses): its series read the clock at every
   * `observe()` instead of keeping the shared ticker running, which costs more than the
   * few observations it would save a clock read on.
   */
  rareHistogram<const L extends string = never>(options: HistogramOptions<L>): HistogramApi<L> {
    return this.makeHistogram(options, false);
  }

  private makeHistogram<const L extends string, const P extends readonly number[]>(options: HistogramOptions<L, P>, ticker: boolean): HistogramApi<L, PercentileKeys<P>> {
    const opts = parseOptions('histogram()', HISTOGRAM_OPTIONS, options, { renamed: { measurement: 'percentiles' }, required: true });
    const { unit, timeframe, percentiles } = opts;
    const buckets = opts.buckets ?? defaultBuckets(unit);
    const labels = checkLabels('histogram()', opts.labels, ['le', 'quantile']);
    const layout = new BucketLayout(buckets);
    const family = this.register<Histogram<L>>(
      'histogram',
      opts.name,
      { help: opts.help, unit, labels, buckets, percentiles, timeframe },
      false,
      // A source with a clock and no ticker: every observe() reads the clock (see time.ts).
      ticker ? (f, l) => new Histogram(f, l, layout, percentiles, timeframe) : (f, l) => new Histogram(f, l, layout, percentiles, timeframe, new TimeSource(this.time.now)),
    );
    if (ticker) this.time.use((timeframe * 1000) / HISTOGRAM_STEPS);
    return family.root as unknown as HistogramApi<L, PercentileKeys<P>>;
  }

  /**
   * Every probe and its current values as a plain JSON-serialisable object: what the
   * JSON endpoints, HTTP push and the dashboard carry. Your probes come first, in
   * registration order, then the `probekit_` self-metrics.
   */
  snapshot(): Snapshot {
    this.collect();
    const metrics: FamilySnapshot[] = [];
    for (const family of this.byName.values()) if (!this.selfFamilies.has(family)) metrics.push(reader.snapshotFamily(family));
    for (const family of this.selfFamilies) metrics.push(reader.snapshotFamily(family));
    return { time: this.time.now(), metrics };
  }

  /** @internal Registered families, the probe's own first in registration order, then the self-metrics. */
  *families(): IterableIterator<AnyFamily> {
    this.collect();
    for (const family of this.byName.values()) if (!this.selfFamilies.has(family)) yield family;
    yield* this.selfFamilies;
  }

  /**
   * @internal Adds `fn`, called before each read of the whole registry so that counters
   * kept elsewhere (bytes a socket counts itself) are brought up to date first; returns
   * its remover. A collector that throws is counted as a failed read, never thrown.
   */
  onCollect(fn: () => void): () => void {
    this.collectors.push(fn);
    return () => {
      const i = this.collectors.indexOf(fn);
      if (i !== -1) this.collectors.splice(i, 1);
    };
  }

  private collect(): void {
    for (const fn of this.collectors) {
      try {
        fn();
      } catch {
        this.failedReads.labels({ metric: 'collector' }).inc();
      }
    }
  }

  /**
   * Stops this registry's use of the shared ticker. Probes keep working (each
   * recording call then reads the clock itself); call it when a test or library is done.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.time.close();
  }

  /**
   * @internal Collects every histogram observation, from now on, into taps that `config`
   * bounds (StatsD timers): existing histograms and those registered later. One tap set
   * per registry. Returns the disposer that removes them.
   */
  addTap(config: TapConfig): () => void {
    if (this.histogramTap !== undefined) {
      throw new ProbekitTypeError(
        'probekit: statsd(): this registry already has a StatsD exporter; close() it first (one exporter collects the histogram observations)',
        'PROBEKIT_EXPORTER_EXISTS',
      );
    }
    this.histogramTap = config;
    const tapFamily = (family: AnyFamily): void => {
      family.tap = config;
      for (const h of family.all() as Histogram[]) h._tap ??= new Tap(config);
    };
    for (const family of this.byName.values()) if (family.kind === 'histogram') tapFamily(family);
    return () => {
      if (this.histogramTap !== config) return;
      this.histogramTap = undefined;
      for (const family of this.byName.values()) {
        if (family.kind !== 'histogram') continue;
        family.tap = undefined;
        for (const h of family.all() as Histogram[]) h._tap = undefined;
      }
    };
  }

  /** @internal True for the registry's own `probekit_` self-metric families. */
  isSelf(family: AnyFamily): boolean {
    return this.selfFamilies.has(family);
  }

  /**
   * @internal A `probekit_` self-metric counter: registered once, no prefix. Uncapped
   * unless `capped` (its labels come from the application, as error names do).
   */
  selfCounter<L extends string = never>(name: string, help: string, labels: readonly L[] = [], capped = false): Counter<L> {
    return this.register<Counter<L>>('counter', name, { help, labels, monotonic: true }, capped ? 'capped' : true, (f, l) => new Counter(f, l, true)).root;
  }

  /** @internal A `probekit_` self-metric gauge you set (a state such as an alert's), no prefix, uncapped. */
  selfGauge<L extends string = never>(name: string, help: string, labels: readonly L[] = []): MetricApi<L> {
    return this.register<Metric<L>>('metric', name, { help, labels }, true, (f, l) => new Metric(f, l, undefined)).root as unknown as MetricApi<L>;
  }

  /**
   * @internal A `probekit_` self-metric meter, unlabelled. It does not start the shared
   * ticker (a process that never errs runs no timer): call `start()` before its first mark.
   */
  selfMeter(name: string, help: string, samples: number, timeframe: number): { readonly meter: Meter<never>; start(): void } {
    const family = this.register<Meter<never>>('meter', name, { help, labels: [], samples, timeframe }, true, (f, l) => new Meter(f, l, samples, timeframe));
    return { meter: family.root, start: () => this.time.use((timeframe * 1000) / METER_STEPS) };
  }

  /** @internal */
  countDropped(family: AnyFamily): void {
    this.dropped.labels({ metric: family.exportName }).inc();
  }

  /** @internal */
  countFolded(family: AnyFamily): void {
    this.folded.labels({ metric: family.exportName }).inc();
  }

  /** @internal */
  countFailedRead(family: AnyFamily): void {
    this.failedReads.labels({ metric: family.exportName }).inc();
  }

  /** @internal */
  countInvalidLabels(family: AnyFamily): void {
    this.invalidLabels.labels({ metric: family.exportName }).inc();
  }

  private register<S>(
    kind: Kind,
    name: string,
    options: Record<string, unknown> & { labels?: readonly string[]; help?: string | undefined; unit?: string | undefined },
    self: boolean | 'capped',
    create: (family: Family<S>, labels: LabelValues) => S,
  ): Family<S> {
    const signature = JSON.stringify({ kind, ...options });
    const existing = this.byName.get(name);
    if (existing !== undefined) {
      if (existing.signature === signature) return existing as Family<S>;
      throw nameConflict(
        `probekit: ${kind} "${name}" with ${optionsText(signature)} conflicts with the ${existing.kind} "${name}" already registered with ${optionsText(existing.signature)}; ` +
          'register a name once, with one kind and one set of options',
      );
    }
    let base = toExportName(name);
    if (base === '') throw typeError(`${kind}() option "name"`, 'a name with at least one letter or digit', name);
    if (kind === 'counter' && options.monotonic === true && base.endsWith('_total') && base !== '_total') {
      base = base.slice(0, -'_total'.length); // the exporters add `_total` to the counter sample
    }
    const exportName = self ? base : withPrefix(this.prefix, base);
    if (!self && exportName.startsWith('probekit_')) {
      throw typeError(`${kind}() option "name"`, 'a name whose exported form does not start with "probekit_" (reserved for probekit\'s own metrics)', name);
    }
    const clash = this.byExport.get(exportName);
    if (clash !== undefined) {
      throw nameConflict(
        `probekit: ${kind} "${name}" and ${clash.kind} "${clash.name}" both export as "${exportName}"; rename one of them`,
      );
    }
    // Names the exporters derive (counter_total, histogram_bucket, meter_events…) must not
    // meet another probe's either: a clash is an error here, never a broken scrape.
    const info = {
      kind,
      name,
      exportName,
      help: options.help,
      unit: options.unit,
      labelNames: Object.freeze([...(options.labels ?? [])]),
      signature,
      monotonic: options.monotonic === true,
      samples: options.samples as number | undefined,
      timeframe: options.timeframe as number | undefined,
      percentiles: options.percentiles as readonly number[] | undefined,
    };
    const exposed = familyPlan(info).exposed;
    for (const sample of exposed) {
      const other = this.exposed.get(sample);
      if (other !== undefined) {
        throw nameConflict(
          `probekit: ${kind} "${name}" would expose "${sample}", which ${other.kind} "${other.name}" already exposes; rename one of them`,
        );
      }
    }
    const family = new Family<S>(
      this,
      info,
      create,
      // Self-metrics are labelled by metric name, so bounded by the registry; a cap on them
      // would fold counts together (and folding is itself counted there).
      self === true ? Infinity : this.maxSeriesPerMetric,
    );
    this.byName.set(name, family as AnyFamily);
    this.byExport.set(exportName, family as AnyFamily);
    for (const sample of exposed) this.exposed.set(sample, family as AnyFamily);
    if (self !== false) this.selfFamilies.add(family as AnyFamily);
    return family;
  }
}

function optionsText(signature: string): string {
  const { kind: _kind, ...rest } = JSON.parse(signature) as Record<string, unknown>;
  return JSON.stringify(rest);
}

const PROBE_OPTIONS = {
  clock: option<Clock | undefined>((where, v) => {
    if (typeof v !== 'function') throw typeError(where, 'a function returning milliseconds', v);
    return v as Clock;
  }),
  prefix: option((where, v) => {
    const prefix = is.string(where, v);
    if (prefix !== '' && !isExportName(prefix)) throw typeError(where, 'a string matching [a-zA-Z_:][a-zA-Z0-9_:]*', prefix);
    return prefix;
  }, ''),
  maxSeriesPerMetric: option(is.integer(1), DEFAULT_MAX_SERIES),
};

const METRIC_OPTIONS = {
  name: required(is.nonEmpty),
  value: option(is.any),
  unit: option(is.string),
  help: option(is.string),
  labels: option(is.any),
};

const COUNTER_OPTIONS = {
  name: required(is.nonEmpty),
  monotonic: option(is.boolean, false),
  labels: option(is.any),
  help: option(is.string),
  unit: option(is.string),
};

const METER_OPTIONS = {
  name: required(is.nonEmpty),
  samples: option(is.positive, 1),
  timeframe: option(is.positive, 60),
  labels: option(is.any),
  help: option(is.string),
  unit: option(is.string),
};

const HISTOGRAM_OPTIONS = {
  name: required(is.nonEmpty),
  unit: option(is.string),
  buckets: option((_where, v) => checkBuckets(v)),
  percentiles: option((_where, v) => checkPercentiles(v), DEFAULT_PERCENTILES),
  timeframe: option(is.positive, 60),
  labels: option(is.any),
  help: option(is.string),
};

function checkLabels(where: string, value: unknown, reserved: readonly string[]): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw typeError(`${where} option "labels"`, 'an array of label names', value);
  const seen = new Set<string>();
  for (const label of value) {
    if (typeof label !== 'string' || !isLabelName(label)) {
      throw typeError(`${where} option "labels"`, 'label names matching [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__"', label);
    }
    if (reserved.includes(label)) throw typeError(`${where} option "labels"`, `free of the reserved label names ${reserved.join(', ')}`, label);
    if (seen.has(label)) throw typeError(`${where} option "labels"`, 'an array without duplicates', label);
    seen.add(label);
  }
  return value as readonly string[];
}

function checkBuckets(value: unknown): readonly number[] {
  const where = 'histogram() option "buckets"';
  if (!Array.isArray(value)) throw typeError(where, 'an array of increasing numbers', value);
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const b: unknown = value[i];
    if (typeof b !== 'number' || Number.isNaN(b)) throw typeError(`${where}[${i}]`, 'a number', b);
    if (b === Infinity && i === value.length - 1) break; // +Inf is implicit
    if (!Number.isFinite(b)) throw rangeError(`${where}[${i}]`, 'finite (+Inf is implicit)', b);
    if (out.length >= MAX_BUCKETS) throw rangeError(where, `at most ${MAX_BUCKETS} bounds`, value.length);
    if (out.length > 0 && b <= (out[out.length - 1] as number)) {
      throw rangeError(where, 'strictly increasing', value);
    }
    out.push(b);
  }
  if (out.length === 0) throw rangeError(where, 'at least one finite bound', value);
  return out;
}

function checkPercentiles(value: unknown): readonly number[] {
  const where = 'histogram() option "percentiles"';
  if (!Array.isArray(value)) throw typeError(where, 'an array of numbers in [0, 1]', value);
  for (let i = 0; i < value.length; i++) {
    const q: unknown = value[i];
    if (typeof q !== 'number' || Number.isNaN(q)) throw typeError(`${where}[${i}]`, 'a number', q);
    if (q < 0 || q > 1) throw rangeError(`${where}[${i}]`, 'in [0, 1]', q);
  }
  return [...(value as number[])];
}

function defaultBuckets(unit: string | undefined): readonly number[] {
  const ms = msPerUnit(unit);
  if (ms === undefined) return DEFAULT_BUCKETS_SECONDS;
  const scale = 1000 / ms;
  // Round away binary noise so bounds print as written (0.005 s → 5 ms, not 5.000000000000001).
  return DEFAULT_BUCKETS_SECONDS.map((b) => Number((b * scale).toPrecision(12)));
}

/** Creates an isolated probe registry; see {@link ProbeOptions}. */
export function createProbe(options: ProbeOptions = {}): Probe {
  return new Registry(options);
}

/**
 * The process-wide default registry, as the exporters and the error side use it: one for
 * every installed copy of probekit of this major version (see util/shared.ts).
 */
export const defaultRegistry: Registry = shared('registry', () => new Registry());

/** The process-wide default probe registry. */
export const probe: Probe = defaultRegistry;
