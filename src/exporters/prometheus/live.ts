/**
 * Writes a probekit registry straight from its families (no snapshot objects): the
 * scrape path. Every series caches its sample-line prefixes (`name{labels} `), so a
 * scrape is mostly one concatenation of a cached prefix and a number per sample.
 */
import { Counter } from '../../probes/counter.js';
import type { Family } from '../../probes/family.js';
import { Histogram } from '../../probes/histogram.js';
import { Meter } from '../../probes/meter.js';
import { Metric } from '../../probes/metric.js';
import { exportsSeconds, familyName } from '../../probes/names.js';
import type { Registry } from '../../probes/probe.js';
import { msPerUnit } from '../../probes/histogram.js';
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

/** HELP text: the human name, the help, and a unit the name does not carry. */
export function helpText(name: string, exportName: string, help: string | undefined, unit: string | undefined, note?: string): string {
  let out = help === undefined ? name : name === exportName ? help : `${name}: ${help}`;
  if (unit !== undefined) out += ` (${unit})`;
  if (note !== undefined) out += ` ${note}`;
  return out;
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
function scaledBounds(bounds: Float64Array, scale: number, format: Format): string[] {
  const write = format.openMetrics ? canonicalNumber : formatValue;
  return Array.from(bounds, (b) => write(scale === 1 ? b : Number((b * scale).toPrecision(15))));
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

function writeMetric(family: Family<Metric>, options: WriteOptions): string {
  const metric = family.root;
  if (metric._value === undefined) return '';
  const read = metric.read();
  if (!read.ok) return ''; // counted in probekit_failed_reads_total by read()
  const base = family.exportName;
  const help = helpText(family.name, base, family.help, family.unit);
  const v = read.value;
  if (typeof v === 'string') {
    if (!claim(`${base}_info`, options)) return '';
    return `${header(base, 'info', help, undefined, options.format)}${base}_info{value="${escapeLabelValue(v)}"} 1\n`;
  }
  if (!claim(base, options)) return '';
  const n = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : v.getTime() / 1000;
  return `${header(base, 'gauge', help, undefined, options.format)}${base} ${formatValue(n)}\n`;
}

function* writeCounter(family: Family<Counter>, options: WriteOptions): Generator<string> {
  const base = family.exportName;
  const monotonic = family.root._floor === 0;
  if (!claim(monotonic ? `${base}_total` : base, options)) return;
  const sample = monotonic ? `${base}_total` : base;
  let out = header(base, monotonic ? 'counter' : 'gauge', helpText(family.name, base, family.help, family.unit), undefined, options.format);
  let n = 0;
  for (const c of family.reported((s) => s._value !== 0)) {
    const prefix = (prefixes.get(c) ?? remember(c, [`${sample}${labelText(family.labelNames, c.labelValues)} `]))[0];
    out += `${prefix}${formatValue(c._value)}\n`;
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

function writeMeter(family: Family<Meter>, options: WriteOptions): string {
  const base = family.exportName;
  const root = family.root;
  const all = family.reported((s) => s._total !== 0);
  let out = '';
  const per = root._samples === 1 ? 'second' : `${root._samples} s`;
  if (claim(base, options)) {
    const note = `— events per ${per} over the last ${root._timeframeMs / 1000} s`;
    out += header(base, 'gauge', helpText(family.name, base, family.help, family.unit, note), undefined, options.format);
    for (const m of all) out += `${meterLines(m, base, family.labelNames)[0]}${formatValue(m.val())}\n`;
  }
  if (claim(`${base}_events_total`, options)) {
    out += header(`${base}_events`, 'counter', helpText(family.name, base, family.help, undefined, '— events since start'), undefined, options.format);
    for (const m of all) out += `${meterLines(m, base, family.labelNames)[1]}${formatValue(m._total)}\n`;
  }
  return out;
}

function* writeHistogram(family: Family<Histogram>, options: WriteOptions): Generator<string> {
  const base = familyName('histogram', family.exportName, family.unit);
  const seconds = exportsSeconds(family.unit);
  const scale = seconds ? (msPerUnit(family.unit) as number) / 1000 : 1;
  const all = family.reported((s) => s._count !== 0);
  let out = '';
  if (claim(base, options)) {
    const help = helpText(family.name, family.exportName, family.help, seconds ? undefined : family.unit);
    const om = options.format.openMetrics;
    const bounds = family.root._layout.bounds;
    // OpenMetrics allows no _sum beside negative buckets: a family with a negative bound is
    // a gauge histogram there (_gcount, _gsum); a series of any other family that saw a
    // negative value carries buckets only (a _count needs a _sum), its count in +Inf.
    const gauge = om && bounds.length > 0 && (bounds[0] as number) < 0;
    out += header(base, gauge ? 'gaugehistogram' : 'histogram', help, seconds ? 'seconds' : undefined, options.format);
    const les = scaledBounds(bounds, scale, options.format);
    let n = 0;
    for (const h of all) {
      const lines = histogramLines(h, base, family.labelNames, les, options.format, gauge);
      const counts = h._counts;
      let acc = 0;
      for (let i = 0; i < les.length; i++) {
        acc += counts[i] as number;
        out += `${lines[i]}${acc}\n`;
      }
      out += `${lines[les.length]}${h._count}\n`;
      if (om && !gauge && h._negative) options.omitted(2);
      else out += `${lines[les.length + 1]}${h._count}\n${lines[les.length + 2]}${formatValue(h._sum * scale)}\n`;
      if (++n % SLICE === 0) {
        yield out;
        out = '';
      }
    }
  }
  // The window percentiles are a summary: windowed quantiles, with the cumulative count
  // and sum, as prom-client's Summary with maxAgeSeconds reports them. OpenMetrics allows
  // neither a negative quantile value nor a negative _sum: such samples are left out there.
  if (options.windowQuantiles && claim(`${base}_window`, options)) {
    const root = family.root;
    const om = options.format.openMetrics;
    const help = helpText(family.name, family.exportName, family.help, seconds ? 'seconds' : family.unit, '— percentiles over the sliding window');
    out += header(`${base}_window`, 'summary', help, undefined, options.format);
    const write = om ? canonicalNumber : formatValue;
    let n = 0;
    for (const h of all) {
      const v = h.val() as unknown as Record<string, number | null>;
      const labels = labelText(family.labelNames, h.labelValues);
      for (let i = 0; i < root._percentiles.length; i++) {
        const q = v[root._percentileKeys[i] as string];
        if (q === null || q === undefined) continue;
        if (om && q < 0) {
          options.omitted(1);
          continue;
        }
        out += `${base}_window${withLabel(labels, `quantile="${write(root._percentiles[i] as number)}"`)} ${formatValue(q * scale)}\n`;
      }
      if (om && h._sum < 0) options.omitted(1);
      else out += `${base}_window_sum${labels} ${formatValue(h._sum * scale)}\n`;
      out += `${base}_window_count${labels} ${h._count}\n`;
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
  for (const family of probe.families()) {
    const root = family.root;
    // Counters and histograms come in slices of SLICE series, so even one huge family
    // lets the scrape yield between slices.
    if (root instanceof Counter || root instanceof Histogram) {
      const pieces = root instanceof Counter ? writeCounter(family as Family<Counter>, options) : writeHistogram(family as Family<Histogram>, options);
      for (const piece of pieces) {
        parts.push(piece);
        const wait = options.pace();
        if (wait !== undefined) await wait;
      }
      continue;
    }
    if (root instanceof Meter) parts.push(writeMeter(family as Family<Meter>, options));
    else if (root instanceof Metric) parts.push(writeMetric(family as Family<Metric>, options));
    const wait = options.pace();
    if (wait !== undefined) await wait;
  }
}

/** Series written between two chances to yield. */
const SLICE = 1024;
