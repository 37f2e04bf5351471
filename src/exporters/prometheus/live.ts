/**
 * Writes a probekit registry straight from its families (no snapshot objects): the
 * scrape path. Every series caches its sample-line prefixes (`name{labels} `), so a
 * scrape is mostly one concatenation of a cached prefix and a number per sample. Names,
 * types, units and HELP come from each family's plan; values from the registry's read
 * path.
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

/** Options of one scrape of a registry. */
export interface WriteOptions {
  readonly format: Format;
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

/** Sample-line prefixes of each series (`name{labels} `), built on its first scrape. */
const prefixes = new WeakMap<object, string[]>();
/** The same for histogram series in OpenMetrics, whose `le` values are written canonically. */
const omPrefixes = new WeakMap<object, string[]>();

function remember(series: object, lines: string[]): string[] {
  prefixes.set(series, lines);
  return lines;
}

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

function writeMetric(read: Reader, family: Family<Metric>, options: WriteOptions): string {
  const all = read.readMetric(family);
  if (all.length === 0) return '';
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
  let out = '';
  if (gauges !== '' && claim(plan.sample, options)) out += `${header(plan.family, 'gauge', plan.help, undefined, options.format)}${gauges}`;
  if (infos !== '' && claim(info.sample, options)) out += `${header(info.family, 'info', info.help, undefined, options.format)}${infos}`;
  return out;
}

function* writeCounter(read: Reader, family: Family<Counter>, options: WriteOptions): Generator<string> {
  const plan = family.plan;
  const sample = plan.sample;
  if (!claim(sample, options)) return;
  let out = header(plan.family, plan.type, plan.help, undefined, options.format);
  let n = 0;
  for (const c of read.counters(family)) {
    const prefix = (prefixes.get(c) ?? remember(c, [`${sample}${labelText(family.labelNames, c.labelValues)} `]))[0];
    out += `${prefix}${formatValue(read.counterValue(c))}\n`;
    if (++n % SLICE === 0) {
      yield out;
      out = '';
    }
  }
  yield out;
}

function meterLines(m: Meter, base: string, names: readonly string[]): string[] {
  const known = prefixes.get(m);
  if (known !== undefined) return known;
  const labels = labelText(names, m.labelValues);
  return remember(m, [`${base}${labels} `, `${base}_events_total${labels} `]);
}

function histogramLines(h: Histogram, base: string, names: readonly string[], les: readonly string[], format: Format, gauge: boolean): string[] {
  const cache = format.openMetrics ? omPrefixes : prefixes;
  const known = cache.get(h);
  if (known !== undefined) return known;
  const labels = labelText(names, h.labelValues);
  const list = les.map((le) => `${base}_bucket${withLabel(labels, `le="${le}"`)} `);
  const g = gauge ? '_g' : '_';
  list.push(`${base}_bucket${withLabel(labels, 'le="+Inf"')} `, `${base}${g}count${labels} `, `${base}${g}sum${labels} `);
  cache.set(h, list);
  return list;
}

function writeMeter(read: Reader, family: Family<Meter>, options: WriteOptions): string {
  const plan = family.plan;
  const events = plan.events as NonNullable<typeof plan.events>;
  const base = plan.family;
  const all = read.meters(family);
  let out = '';
  if (claim(plan.sample, options)) {
    out += header(base, 'gauge', plan.help, undefined, options.format);
    for (const m of all) out += `${meterLines(m, base, family.labelNames)[0]}${formatValue(read.meterRate(m))}\n`;
  }
  if (claim(events.sample, options)) {
    out += header(events.family, 'counter', events.help, undefined, options.format);
    for (const m of all) out += `${meterLines(m, base, family.labelNames)[1]}${formatValue(read.meterTotal(m))}\n`;
  }
  return out;
}

function* writeHistogram(read: Reader, family: Family<Histogram>, options: WriteOptions): Generator<string> {
  const plan = family.plan;
  const base = plan.family;
  const scale = plan.scale;
  const all = read.histograms(family);
  let out = '';
  if (claim(base, options)) {
    const om = options.format.openMetrics;
    const bounds = read.bounds(family);
    // OpenMetrics allows no _sum beside negative buckets: a family with a negative bound is
    // a gauge histogram there (_gcount, _gsum); a series of any other family that saw a
    // negative value carries buckets only (a _count needs a _sum), its count in +Inf.
    const gauge = om && bounds.length > 0 && (bounds[0] as number) < 0;
    out += header(base, gauge ? 'gaugehistogram' : 'histogram', plan.help, plan.unit, options.format);
    const les = scaledBounds(bounds, scale, options.format);
    let n = 0;
    for (const h of all) {
      const lines = histogramLines(h, base, family.labelNames, les, options.format, gauge);
      const counts = read.bucketCounts(h);
      const count = read.count(h);
      let acc = 0;
      for (let i = 0; i < les.length; i++) {
        acc += counts[i] as number;
        out += `${lines[i]}${acc}\n`;
      }
      out += `${lines[les.length]}${count}\n`;
      if (om && !gauge && read.sawNegative(h)) options.omitted(2);
      else out += `${lines[les.length + 1]}${count}\n${lines[les.length + 2]}${formatValue(read.sum(h) * scale)}\n`;
      if (++n % SLICE === 0) {
        yield out;
        out = '';
      }
    }
  }
  // The window percentiles are a summary: windowed quantiles, with the cumulative count
  // and sum, as prom-client's Summary with maxAgeSeconds reports them. OpenMetrics allows
  // neither a negative quantile value nor a negative _sum: such samples are left out there.
  const window = plan.window as NonNullable<typeof plan.window>;
  if (options.windowQuantiles && claim(window.sample, options)) {
    const om = options.format.openMetrics;
    const name = window.family;
    out += header(name, 'summary', window.help, undefined, options.format);
    const write = om ? canonicalNumber : formatValue;
    const { values: percentiles, keys } = read.percentiles(family);
    let n = 0;
    for (const h of all) {
      const v = read.windowValue(h) as unknown as Record<string, number | null>;
      const labels = labelText(family.labelNames, h.labelValues);
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
      if (++n % SLICE === 0) {
        yield out;
        out = '';
      }
    }
  }
  yield out;
}

/** Appends every family of `probe` to `parts`, yielding when `options.pace` asks. */
export async function writeProbe(probe: Registry, parts: string[], options: WriteOptions): Promise<void> {
  const read = probe.read;
  for (const family of probe.families()) {
    // Counters and histograms come in slices of SLICE series, so even one huge family
    // lets the scrape yield between slices.
    if (family.kind === 'counter' || family.kind === 'histogram') {
      const pieces =
        family.kind === 'counter' ? writeCounter(read, family as Family<Counter>, options) : writeHistogram(read, family as Family<Histogram>, options);
      for (const piece of pieces) {
        parts.push(piece);
        const wait = options.pace();
        if (wait !== undefined) await wait;
      }
      continue;
    }
    if (family.kind === 'meter') parts.push(writeMeter(read, family as Family<Meter>, options));
    else parts.push(writeMetric(read, family as Family<Metric>, options));
    const wait = options.pace();
    if (wait !== undefined) await wait;
  }
}

/** Series written between two chances to yield. */
const SLICE = 1024;
