/**
 * One exposition from several sources (probekit registries, prom-client registries),
 * with family names checked once up front and on every scrape, written as bytes into one
 * {@link Sink} per scrape, and the event loop given a turn whenever a scrape has run for 5 ms.
 */
import { defaultRegistry, isRegistry, Registry } from '../../probes/probe.js';
import type { Probe } from '../../probes/types.js';
import { is, nameConflict, option, parseOptions, type Schema, typeError } from '../../util/validate.js';
import { runtimeMetrics } from '../../runtime/index.js';
import type { Counter } from '../../probes/counter.js';
import { type Format } from './format.js';
import { type WriteOptions, writeProbe } from './live.js';
import { isPromRegistry, promSampleNames, type PromRegistry, writePromRegistry } from './promclient.js';
import { Sink } from './sink.js';

/**
 * What the `defaultMetrics` option takes besides `true`: the options of prom-client's
 * `collectDefaultMetrics` that carry over to probekit's runtime metrics, which serve it.
 */
export interface DefaultMetricsOptions {
  /** Prepended to every family name as written (`svc_`). @default '' */
  readonly prefix?: string;
  /** How often the event-loop delay is sampled, in ms. @default 10, as prom-client, so the figures read as they did */
  readonly eventLoopMonitoringPrecision?: number;
}

const DEFAULT_METRICS_OPTIONS = {
  prefix: option(is.string),
  eventLoopMonitoringPrecision: option(is.integer(1, 10_000)),
};

const defaultMetricsProbes = new Map<string, Registry>();

/**
 * The registry holding the default metrics for these options: probekit's runtime metrics
 * with prom-client's names (`naming: 'classic'`), in a registry of their own made on first
 * use and shared, so asking twice samples once and a family is never written twice.
 */
function defaultMetricsProbe(where: string, given: true | object): Registry {
  const opts = parseOptions(where, DEFAULT_METRICS_OPTIONS, given === true ? {} : given);
  const key = JSON.stringify(opts);
  let registry = defaultMetricsProbes.get(key);
  if (registry === undefined) {
    registry = new Registry();
    runtimeMetrics({
      registry,
      naming: 'classic',
      ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
      eventLoopResolutionMs: opts.eventLoopMonitoringPrecision ?? 10,
    });
    defaultMetricsProbes.set(key, registry);
  }
  return registry;
}

/** What an exposition reads: probekit registries and prom-client registries. */
export type Source = Probe | PromRegistry;

/** A source as the exporter holds it, checked. */
type Checked = Registry | PromRegistry;

/** Options shared by `text()`, `handler()` and `serve()`. */
export interface ExpositionOptions {
  /**
   * What to expose: a probekit registry (`probe`, `createProbe()`), a prom-client
   * `Registry` to merge, or a list of them. Family names must be unique across them.
   * @default the default `probe`
   */
  readonly registry?: Source | readonly Source[];
  /**
   * Adds the process metrics under prom-client's default-metric names (CPU, memory, event
   * loop lag, GC, active resources…), served by probekit's runtime metrics with
   * `naming: 'classic'` (prom-client is not loaded for them); an object takes `prefix` and
   * `eventLoopMonitoringPrecision`. Prefer calling `runtimeMetrics()` yourself: every
   * exporter then carries them. @default false
   */
  readonly defaultMetrics?: boolean | DefaultMetricsOptions;
  /** Also expose each histogram's window percentiles as a `<name>_window` summary family (`quantile` labels). @default false */
  readonly windowQuantiles?: boolean;
  /** Called with every exporter failure (never thrown into the application). @default none */
  readonly onError?: (error: Error) => void;
}

/** The options every exposition takes, each with its check and default. */
const EXPOSITION_OPTIONS = {
  registry: option(is.any),
  defaultMetrics: option((where, v): boolean | DefaultMetricsOptions => {
    if (typeof v !== 'boolean' && (v === null || typeof v !== 'object')) throw typeError(where, 'a boolean or collectDefaultMetrics options', v);
    return v as boolean | DefaultMetricsOptions;
  }, false),
  windowQuantiles: option(is.boolean, false),
  onError: option(is.function<(error: Error) => void>()),
};

/** A configured exposition: what the handler and server run per scrape. */
export class Exposition {
  readonly sources: readonly Checked[];
  readonly windowQuantiles: boolean;
  private readonly onError: ((error: Error) => void) | undefined;
  private readonly errors: Counter<'exporter'>;
  private readonly omitted: Counter<'exporter'>;

  constructor(where: string, options: ExpositionOptions, extra: Schema = {}) {
    const opts = parseOptions(where, { ...EXPOSITION_OPTIONS, ...extra }, options);
    const given: unknown[] = opts.registry === undefined ? [defaultRegistry] : Array.isArray(opts.registry) ? opts.registry : [opts.registry];
    const sources: Checked[] = [];
    for (const s of given) {
      if (!isRegistry(s) && !isPromRegistry(s)) {
        throw typeError(`${where} option "registry"`, 'a probekit registry (probe, createProbe()) or a prom-client Registry, or a list of them', s);
      }
      sources.push(s);
    }
    if (sources.length === 0) throw typeError(`${where} option "registry"`, 'at least one registry', opts.registry);
    const dm = opts.defaultMetrics;
    const defaults = dm === true || typeof dm === 'object' ? defaultMetricsProbe(`${where} option "defaultMetrics"`, dm) : undefined;
    if (defaults !== undefined) sources.push(defaults);
    this.sources = sources;
    this.windowQuantiles = opts.windowQuantiles;
    this.onError = opts.onError;
    const self = sources.find((s): s is Registry => isRegistry(s)) ?? defaultRegistry;
    this.errors = self.selfCounter('probekit_exporter_errors', 'Exporter failures (scrape, send, serialisation), by exporter', ['exporter']);
    this.omitted = self.selfCounter(
      'probekit_exporter_omitted',
      'Samples a format cannot carry, left out of a scrape (OpenMetrics: a _sum beside negative values, a negative quantile), by exporter',
      ['exporter'],
    );
    if (sources.length > 1) checkUnique(sources, defaults);
  }

  /** Reports an exporter failure: the onError option and `probekit_exporter_errors_total`. Never throws. */
  fail(error: unknown, exporter = 'prometheus'): void {
    try {
      this.errors.labels({ exporter }).inc();
      this.onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // an onError that throws must not reach the application either
    }
  }

  /** The size of the latest scrape in bytes: the next one starts with a buffer that fits. */
  private lastBytes = 0;

  /**
   * The exposition as UTF-8 bytes. Families named in `skip` are left out (the caller wrote
   * them already); `before` writes first into the same sink (the cluster merge).
   */
  async bytes(format: Format, skip: ReadonlySet<string> = new Set(), before?: (sink: Sink) => void): Promise<Buffer> {
    const sink = new Sink(this.lastBytes);
    before?.(sink);
    // Whenever the scrape has run for PACE_MS the event loop gets a turn.
    let last = performance.now();
    const options: WriteOptions = {
      format,
      sink,
      windowQuantiles: this.windowQuantiles,
      seen: new Set(),
      skip,
      onDuplicate: (name) =>
        // Every probekit registry has the self-metrics: the first registry's are written.
        name.startsWith('probekit_') ||
        this.fail(new Error(`probekit: prometheus: the family "${name}" is exposed by two registries; the second was left out of the scrape`)),
      omitted: (n) => this.omitted.labels({ exporter: 'prometheus' }).inc(n),
      pace: () => {
        if (performance.now() - last < PACE_MS) return undefined;
        return new Promise<void>((resolve) =>
          setImmediate(() => {
            last = performance.now();
            resolve();
          }),
        );
      },
    };
    for (const source of this.sources) {
      if (isRegistry(source)) await writeProbe(source, options);
      else await writePromRegistry(source, options);
    }
    if (format.openMetrics) sink.text('# EOF\n');
    this.lastBytes = sink.length;
    return sink.result();
  }

  /** The exposition text; families named in `skip` are left out (written already by the caller). */
  async text(format: Format, skip: ReadonlySet<string> = new Set()): Promise<string> {
    return (await this.bytes(format, skip)).toString('utf8');
  }
}

/** How long a scrape writes before it yields to the event loop, in ms. */
const PACE_MS = 5;

/** Every name a probekit registry may write (each family's plan), without the self-metrics every registry has. */
function probeSampleNames(p: Registry): string[] {
  const out: string[] = [];
  for (const f of p.families()) {
    if (p.isSelf(f)) continue;
    out.push(...f.plan.exposed);
  }
  return out;
}

/** How an error message names source `i`. */
function sourceName(sources: readonly Checked[], i: number, defaults: Registry | undefined): string {
  return sources[i] === defaults ? 'the default metrics (option "defaultMetrics")' : `registry #${i + 1} of the "registry" option`;
}

/**
 * Throws when two sources would write one sample name (a family, or a name a family
 * derives: `_total`, `_bucket`, `_sum`…): a clear error now, not a broken scrape.
 */
function checkUnique(sources: readonly Checked[], defaults: Registry | undefined): void {
  const owner = new Map<string, number>();
  sources.forEach((source, i) => {
    const names = isRegistry(source) ? probeSampleNames(source) : promSampleNames(source);
    for (const name of names) {
      const first = owner.get(name);
      if (first !== undefined && first !== i) {
        throw nameConflict(
          `probekit: prometheus: "${name}" is exposed by ${sourceName(sources, first, defaults)} and by ${sourceName(sources, i, defaults)}; rename one of them`,
        );
      }
      owner.set(name, i);
    }
  });
}
