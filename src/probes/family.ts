/**
 * A family is everything a probe name owns: its metadata, its root series and the
 * labelled child series, found through a tree of Maps (one level per label name) so
 * that `labels({...})` builds no key string and allocates nothing on a hit.
 */
import type { TapConfig } from './tap.js';
import type { TimeSource } from './time.js';
import { describe } from './validate.js';

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
}

type Node<S> = Map<string, Node<S> | S>;

export class Family<S> implements FamilyInfo {
  readonly kind: Kind;
  readonly name: string;
  readonly exportName: string;
  readonly help: string | undefined;
  readonly unit: string | undefined;
  readonly labelNames: readonly string[];
  readonly signature: string;
  readonly owner: FamilyOwner;
  /** Distinct label sets tracked before folding: the registry's cap, or unbounded for self-metrics. */
  readonly maxSeries: number;
  /** The unlabelled series: the object `probe.counter()` etc. return. */
  readonly root: S;
  /** Labelled series in creation order (the overflow series last, once it exists). */
  readonly children: S[] = [];
  private readonly tree: Node<S> = new Map();
  private readonly create: (family: Family<S>, labels: LabelValues) => S;
  private overflow: S | undefined;
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
    this.create = create;
    if (info.kind === 'histogram') this.tap = owner.histogramTap;
    this.root = create(this, Object.freeze({}));
  }

  /** Counts a value a recording call rejected. Off the fast path by construction. */
  drop(): void {
    this.owner.countDropped(this as Family<unknown>);
  }

  /** Counts a value function that threw or returned something unusable. */
  failedRead(): void {
    this.owner.countFailedRead(this as Family<unknown>);
  }

  /**
   * The child series for `values`. The hit path walks one Map per label name and
   * counts the object's keys with `for...in` (no allocation) so extra labels are caught
   * even when the declared ones hit the cache.
   */
  child(values: LabelValues): S {
    const names = this.labelNames;
    let keys = 0;
    for (const _ in values) keys++;
    if (keys !== names.length || names.length === 0) return this.reject(values);
    let node: Node<S> = this.tree;
    const last = names.length - 1;
    for (let i = 0; i < last; i++) {
      const value = values[names[i] as string];
      if (typeof value !== 'string') return this.reject(values);
      const next = node.get(value) as Node<S> | undefined;
      if (next === undefined) return this.miss(values);
      node = next;
    }
    const value = values[names[last] as string];
    if (typeof value !== 'string') return this.reject(values);
    const found = node.get(value) as S | undefined;
    return found === undefined ? this.miss(values) : found;
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

  private miss(values: LabelValues): S {
    const names = this.labelNames;
    // The hit path stops at the first unseen value: check every label before creating anything.
    for (const name of names) if (typeof values[name] !== 'string') return this.reject(values);
    const tracked = this.overflow === undefined ? this.children.length : this.children.length - 1;
    if (tracked >= this.maxSeries) return this.fold();
    const copy: Record<string, string> = {};
    for (const name of names) copy[name] = values[name] as string;
    const series = this.create(this, Object.freeze(copy));
    let node: Node<S> = this.tree;
    for (let i = 0; i < names.length - 1; i++) {
      const key = copy[names[i] as string] as string;
      let next = node.get(key) as Node<S> | undefined;
      if (next === undefined) {
        next = new Map();
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

  private reject(values: unknown): never {
    const where = `${this.kind} "${this.name}".labels()`;
    if (this.labelNames.length === 0) {
      throw new TypeError(`probekit: ${where}: this ${this.kind} declares no labels; declare them with the "labels" option`);
    }
    if (values === null || typeof values !== 'object') {
      throw new TypeError(
        `probekit: ${where} must be given an object with the labels ${this.labelNames.join(', ')}, got ${describe(values)}`,
      );
    }
    const given = values as Record<string, unknown>;
    for (const name of this.labelNames) {
      if (!(name in given)) {
        throw new TypeError(`probekit: ${where} is missing label "${name}"; expected exactly: ${this.labelNames.join(', ')}`);
      }
      const value = given[name];
      if (typeof value !== 'string') {
        throw new TypeError(`probekit: ${where} label "${name}" must be a string, got ${describe(value)}`);
      }
    }
    for (const name in given) {
      if (!this.labelNames.includes(name)) {
        throw new TypeError(`probekit: ${where} got unknown label "${name}"; expected exactly: ${this.labelNames.join(', ')}`);
      }
    }
    /* c8 ignore next */
    throw new TypeError(`probekit: ${where} got invalid labels ${describe(values)}`);
  }
}
