/**
 * Writes a probekit registry straight from its families (no snapshot objects): the
 * scrape path. Every series caches its sample-line prefixes (`name{labels} `) as bytes,
 * so a scrape is mostly, per sample, a copy of a cached prefix and a number's digits into
 * the scrape's {@link Sink}. Names, types, units and HELP come from each family's plan;
 * values from the registry's read path.
 */
import type { Counter } from '../../probes/counter.js';
import type { Family } from '../../probes/family.js';
import type { Histogram } from '../../probes/histogram.js';
import type { Meter } from '../../probes/meter.js';
import type { Metric } from '../../probes/metric.js';
import { exportedBound } from '../../probes/plan.js';
import type { Registry } from '../../probes/probe.js';
import type { Reader } from '../../probes/read.js';
import { canonicalNumber, escapeLabelValue, type Format, formatValue, header, labelText, withLabel } from './format.js';
import type { Sink } from './sink.js';

/** Options of one scrape of a registry. */
export interface WriteOptions {
  readonly format: Format;
  /** Where the scrape's bytes go. */
  readonly sink: Sink;
  /** Also write each histogram's window percentiles as a `<name>_window` summary family. */
  readonly windowQuantiles: boolean;
  /** Family names already written by another source: a repeat is skipped and reported. */
  readonly seen: Set<string>;
  /** Family names to leave out silently (written by the cluster merge). */
  readonly skip: ReadonlySet<string>;
  readonly onDuplicate: (name: string) => void;
  /** Counts samples the format cannot carry and the writer left out (OpenMetrics: negative sums and quantiles). */
  readonly omitted: (n: number) => void;
  /** Called between families; returns a promise when the writer should yield to the event loop. */
  readonly pace: () => Promise<void> | undefined;
}

/** `s` as UTF-8 bytes, for a sink. */
export const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

/**
 * A histogram series' sample-line prefixes as bytes: its bucket lines share one prefix
 * up to `le="` and end with their family's {@link leEndings}; then `_count` and `_sum`.
 * Three small buffers a series, whatever its bucket count.
 */
export interface HistogramLines {
  readonly bucket: Uint8Array;
  readonly count: Uint8Array;
  readonly sum: Uint8Array;
}

/** The prefixes of a histogram series with label text `labels` (`{a="x"}` or `''`); `g`: `_g` for a gauge histogram. */
export function histogramLines(base: string, labels: string, g: '_' | '_g' = '_'): HistogramLines {
  return {
    bucket: utf8(`${base}_bucket${labels === '' ? '{' : `${labels.slice(0, -1)},`}le="`),
    count: utf8(`${base}${g}count${labels} `),
    sum: utf8(`${base}${g}sum${labels} `),
  };
}

/** The ends of a family's bucket lines: `0.005"} ` for each bound as written, then `+Inf"} `. */
export function leEndings(les: readonly string[]): Uint8Array[] {
  const out = les.map((le) => utf8(`${le}"} `));
  out.push(utf8('+Inf"} '));
  return out;
}

/** Writes one bucket line of a histogram series: its bucket prefix, the bound's ending, `value`. */
export function writeBucket(sink: Sink, l: HistogramLines, end: Uint8Array, value: number): void {
  sink.bytes(l.bucket);
  sink.line(end, value);
}

/** Sample-line prefixes of each series, built on its first scrape: a counter's, a meter's two (rate, events). */
const counterPrefixes = new WeakMap<Counter, Uint8Array>();
const meterPrefixes = new WeakMap<Meter, readonly Uint8Array[]>();
/** A histogram series' (the same in both formats), and as a gauge histogram's (OpenMetrics, a family with a negative bound). */
const histogramPrefixes = new WeakMap<Histogram, HistogramLines>();
const gaugeHistogramPrefixes = new WeakMap<Histogram, HistogramLines>();

/** Bounds scaled into seconds, printed without binary noise (canonically in OpenMetrics). */
export function scaledBounds(bounds: ArrayLike<number>, scale: number, format: Format): string[] {
  const write = format.openMetrics ? canonicalNumber : formatValue;
  return Array.from(bounds, (b) => write(exportedBound(b, scale)));
}

export function claim(name: string, options: WriteOptions): boolean {
  if (options.skip.has(name)) return false;
  if (options.seen.has(name)) {
    options.onDuplicate(name);
    return false;
  }
  options.seen.add(name);
  return true;
}

function writeMetric(read: Reader, family: Family<Metric>, options: WriteOptions): void {
  const all = read.readMetric(family);
  if (all.length === 0) return;
  const plan = family.plan;
  const info = plan.info as NonNullable<typeof plan.info>;
  const names = family.labelNames;
  let gauges = '';
  let infos = '';
  for (const { labels, reading } of all) {
    if (!reading.ok) continue; // counted in probekit_failed_reads_total by the read path
    const v = reading.value;
    if (typeof v === 'string') infos += `${info.sample}${labelText(names, labels, `value="${escapeLabelValue(v)}"`)} 1\n`;
    else gauges += `${plan.sample}${labelText(names, labels)} ${formatValue(read.numeric(v) as number)}\n`;
  }
  const sink = options.sink;
  if (gauges !== '' && claim(plan.sample, options)) sink.text(`${header(plan.family, 'gauge', plan.help, undefined, options.format)}${gauges}`);
  if (infos !== '' && claim(info.sample, options)) sink.text(`${header(info.family, 'info', info.help, undefined, options.format)}${infos}`);
}

function* writeCounter(read: Reader, family: Family<Counter>, options: WriteOptions): Generator<void> {
  const plan = family.plan;
  const sample = plan.sample;
  if (!claim(sample, options)) return;
  const sink = options.sink;
  sink.text(header(plan.family, plan.type, plan.help, undefined, options.format));
  let n = 0;
  for (const c of read.counters(family)) {
    let prefix = counterPrefixes.get(c);
    if (prefix === undefined) counterPrefixes.set(c, (prefix = utf8(`${sample}${labelText(family.labelNames, c.labelValues)} `)));
    sink.line(prefix, read.counterValue(c));
    if (++n % SLICE === 0) yield;
  }
}

function meterLines(m: Meter, base: string, names: readonly string[]): readonly Uint8Array[] {
  const known = meterPrefixes.get(m);
  if (known !== undefined) return known;
  const labels = labelText(names, m.labelValues);
  const made = [utf8(`${base}${labels} `), utf8(`${base}_events_total${labels} `)];
  meterPrefixes.set(m, made);
  return made;
}

function seriesLines(h: Histogram, base: string, names: readonly string[], gauge: boolean): HistogramLines {
  // The prefixes are the same in both formats (the le values are in the family's endings)
  // but for a gauge histogram's `_gcount` and `_gsum`, in OpenMetrics only.
  const cache = gauge ? gaugeHistogramPrefixes : histogramPrefixes;
  const known = cache.get(h);
  if (known !== undefined) return known;
  const made = histogramLines(base, labelText(names, h.labelValues), gauge ? '_g' : '_');
  cache.set(h, made);
  return made;
}

function writeMeter(read: Reader, family: Family<Meter>, options: WriteOptions): void {
  const plan = family.plan;
  const events = plan.events as NonNullable<typeof plan.events>;
  const base = plan.family;
  const all = read.meters(family);
  const sink = options.sink;
  if (claim(plan.sample, options)) {
    sink.text(header(base, 'gauge', plan.help, undefined, options.format));
    for (const m of all) sink.line(meterLines(m, base, family.labelNames)[0] as Uint8Array, read.meterRate(m));
  }
  if (claim(events.sample, options)) {
    sink.text(header(events.family, 'counter', events.help, undefined, options.format));
    for (const m of all) sink.line(meterLines(m, base, family.labelNames)[1] as Uint8Array, read.meterTotal(m));
  }
}

function* writeHistogram(read: Reader, family: Family<Histogram>, options: WriteOptions): Generator<void> {
  const plan = family.plan;
  const base = plan.family;
  const scale = plan.scale;
  const all = read.histograms(family);
  const sink = options.sink;
  if (claim(base, options)) {
    const om = options.format.openMetrics;
    const bounds = read.bounds(family);
    // OpenMetrics allows no _sum beside negative buckets: a family with a negative bound is
    // a gauge histogram there (_gcount, _gsum); a series of any other family that saw a
    // negative value carries buckets only (a _count needs a _sum), its count in +Inf.
    const gauge = om && bounds.length > 0 && (bounds[0] as number) < 0;
    sink.text(header(base, gauge ? 'gaugehistogram' : 'histogram', plan.help, plan.unit, options.format));
    const ends = leEndings(scaledBounds(bounds, scale, options.format));
    const nb = ends.length - 1;
    let n = 0;
    for (const h of all) {
      const l = seriesLines(h, base, family.labelNames, gauge);
      const counts = read.bucketCounts(h);
      const count = read.count(h);
      let acc = 0;
      for (let i = 0; i < nb; i++) {
        acc += counts[i] as number;
        writeBucket(sink, l, ends[i] as Uint8Array, acc);
      }
      writeBucket(sink, l, ends[nb] as Uint8Array, count);
      if (om && !gauge && read.sawNegative(h)) options.omitted(2);
      else {
        sink.line(l.count, count);
        sink.line(l.sum, read.sum(h) * scale);
      }
      if (++n % SLICE === 0) yield;
    }
  }
  // The window percentiles are a summary: windowed quantiles, with the cumulative count
  // and sum, as prom-client's Summary with maxAgeSeconds reports them. OpenMetrics allows
  // neither a negative quantile value nor a negative _sum: such samples are left out there.
  const window = plan.window as NonNullable<typeof plan.window>;
  if (options.windowQuantiles && claim(window.sample, options)) {
    const om = options.format.openMetrics;
    const name = window.family;
    sink.text(header(name, 'summary', window.help, undefined, options.format));
    const write = om ? canonicalNumber : formatValue;
    const { values: percentiles, keys } = read.percentiles(family);
    let n = 0;
    for (const h of all) {
      const v = read.windowValue(h) as unknown as Record<string, number | null>;
      const labels = labelText(family.labelNames, h.labelValues);
      let out = '';
      for (let i = 0; i < percentiles.length; i++) {
        const q = v[keys[i] as string];
        if (q === null || q === undefined) continue;
        if (om && q < 0) {
          options.omitted(1);
          continue;
        }
        out += `${name}${withLabel(labels, `quantile="${write(percentiles[i] as number)}"`)} ${formatValue(q * scale)}\n`;
      }
      const sum = read.sum(h);
      if (om && sum < 0) options.omitted(1);
      else out += `${name}_sum${labels} ${formatValue(sum * scale)}\n`;
      out += `${name}_count${labels} ${read.count(h)}\n`;
      sink.text(out);
      if (++n % SLICE === 0) yield;
    }
  }
}

/** Writes every family of `probe` to `options.sink`, yielding when `options.pace` asks. */
export async function writeProbe(probe: Registry, options: WriteOptions): Promise<void> {
  const read = probe.read;
  for (const family of probe.families()) {
    // Counters and histograms come in slices of SLICE series, so even one huge family
    // lets the scrape yield between slices.
    if (family.kind === 'counter' || family.kind === 'histogram') {
      const slices =
        family.kind === 'counter' ? writeCounter(read, family as Family<Counter>, options) : writeHistogram(read, family as Family<Histogram>, options);
      for (const _ of slices) {
        const wait = options.pace();
        if (wait !== undefined) await wait;
      }
    } else if (family.kind === 'meter') writeMeter(read, family as Family<Meter>, options);
    else writeMetric(read, family as Family<Metric>, options);
    const wait = options.pace();
    if (wait !== undefined) await wait;
  }
}

/** Series written between two chances to yield. */
const SLICE = 1024;
