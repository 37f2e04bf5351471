import { Counter } from './counter.js';
import { Family } from './family.js';
import { BucketLayout, DEFAULT_BUCKETS_SECONDS, DEFAULT_PERCENTILES, Histogram, HISTOGRAM_STEPS, msPerUnit } from './histogram.js';
import { Meter, METER_STEPS } from './meter.js';
import { Metric, metricValue } from './metric.js';
import { exposedNames, isExportName, isLabelName, toExportName, withPrefix } from './names.js';
import { snapshotFamily } from './snapshot.js';
import type { TapConfig } from './tap.js';
import { TimeSource } from './time.js';
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
  MetricInput,
  MetricOptions,
  MonotonicCounter,
  PercentileKeys,
  Probe,
  ProbeOptions,
  Snapshot,
} from './types.js';
import {
  checkInteger,
  checkKnownKeys,
  checkObject,
  checkPositive,
  checkString,
  describe,
  invalidArgument,
  optionalString,
  outOfRange,
  rangeError,
  typeError,
} from './validate.js';

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
  /** @internal Taps for new histograms, while a StatsD exporter reads this registry. */
  histogramTap: TapConfig | undefined = undefined;

  constructor(options: ProbeOptions = {}) {
    const opts = checkObject('createProbe() options', options);
    checkKnownKeys('createProbe()', opts, ['clock', 'prefix', 'maxSeriesPerMetric']);
    if (opts.clock !== undefined && typeof opts.clock !== 'function') {
      throw typeError('createProbe() option "clock"', 'a function returning milliseconds', opts.clock);
    }
    const prefix = optionalString('createProbe() option "prefix"', opts.prefix) ?? '';
    if (prefix !== '' && !isExportName(prefix)) {
      throw typeError('createProbe() option "prefix"', 'a string matching [a-zA-Z_:][a-zA-Z0-9_:]*', prefix);
    }
    this.prefix = prefix;
    this.maxSeriesPerMetric =
      opts.maxSeriesPerMetric === undefined
        ? DEFAULT_MAX_SERIES
        : checkInteger('createProbe() option "maxSeriesPerMetric"', opts.maxSeriesPerMetric, 1);
    this.time = new TimeSource(opts.clock as Clock | undefined);
    const self = (name: string, help: string): Counter<'metric'> => this.selfCounter(name, help, ['metric']);
    this.dropped = self(SELF_DROPPED, 'Values that recording calls dropped (NaN, infinite, non-number, negative increments, overflow past Number.MAX_VALUE, dec() on a monotonic counter), by metric');
    this.folded = self(SELF_FOLDED, 'Calls whose new label set was folded into the overflow series by the cardinality cap, by metric');
    this.failedReads = self(SELF_FAILED, 'Metric value functions that threw, rejected or returned an unusable value, by metric');
    this.invalidLabels = self(SELF_INVALID_LABELS, "labels() calls given a missing, unusable or unknown label, recorded with the fallback value '', by metric");
  }

  /**
   * A value you set, or a function evaluated at read time (a gauge).
   * @example
   * probe.metric({ name: 'Realtime users', value: () => sessions.size });
   */
  metric(options: MetricOptions): MetricApi {
    const opts = checkObject('metric() options', options);
    checkKnownKeys('metric()', opts, ['name', 'value', 'unit', 'help']);
    const name = checkString('metric() option "name"', opts.name);
    const unit = optionalString('metric() option "unit"', opts.unit);
    const help = optionalString('metric() option "help"', opts.help);
    const given = opts.value;
    const value = given === undefined || typeof given === 'function' ? given : metricValue(given);
    if (given !== undefined && value === undefined) {
      throw typeError('metric() option "value"', 'a finite number, boolean, string, valid Date or a function returning one', given);
    }
    const family = this.register<Metric>('metric', name, { unit, help }, false, (f) => new Metric(f, value as MetricInput | undefined));
    // Registering the same metric again (hot reload) takes the new value or function.
    if (value !== undefined) family.root._value = value as MetricInput;
    return family.root;
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
    const opts = checkObject('counter() options', options);
    checkKnownKeys('counter()', opts, ['name', 'monotonic', 'labels', 'help', 'unit']);
    const name = checkString('counter() option "name"', opts.name);
    if (opts.monotonic !== undefined && typeof opts.monotonic !== 'boolean') {
      throw typeError('counter() option "monotonic"', 'a boolean', opts.monotonic);
    }
    const monotonic = opts.monotonic === true;
    const labels = checkLabels('counter()', opts.labels, []);
    const help = optionalString('counter() option "help"', opts.help);
    const unit = optionalString('counter() option "unit"', opts.unit);
    const family = this.register<Counter<L>>('counter', name, { help, unit, labels, monotonic }, false, (f, l) => new Counter(f, l, monotonic));
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
    const opts = checkObject('meter() options', options);
    checkKnownKeys('meter()', opts, ['name', 'samples', 'timeframe', 'labels', 'help', 'unit'], { seconds: 'samples' });
    const name = checkString('meter() option "name"', opts.name);
    const samples = opts.samples === undefined ? 1 : checkPositive('meter() option "samples"', opts.samples);
    const timeframe = opts.timeframe === undefined ? 60 : checkPositive('meter() option "timeframe"', opts.timeframe);
    if (timeframe < samples) {
      throw outOfRange(
        `probekit: meter() option "timeframe" must be at least "samples" (${samples} s), got ${describe(timeframe)}: the window cannot be shorter than the rate unit`,
      );
    }
    const labels = checkLabels('meter()', opts.labels, []);
    const help = optionalString('meter() option "help"', opts.help);
    const unit = optionalString('meter() option "unit"', opts.unit);
    const family = this.register<Meter<L>>('meter', name, { help, unit, labels, samples, timeframe }, false, (f, l) => new Meter(f, l, samples, timeframe));
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
    const opts = checkObject('histogram() options', options);
    checkKnownKeys('histogram()', opts, ['name', 'unit', 'buckets', 'percentiles', 'timeframe', 'labels', 'help'], {
      measurement: 'percentiles',
    });
    const name = checkString('histogram() option "name"', opts.name);
    const unit = optionalString('histogram() option "unit"', opts.unit);
    const help = optionalString('histogram() option "help"', opts.help);
    const buckets = opts.buckets === undefined ? defaultBuckets(unit) : checkBuckets(opts.buckets);
    const percentiles = opts.percentiles === undefined ? DEFAULT_PERCENTILES : checkPercentiles(opts.percentiles);
    const timeframe = opts.timeframe === undefined ? 60 : checkPositive('histogram() option "timeframe"', opts.timeframe);
    const labels = checkLabels('histogram()', opts.labels, ['le', 'quantile']);
    const layout = new BucketLayout(buckets);
    const family = this.register<Histogram<L>>(
      'histogram',
      name,
      { help, unit, labels, buckets, percentiles, timeframe },
      false,
      (f, l) => new Histogram(f, l, layout, percentiles, timeframe),
    );
    this.time.use((timeframe * 1000) / HISTOGRAM_STEPS);
    return family.root as unknown as HistogramApi<L, PercentileKeys<P>>;
  }

  /**
   * Every probe and its current values as a plain JSON-serialisable object: what the
   * JSON endpoints, HTTP push and the dashboard carry. Your probes come first, in
   * registration order, then the `probekit_` self-metrics.
   */
  snapshot(): Snapshot {
    const metrics: FamilySnapshot[] = [];
    for (const family of this.byName.values()) if (!this.selfFamilies.has(family)) metrics.push(snapshotFamily(family));
    for (const family of this.selfFamilies) metrics.push(snapshotFamily(family));
    return { time: this.time.now(), metrics };
  }

  /** @internal Registered families, the probe's own first in registration order, then the self-metrics. */
  *families(): IterableIterator<AnyFamily> {
    for (const family of this.byName.values()) if (!this.selfFamilies.has(family)) yield family;
    yield* this.selfFamilies;
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
      throw invalidArgument(
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
      throw invalidArgument(
        `probekit: ${kind} "${name}" and ${clash.kind} "${clash.name}" both export as "${exportName}"; rename one of them`,
      );
    }
    // Names the exporters derive (counter_total, histogram_bucket, meter_events…) must not
    // meet another probe's either: a clash is an error here, never a broken scrape.
    const exposed = exposedNames(kind, exportName, { monotonic: options.monotonic === true, unit: options.unit });
    for (const sample of exposed) {
      const other = this.exposed.get(sample);
      if (other !== undefined) {
        throw invalidArgument(
          `probekit: ${kind} "${name}" would expose "${sample}", which ${other.kind} "${other.name}" already exposes; rename one of them`,
        );
      }
    }
    const family = new Family<S>(
      this,
      { kind, name, exportName, help: options.help, unit: options.unit, labelNames: Object.freeze([...(options.labels ?? [])]), signature },
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

/** The process-wide default registry, as the exporters and the error side use it. */
export const defaultRegistry = new Registry();

/** The process-wide default probe registry. */
export const probe: Probe = defaultRegistry;
