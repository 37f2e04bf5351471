/**
 * StatsD's serializer: turns what a registry holds into StatsD lines, one at a time, as
 * the sender asks. Counters go as deltas since the value the daemon last confirmed
 * (client-side aggregation: one line per series per flush), gauges as they stand, and
 * each histogram observation (collected by the registry's taps) as a timer. Reads the
 * registry only through its read path.
 */
import type { Counter } from '../../probes/counter.js';
import type { Family } from '../../probes/family.js';
import type { Histogram } from '../../probes/histogram.js';
import type { Meter } from '../../probes/meter.js';
import type { Metric } from '../../probes/metric.js';
import type { Registry } from '../../probes/probe.js';

/** How labels travel: folded into the name, DogStatsD `|#k:v`, or Telegraf `name,k=v`. */
export type TagFormat = 'none' | 'dogstatsd' | 'telegraf';

/** A counter value a datagram carries: confirmed as the daemon's once the datagram left without error. */
export type Commit = readonly [series: object, value: number, resets: number];

const PROTOCOL = /[:|@#,\n\r]/g;

/** Removes what would break a StatsD line (`: | @ # ,` and line breaks), so a label can never inject a metric. */
export function clean(text: string): string {
  return text.replace(PROTOCOL, '');
}

/** A value as StatsD text; `undefined` for NaN and ±Infinity, which no daemon parses. */
function formatNumber(v: number): string | undefined {
  if (v - v !== 0) return undefined;
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(15)));
}

type Labels = Readonly<Record<string, string>>;

export interface SerializerOptions {
  readonly prefix: string | undefined;
  readonly tags: Labels;
  readonly tagFormat: TagFormat;
  readonly sampleRate: number;
  /** Counts a value or line left out (unwritable, or beyond a bound). */
  readonly dropped: (n: number) => void;
}

export class StatsdSerializer {
  /** The counter commit of the line {@link StatsdSerializer.lines} yielded last, or none: no object per line. */
  lineCommit: Commit | undefined;
  /**
   * Set by the sender when a line did not fit in maxQueueBytes: the rest of the flush makes
   * no more lines; timer values are dropped and counted, counters and gauges wait.
   */
  queueFull = false;
  private readonly globalTags: ReadonlyArray<readonly [string, string]>;
  /** Counter values the daemon has (as far as the socket knows), with the reset count then. */
  private readonly sent = new WeakMap<object, { value: number; resets: number }>();
  private readonly names = new WeakMap<object, { name: string; suffix: string }>();
  /** Label sets a metric's value function reported: no series object to key the name cache by. */
  private readonly reportedNames = new Map<string, { name: string; suffix: string }>();
  private lastCommits: Array<readonly [series: object, before: { value: number; resets: number } | undefined]> = [];

  constructor(
    private readonly registry: Registry,
    private readonly options: SerializerOptions,
  ) {
    this.globalTags = Object.entries(options.tags).map(([k, v]) => [clean(k), clean(v)] as const);
  }

  /** Name and tag suffix of a series, built once. */
  private nameOf(family: Family<unknown>, series: object | undefined, labels: Labels): { name: string; suffix: string } {
    const cacheKey = series === undefined ? `${family.exportName}\u0000${JSON.stringify(family.labelNames.map((n) => labels[n]))}` : undefined;
    const known = series === undefined ? this.reportedNames.get(cacheKey as string) : this.names.get(series);
    if (known !== undefined) return known;
    const { prefix, tagFormat } = this.options;
    let name = `${prefix === undefined ? '' : `${clean(prefix)}.`}${family.exportName.replace(PROTOCOL, '_')}`;
    const pairs = [...this.globalTags, ...family.labelNames.map((n) => [clean(n), clean(labels[n] ?? '')] as const)];
    let suffix = '';
    if (tagFormat === 'none') name += pairs.map(([, v]) => `.${v.replace(/\./g, '_') || '_'}`).join('');
    else if (tagFormat === 'telegraf') name += pairs.map(([k, v]) => `,${k.replace(/[= ]/g, '_')}=${v.replace(/[= ]/g, '_')}`).join('');
    else if (pairs.length > 0) suffix = `|#${pairs.map(([k, v]) => `${k}:${v}`).join(',')}`;
    const out = { name, suffix };
    if (series !== undefined) this.names.set(series, out);
    else if (this.reportedNames.size < 10_000) this.reportedNames.set(cacheKey as string, out);
    return out;
  }

  private *counter(family: Family<unknown>, series: object, labels: Labels, value: number, resets: number): Generator<string, void, undefined> {
    const before = this.sent.get(series);
    // After a reset (or a value that went down, for safety) the count starts over.
    const delta = before === undefined ? value : before.resets !== resets || value < before.value ? value : value - before.value;
    if (delta === 0 || this.queueFull) return;
    const text = formatNumber(delta);
    if (text === undefined) {
      this.options.dropped(1);
      return;
    }
    const { name, suffix } = this.nameOf(family, series, labels);
    this.lineCommit = [series, value, resets];
    yield `${name}:${text}|c${suffix}`;
  }

  private *gauge(family: Family<unknown>, series: object | undefined, labels: Labels, value: number): Generator<string, void, undefined> {
    if (this.queueFull) return;
    const text = formatNumber(value);
    if (text === undefined) {
      this.options.dropped(1);
      return;
    }
    const { name, suffix } = this.nameOf(family, series, labels);
    // A leading sign is a delta to the daemon: set 0 first, then apply the negative delta.
    // The two go as one unit, so no bound or datagram boundary can separate them.
    const line = `${name}:${text}|g${suffix}`;
    this.lineCommit = undefined;
    yield value < 0 ? `${name}:0|g${suffix}\n${line}` : line;
  }

  private *timers(family: Family<Histogram>): Generator<string, void, undefined> {
    const read = this.registry.read;
    const toMs = family.plan.toMs;
    const rate = this.options.sampleRate < 1 ? `|@${this.options.sampleRate}` : '';
    for (const h of read.allHistograms(family)) {
      const taken = read.takeTap(h);
      if (taken === undefined) continue;
      const { values, length, dropped: lost } = taken;
      if (lost > 0) this.options.dropped(lost);
      if (length === 0) continue;
      let sentUpTo = 0; // values written out or dropped here
      try {
        if (this.queueFull) continue;
        const { name, suffix } = this.nameOf(family as Family<unknown>, h, h.labelValues);
        for (; sentUpTo < length; sentUpTo++) {
          const v = values[sentUpTo] as number;
          const text = v < 0 ? undefined : formatNumber(v * toMs); // the daemon rejects negative timers
          if (text === undefined) {
            this.options.dropped(1);
            continue;
          }
          this.lineCommit = undefined;
          yield `${name}:${text}|ms${rate}${suffix}`;
          if (this.queueFull) break; // refused: this value and the rest are dropped below
        }
      } finally {
        if (sentUpTo < length) this.options.dropped(length - sentUpTo);
        read.releaseTap(h, length);
      }
    }
  }

  /**
   * Every line the registry holds now, made one at a time as the sender asks: counters,
   * gauges, then each histogram's timers, in registry order. A value that cannot be written
   * (NaN, ±Infinity, a negative timer) is dropped and counted here, the one place lines are
   * made. Once the sender refuses a line (`queueFull`), every timer value not yet written is
   * dropped and counted, and counter deltas wait for the next flush.
   */
  *lines(): Generator<string, void, undefined> {
    const read = this.registry.read;
    for (const family of this.registry.families()) {
      switch (family.kind) {
        case 'counter':
          for (const c of read.counters(family as Family<Counter>)) {
            if (family.monotonic) yield* this.counter(family, c, c.labelValues, read.counterValue(c), read.counterResets(c));
            else yield* this.gauge(family, c, c.labelValues, read.counterValue(c));
          }
          break;
        case 'meter':
          for (const m of read.meters(family as Family<Meter>)) yield* this.counter(family, m, m.labelValues, read.meterTotal(m), 0);
          break;
        case 'metric':
          for (const { labels, series, reading } of read.readMetric(family as Family<Metric>)) {
            if (!reading.ok) continue;
            const v = read.numeric(reading.value);
            if (v !== undefined) yield* this.gauge(family, series, labels, v); // strings have no StatsD form
          }
          break;
        case 'histogram':
          yield* this.timers(family as Family<Histogram>);
          break;
      }
    }
  }

  /**
   * Starts a flush: when the socket reported an error since the last one (`failed`), that
   * flush's counter values are taken back, so their deltas go again.
   */
  begin(failed: boolean): void {
    if (failed) {
      for (const [series, before] of this.lastCommits) {
        if (before === undefined) this.sent.delete(series);
        else this.sent.set(series, before);
      }
    }
    this.lastCommits = [];
    this.queueFull = false;
  }

  /** Records the counter values of a datagram the socket took as the daemon's. */
  confirm(commits: readonly Commit[]): void {
    for (const [series, value, resets] of commits) {
      this.lastCommits.push([series, this.sent.get(series)]);
      this.sent.set(series, { value, resets });
    }
  }

  /** Counter lines of the last flush not yet known to have arrived. */
  get unconfirmed(): number {
    return this.lastCommits.length;
  }
}
