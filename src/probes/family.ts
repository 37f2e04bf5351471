/**
 * A family is everything a probe name owns: its metadata, its root series and the
 * labelled child series, found through a tree of Maps (one level per label name) so
 * that `labels({...})` builds no key string and allocates nothing on a hit.
 */
import { familyPlan, type FamilyPlan } from './plan.js';
import type { TapConfig } from './tap.js';
import type { TimeSource } from './time.js';
import { describe } from '../util/validate.js';

import type { Kind, LabelValues } from './types.js';

export type { Kind, LabelValues } from './types.js';

/** Value every label takes in the series that collects label sets beyond the cardinality cap. */
export const OVERFLOW_LABEL_VALUE = '__overflow__';

/** What a family needs from its registry: time, and the self-metrics it reports into. */
export interface FamilyOwner {
  readonly time: TimeSource;
  readonly maxSeriesPerMetric: number;
  countDropped(family: Family<unknown>): void;
  countFolded(family: Family<unknown>): void;
  countFailedRead(family: Family<unknown>): void;
  countInvalidLabels(family: Family<unknown>): void;
  /** Taps new histogram families get (an exporter that sends each observation asked for them). */
  readonly histogramTap: TapConfig | undefined;
}

/** Static description of a family, shared by all its series. */
export interface FamilyInfo {
  readonly kind: Kind;
  readonly name: string;
  readonly exportName: string;
  readonly help: string | undefined;
  readonly unit: string | undefined;
  readonly labelNames: readonly string[];
  /** Canonical JSON of the options that must match when the name is registered again. */
  readonly signature: string;
  /** Counters: only goes up. Family metadata, so readers never look at a series for it. */
  readonly monotonic: boolean;
  /** Meters: the rate unit in seconds. */
  readonly samples: number | undefined;
  /** Meters and histograms: the window in seconds. */
  readonly timeframe: number | undefined;
  /** Histograms: the window percentiles, as fractions. */
  readonly percentiles: readonly number[] | undefined;
}

/**
 * One level of the label tree. An inner node also knows its own key and its parent, so a
 * miss deep in the tree recovers the values already read without the hit path keeping them.
 */
interface Node<S> extends Map<string, Node<S> | S> {
  key?: string;
  up?: Node<S>;
}

export class Family<S> implements FamilyInfo {
  readonly kind: Kind;
  readonly name: string;
  readonly exportName: string;
  readonly help: string | undefined;
  readonly unit: string | undefined;
  readonly labelNames: readonly string[];
  readonly signature: string;
  readonly monotonic: boolean;
  readonly samples: number | undefined;
  readonly timeframe: number | undefined;
  readonly percentiles: readonly number[] | undefined;
  /** How every exporter names and writes this family. */
  readonly plan: FamilyPlan;
  readonly owner: FamilyOwner;
  /** Distinct label sets tracked before folding: the registry's cap, or unbounded for self-metrics. */
  readonly maxSeries: number;
  /** The unlabelled series: the object `probe.counter()` etc. return. */
  readonly root: S;
  /** Labelled series in creation order (the overflow series last, once it exists). */
  readonly children: S[] = [];
  private readonly tree: Node<S> = new Map() as Node<S>;
  private readonly create: (family: Family<S>, labels: LabelValues) => S;
  private overflow: S | undefined;
  /** Label values read by the current `labels()` call, one per label name. */
  private readonly scratch: unknown[];
  private warnedLabels = false;
  private warnedDec = false;
  private warnedCap = false;
  /** @internal Raw-value taps an exporter asked for (histograms only); see tap.ts. */
  tap: TapConfig | undefined = undefined;

  constructor(
    owner: FamilyOwner,
    info: FamilyInfo,
    create: (family: Family<S>, labels: LabelValues) => S,
    maxSeries = owner.maxSeriesPerMetric,
  ) {
    this.owner = owner;
    this.maxSeries = maxSeries;
    this.kind = info.kind;
    this.name = info.name;
    this.exportName = info.exportName;
    this.help = info.help;
    this.unit = info.unit;
    this.labelNames = info.labelNames;
    this.signature = info.signature;
    this.monotonic = info.monotonic;
    this.samples = info.samples;
    this.timeframe = info.timeframe;
    this.percentiles = info.percentiles;
    this.plan = familyPlan(info);
    this.create = create;
    this.scratch = info.labelNames.map(() => undefined);
    if (info.kind === 'histogram') this.tap = owner.histogramTap;
    this.root = create(this, Object.freeze({}));
  }

  /** Counts a value a recording call rejected. Off the fast path by construction. */
  drop(): void {
    this.owner.countDropped(this as Family<unknown>);
  }

  /** Counts a `dec()` on a monotonic counter, warning once per family. */
  decOnMonotonic(): void {
    this.owner.countDropped(this as Family<unknown>);
    if (this.warnedDec) return;
    this.warnedDec = true;
    process.emitWarning(
      `probekit: dec() called on monotonic counter "${this.name}"; a monotonic counter only goes up, so the call was dropped ` +
        '(counted in probekit_dropped_values_total; use reset(), or create the counter without monotonic: true).',
      { code: 'PROBEKIT_MONOTONIC_DEC' },
    );
  }

  /** Counts a value function that threw or returned something unusable. */
  failedRead(): void {
    this.owner.countFailedRead(this as Family<unknown>);
  }

  /**
   * The child series for `values`; never throws. The hit path walks one Map per label
   * name and counts the object's keys with `for...in` (no allocation) so extra labels are
   * caught even when the declared ones hit the cache. Each value is read once: a miss or
   * a value that is not a string continues in {@link Family.slow} from the values already
   * read (a getter cannot slip in a different value after the check).
   */
  child(values: unknown): S {
    try {
      return this.lookup(values as Record<string, unknown>);
    } catch {
      // A Proxy whose traps throw, a getter that throws: every label takes the fallback.
      this.scratch.fill(undefined);
      return this.invalid(undefined, 'reading the label values threw');
    }
  }

  private lookup(values: Record<string, unknown>): S {
    const names = this.labelNames;
    let keys = 0;
    for (const _ in values) keys++;
    if (keys !== names.length || names.length === 0 || typeof values !== 'object') return this.slow(values, 0);
    let node: Node<S> = this.tree;
    const last = names.length - 1;
    for (let i = 0; i < last; i++) {
      const raw = values[names[i] as string];
      let key = raw;
      if (typeof raw !== 'string') {
        key = labelText(raw); // `{ status: 200 }` is `{ status: '200' }`
        if (key === undefined) return this.resume(values, node, i, raw);
      }
      const next = node.get(key as string) as Node<S> | undefined;
      if (next === undefined) return this.resume(values, node, i, key);
      node = next;
    }
    const raw = values[names[last] as string];
    let key = raw;
    if (typeof raw !== 'string') {
      key = labelText(raw);
      if (key === undefined) return this.resume(values, node, last, raw);
    }
    const found = node.get(key as string) as S | undefined;
    return found === undefined ? this.resume(values, node, last, key) : found;
  }

  /** Continues a lookup that stopped at label `i` of `node`: the keys above it come from the tree. */
  private resume(values: Record<string, unknown>, node: Node<S>, i: number, raw: unknown): S {
    const scratch = this.scratch;
    scratch[i] = raw;
    for (let k = i - 1; k >= 0; k--) {
      scratch[k] = node.key;
      node = node.up as Node<S>;
    }
    return this.slow(values, i + 1);
  }

  /**
   * Off the hit path: finishes reading the values (`scratch` holds the first `read`),
   * turns numbers, booleans and bigints into strings, puts `''` for a value that is
   * missing or not a primitive, ignores unknown label names, and counts and warns about
   * anything that was not a clean label set.
   */
  private slow(values: Record<string, unknown>, read: number): S {
    const names = this.labelNames;
    if (names.length === 0) return this.invalid(undefined, 'it declares no labels; declare them with the "labels" option');
    if (values === null || typeof values !== 'object') return this.invalid(undefined, `labels() must be given an object, got ${describe(values)}`);
    const scratch = this.scratch;
    for (let i = read; i < names.length; i++) scratch[i] = values[names[i] as string];
    let problem: string | undefined;
    const copy: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) {
      const raw = scratch[i];
      scratch[i] = undefined; // hold no reference to the application's values
      const text = labelText(raw);
      if (text === undefined) problem ??= `label "${names[i] as string}" is ${raw === undefined ? 'missing' : describe(raw)}`;
      copy[names[i] as string] = text ?? '';
    }
    if (problem === undefined) {
      for (const name in values) {
        if (!names.includes(name)) {
          problem = `unknown label "${name}"`;
          break;
        }
      }
    }
    if (problem !== undefined) return this.invalid(copy, problem);
    return this.find(copy);
  }

  /**
   * The fallback for a bad label set: `copy` (or `''` for every label), counted in
   * `probekit_invalid_labels_total{metric}` with one process warning per family.
   */
  private invalid(copy: Record<string, string> | undefined, problem: string): S {
    this.reportInvalid(problem);
    if (this.labelNames.length === 0) return this.root;
    if (copy === undefined) {
      copy = {};
      for (const name of this.labelNames) copy[name] = '';
    }
    return this.find(copy);
  }

  /** Counts a bad label set in `probekit_invalid_labels_total{metric}`, with one process warning per family. */
  private reportInvalid(problem: string): void {
    this.owner.countInvalidLabels(this as Family<unknown>);
    if (this.warnedLabels) return;
    this.warnedLabels = true;
    process.emitWarning(
      `probekit: ${this.kind} "${this.name}".labels(): ${problem}; ` +
        (this.labelNames.length === 0
          ? 'the call records into the unlabelled series'
          : `expected exactly ${this.labelNames.join(', ')}, each a string, number, boolean or bigint; a missing or unusable value becomes '' and unknown names are ignored`) +
        ' (counted in probekit_invalid_labels_total; further problems with this metric are counted, not warned).',
      { code: 'PROBEKIT_INVALID_LABELS' },
    );
  }

  /**
   * The clean label set `labels()` would record for `values` (the same coercion, counting
   * and warning), without creating a series: for label sets a value function reports at
   * read time. Never throws.
   */
  labelSet(values: unknown): Readonly<Record<string, string>> {
    const names = this.labelNames;
    const copy: Record<string, string> = {};
    let problem: string | undefined;
    try {
      if (values === null || typeof values !== 'object') problem = `labels must be an object, got ${describe(values)}`;
      else {
        const given = values as Record<string, unknown>;
        for (const name of names) {
          const raw = given[name];
          const text = labelText(raw);
          if (text === undefined) problem ??= `label "${name}" is ${raw === undefined ? 'missing' : describe(raw)}`;
          copy[name] = text ?? '';
        }
        if (problem === undefined) {
          for (const name in given) {
            if (!names.includes(name)) {
              problem = `unknown label "${name}"`;
              break;
            }
          }
        }
      }
    } catch {
      problem = 'reading the label values threw';
    }
    if (problem !== undefined) {
      for (const name of names) copy[name] ??= '';
      this.reportInvalid(problem);
    }
    return Object.freeze(copy);
  }

  /**
   * Counts a label set a value function reported beyond `maxSeries` (left out of the read:
   * gauges cannot be folded into one series), warning once per family.
   */
  capRead(): void {
    this.owner.countFolded(this as Family<unknown>);
    if (this.warnedCap) return;
    this.warnedCap = true;
    process.emitWarning(
      `probekit: ${this.kind} "${this.name}" value function reported more than maxSeriesPerMetric (${this.maxSeries}) label sets; ` +
        'the rest were left out of the read (counted in probekit_folded_label_sets_total). Report fewer series or raise maxSeriesPerMetric.',
      { code: 'PROBEKIT_CARDINALITY_CAP' },
    );
  }

  /** The series for a clean label set (every declared name, string values): found, created, or folded. */
  private find(copy: Record<string, string>): S {
    const names = this.labelNames;
    let node: Node<S> = this.tree;
    for (let i = 0; i < names.length - 1; i++) {
      const next = node.get(copy[names[i] as string] as string) as Node<S> | undefined;
      if (next === undefined) return this.miss(copy);
      node = next;
    }
    const found = node.get(copy[names[names.length - 1] as string] as string) as S | undefined;
    return found === undefined ? this.miss(copy) : found;
  }

  /** Every series: the root, then the labelled children. */
  all(): S[] {
    return [this.root, ...this.children];
  }

  /**
   * The series worth reporting (snapshots, exporters): the root unless the family is
   * labelled and `used(root)` says the root was never touched, then the children.
   */
  reported(used: (series: S) => boolean): S[] {
    const out: S[] = this.labelNames.length === 0 || used(this.root) ? [this.root] : [];
    for (const child of this.children) out.push(child);
    return out;
  }

  /** Series beyond the root: every labelled child, for snapshots and exporters. */
  get size(): number {
    return this.children.length;
  }

  private miss(copy: Record<string, string>): S {
    const names = this.labelNames;
    const tracked = this.overflow === undefined ? this.children.length : this.children.length - 1;
    if (tracked >= this.maxSeries) return this.fold();
    const series = this.create(this, Object.freeze(copy));
    let node: Node<S> = this.tree;
    for (let i = 0; i < names.length - 1; i++) {
      const key = copy[names[i] as string] as string;
      let next = node.get(key) as Node<S> | undefined;
      if (next === undefined) {
        next = new Map() as Node<S>;
        next.key = key;
        next.up = node;
        node.set(key, next);
      }
      node = next;
    }
    node.set(copy[names[names.length - 1] as string] as string, series);
    // Keep the overflow series last so snapshots list real series first.
    if (this.overflow === undefined) this.children.push(series);
    else this.children.splice(this.children.length - 1, 0, series);
    return series;
  }

  private fold(): S {
    this.owner.countFolded(this as Family<unknown>);
    if (this.overflow === undefined) {
      const labels: Record<string, string> = {};
      for (const name of this.labelNames) labels[name] = OVERFLOW_LABEL_VALUE;
      this.overflow = this.create(this, Object.freeze(labels));
      this.children.push(this.overflow);
      process.emitWarning(
        `probekit: ${this.kind} "${this.name}" reached maxSeriesPerMetric (${this.maxSeries}) distinct label sets; ` +
          `further new label sets are folded into the series whose labels are all "${OVERFLOW_LABEL_VALUE}" ` +
          `(counted in probekit_folded_label_sets_total). Use fewer distinct label values or raise maxSeriesPerMetric.`,
        { code: 'PROBEKIT_CARDINALITY_CAP' },
      );
    }
    return this.overflow;
  }
}

/** A label value's string form: strings as they are, numbers, booleans and bigints by `String()`; `undefined` for anything else. */
function labelText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return undefined;
  }
}
