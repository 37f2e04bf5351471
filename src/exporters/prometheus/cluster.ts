/**
 * One `/metrics` for a `node:cluster` (or PM2 cluster mode) primary: every worker is
 * asked for its snapshot over IPC and the answers are merged. Counters and meter totals
 * are summed, histograms merged bucket by bucket, gauges summed or kept per worker with
 * a `worker` label holding the worker's slot (a replacement takes its predecessor's). The
 * messages are versioned: a version-2 worker answers with the families that changed since
 * the answer the primary holds; a version-1 worker with its whole snapshot. A worker that
 * does not answer in time is left out, reported as `probekit_worker_up{worker} 0` and
 * counted; the scrape still succeeds.
 */
import type { Worker } from 'node:cluster';
import { nodeCluster } from '../../util/lazy.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportedBound, familyPlan } from '../../probes/plan.js';
import type { FamilySnapshot, Snapshot } from '../../probes/types.js';
import { is, option, parseOptions, typeError } from '../../util/validate.js';
import { type CompactFamily, isMessage, PROTOCOL_VERSION, SNAPSHOT_REPLY, SNAPSHOT_REQUEST } from '../cluster-protocol.js';
import { slotFor } from './fleet.js';
import { escapeLabelValue, type Format, header, labelText, withLabel } from './format.js';
import { Exposition, type ExpositionOptions } from './exposition.js';
import { histogramLines, type HistogramLines, leEndings, scaledBounds, utf8, writeBucket } from './live.js';
import type { Sink } from './sink.js';
import { serveScrape } from './http.js';

/** How a gauge (metric, up/down counter) is merged across workers. */
export type GaugeMerge = 'worker' | 'sum';

/** Options of `prometheus.clusterHandler()`. */
export interface ClusterOptions extends Omit<ExpositionOptions, 'registry' | 'windowQuantiles'> {
  /** How long to wait for each worker's snapshot, in ms. @default 1000 */
  readonly timeoutMs?: number;
  /** Gauges kept per worker (a `worker` label) or summed. @default 'worker' */
  readonly gauges?: GaugeMerge;
  /** Per-metric exceptions to `gauges`, by exported name: `{ active_requests: 'sum' }`. @default {} */
  readonly merge?: Readonly<Record<string, GaugeMerge>>;
}

/** A version-3 family whose series keys are known (sent, or held from the last answer). */
type KeyedFamily = CompactFamily & { readonly keys: readonly string[] };

/** One worker's answer: a snapshot (versions 1 and 2), or compact families (version 3). */
interface WorkerSnapshot {
  readonly worker: string;
  readonly snapshot?: Snapshot;
  readonly compact?: readonly KeyedFamily[];
}

let nextId = 0;

/** What the primary holds of one worker's last answer: version 2 its families, version 3 each family's series keys. */
interface Held {
  readonly token: string;
  readonly families?: Map<string, FamilySnapshot>;
  readonly keys?: Map<string, readonly string[]>;
}

function isFamilyList(v: unknown): v is FamilySnapshot[] {
  return Array.isArray(v) && v.every((f) => f !== null && typeof f === 'object' && typeof (f as { name?: unknown }).name === 'string' && Array.isArray((f as { series?: unknown }).series));
}

/**
 * The worker's snapshot from its answer: a whole one (a version-1 worker, or a full
 * version-2 answer), or the families that changed applied to what `held` has. Anything
 * malformed is no answer, and forgets what was held.
 */
function fromReply(m: Readonly<Record<string, unknown>>, held: Map<number, Held>, workerId: number): Snapshot | undefined {
  if (typeof m.v !== 'number') {
    held.delete(workerId);
    const snap = m.snapshot as Snapshot | undefined;
    return snap !== null && typeof snap === 'object' && isFamilyList(snap.metrics) ? snap : undefined;
  }
  const { token, full, names, changed, time } = m;
  const before = held.get(workerId);
  held.delete(workerId);
  if (typeof token !== 'string' || typeof time !== 'number' || !isFamilyList(changed) || !Array.isArray(names) || !names.every((n) => typeof n === 'string')) return undefined;
  if (full !== true && before?.families === undefined) return undefined;
  const families = full === true || before?.families === undefined ? new Map<string, FamilySnapshot>() : before.families;
  for (const f of changed) families.set(f.name, f);
  const metrics: FamilySnapshot[] = [];
  for (const name of names as string[]) {
    const f = families.get(name);
    if (f === undefined) return undefined;
    metrics.push(f);
  }
  // Families the worker no longer has are dropped from what is held.
  for (const name of families.keys()) if (!(names as string[]).includes(name)) families.delete(name);
  held.set(workerId, { token, families });
  return { time, metrics };
}

const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const KINDS = new Set(['metric', 'counter', 'meter', 'histogram']);

/**
 * The families of a version-3 answer with their series keys: sent, or taken from the
 * answer held. Anything malformed (a value count that does not fit the keys, a family
 * without keys and none held) is no answer, and forgets what was held.
 */
function fromCompact(m: Readonly<Record<string, unknown>>, held: Map<number, Held>, workerId: number): KeyedFamily[] | undefined {
  const { token, full, families } = m;
  const before = held.get(workerId);
  held.delete(workerId);
  if (typeof token !== 'string' || !Array.isArray(families)) return undefined;
  const known = full === true ? undefined : before?.keys;
  if (full !== true && known === undefined) return undefined;
  const keys = new Map<string, readonly string[]>();
  const out: KeyedFamily[] = [];
  for (const f of families as unknown[]) {
    if (f === null || typeof f !== 'object') return undefined;
    const fam = f as CompactFamily;
    if (typeof fam.name !== 'string' || typeof fam.exportName !== 'string' || !KINDS.has(fam.kind) || !isStrings(fam.labelNames)) return undefined;
    if (fam.kind === 'metric') {
      if (fam.snapshot === undefined || !isFamilyList([fam.snapshot])) return undefined;
      out.push({ ...fam, keys: [] });
      continue;
    }
    const k = fam.keys ?? known?.get(fam.name);
    if (!isStrings(k) || !isNumbers(fam.values)) return undefined;
    if (fam.kind === 'histogram' && !isNumbers(fam.bounds)) return undefined;
    const stride = fam.kind === 'counter' ? 1 : fam.kind === 'meter' ? 2 : (fam.bounds as number[]).length + 3;
    if (fam.values.length !== k.length * stride) return undefined;
    keys.set(fam.name, k);
    out.push({ ...fam, keys: k });
  }
  held.set(workerId, { token, keys });
  return out;
}

type Answer = { readonly snapshot: Snapshot } | { readonly compact: readonly KeyedFamily[] };

function ask(worker: Worker, timeoutMs: number, held: Map<number, Held>): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const id = `${process.pid}:${++nextId}`;
    const done = (value: Answer | undefined): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(value);
    };
    const onMessage = (message: unknown): void => {
      if (!isMessage(message, SNAPSHOT_REPLY) || message.id !== id) return;
      if (typeof message.v === 'number' && message.v >= 3) {
        const compact = fromCompact(message, held, worker.id);
        done(compact === undefined ? undefined : { compact });
      } else {
        const snapshot = fromReply(message, held, worker.id);
        done(snapshot === undefined ? undefined : { snapshot });
      }
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    worker.on('message', onMessage);
    try {
      worker.send({ type: SNAPSHOT_REQUEST, v: PROTOCOL_VERSION, id, have: held.get(worker.id)?.token ?? null });
    } catch {
      done(undefined);
    }
  });
}

type Labels = Readonly<Record<string, string>>;

const NO_BOUNDS: readonly number[] = [];

/** One merged series: its label text, bucket bounds, values, the scrape that last merged it, and its line prefixes once written. */
interface Line {
  readonly labels: string;
  readonly bounds: readonly number[];
  readonly values: number[];
  used: number;
  prefix: Uint8Array | HistogramLines | undefined;
}

/**
 * One merged family: series keyed by their label text (and bucket bounds when they are
 * not the family's usual ones). It is kept from scrape to scrape, and so are its series
 * and their line prefixes: a scrape overwrites each series' values with the first
 * worker's and adds the others', and writes only the series some worker reported.
 */
class Merged {
  readonly lines = new Map<string, Line>();
  /** The scrape that last merged this family, and how many of its series it merged. */
  used = 0;
  live = 0;
  /** How many series were replaced under their key: routes made before a replacement are stale. */
  replaced = 0;
  constructor(
    readonly name: string,
    readonly type: 'counter' | 'gauge' | 'histogram' | 'info',
    readonly help: string,
    readonly unit: string | undefined,
  ) {}

  add(labels: string, values: readonly number[], bounds: readonly number[] = []): void {
    this.addRange(labels, values, 0, values.length, bounds, bounds.length === 0 ? '' : bounds.join(','));
  }

  /** The bounds most series of this family have: their lines are keyed by labels alone. */
  private commonBounds: string | undefined;

  /** Adds `values[from .. from + n)`, the last of them times `lastScale` (a histogram's sum into seconds); returns the series. */
  addRange(labels: string, values: readonly number[], from: number, n: number, bounds: readonly number[], boundsKey: string, lastScale = 1): Line {
    this.commonBounds ??= boundsKey;
    const key = boundsKey === this.commonBounds ? labels : `${labels}\u0000${boundsKey}`;
    let line = this.lines.get(key);
    if (line === undefined || line.values.length !== n) {
      // A series replaced under its key (a malformed older answer) must not be reached through a route.
      if (line !== undefined) this.replaced++;
      line = { labels, bounds, values: new Array<number>(n).fill(0), used: 0, prefix: undefined };
      this.lines.set(key, line);
    }
    this.into(line, values, from, n, lastScale);
    return line;
  }

  /** Adds into `line` (of this family, `n` values long), or overwrites its values if this is its first worker this scrape. */
  into(line: Line, values: readonly number[], from: number, n: number, lastScale: number): void {
    const own = line.values;
    if (line.used !== this.used) {
      line.used = this.used;
      this.live++;
      for (let i = 0; i < n - 1; i++) own[i] = values[from + i] as number;
      own[n - 1] = (values[from + n - 1] as number) * lastScale;
    } else {
      for (let i = 0; i < n - 1; i++) own[i] = (own[i] as number) + (values[from + i] as number);
      own[n - 1] = (own[n - 1] as number) + (values[from + n - 1] as number) * lastScale;
    }
  }
}

/**
 * Where one worker's series of one version-3 family went in the last merge: the merged
 * series for each of them, in the worker's order. While the worker's keys are the same
 * array (unchanged since its last answer) and the merged family the same object, its
 * values are added straight into those series, without a lookup or a label text each.
 */
interface Route {
  readonly keys: readonly string[];
  readonly family: Merged;
  readonly lines: Line[];
  /** A meter's second family (totals) and its series. */
  readonly family2: Merged | undefined;
  readonly lines2: Line[];
  /** The families' `replaced` counts (summed) when the route was made. */
  readonly replaced: number;
  /** A histogram family's bucket bounds as exported, joined. */
  readonly boundsKey?: string;
}

/** The merged families kept between the scrapes of one handler. */
export class MergeState {
  readonly families = new Map<string, Merged>();
  /** The scrape being merged. */
  scrape = 0;
  /** Each worker's routes, by family name. */
  readonly routes = new Map<string, Map<string, Route>>();
  /** One array per distinct bucket bounds, so that the writer formats them once per family. */
  readonly bounds = new Map<string, readonly number[]>();
}

/** The merged families' claimed names, and every name the workers' plans claim. */
export interface MergeResult {
  readonly claims: ReadonlySet<string>;
}

/** Merges the workers' snapshots into families ready to write; names and HELP come from each family's plan. */
export function mergeSnapshots(state: MergeState, snapshots: readonly WorkerSnapshot[], gauges: GaugeMerge, overrides: Readonly<Record<string, GaugeMerge>>): MergeResult {
  const { families } = state;
  const scrape = ++state.scrape;
  const claims = new Set<string>();
  const family = (claim: string, name: string, type: Merged['type'], help: string, unit?: string): Merged => {
    let f = families.get(claim);
    // A family that changed its name, type, HELP or unit since the last scrape (a deploy)
    // starts over; within a scrape the first worker's wins and every worker's values add
    // into it (during a rolling deploy old and new workers disagree on every scrape).
    if (f === undefined || (f.used !== scrape && (f.name !== name || f.type !== type || f.help !== help || f.unit !== unit))) {
      f = new Merged(name, type, help, unit);
      families.set(claim, f);
    }
    if (f.used !== scrape) {
      f.used = scrape;
      f.live = 0;
    }
    return f;
  };
  const planOf = (fam: { kind: FamilySnapshot['kind']; name: string; exportName: string; help: string | null; unit: string | null; monotonic?: boolean; samples?: number; timeframe?: number }) =>
    familyPlan({
      kind: fam.kind,
      name: fam.name,
      exportName: fam.exportName,
      help: fam.help ?? undefined,
      unit: fam.unit ?? undefined,
      monotonic: fam.kind === 'counter' ? fam.monotonic : undefined,
      samples: fam.kind === 'meter' ? fam.samples : undefined,
      timeframe: fam.kind === 'meter' ? fam.timeframe : undefined,
    });
  const mergeFamily = (worker: string, fam: FamilySnapshot): void => {
    const plan = planOf(fam);
    for (const c of plan.claims) claims.add(c);
    const perWorker = (overrides[fam.exportName] ?? gauges) === 'worker';
    const labelsOf = (labels: Labels, addWorker: boolean): string =>
      addWorker ? labelText([...fam.labelNames, 'worker'], { ...labels, worker }) : labelText(fam.labelNames, labels);
    switch (fam.kind) {
      case 'counter':
        for (const s of fam.series) family(plan.sample, plan.family, plan.type, plan.help).add(labelsOf(s.labels, !fam.monotonic && perWorker), [s.value]);
        break;
      case 'meter': {
        const events = plan.events as NonNullable<typeof plan.events>;
        for (const s of fam.series) {
          family(plan.sample, plan.family, 'gauge', plan.help).add(labelsOf(s.labels, false), [s.rate]);
          family(events.sample, events.family, 'counter', events.help).add(labelsOf(s.labels, false), [s.total]);
        }
        break;
      }
      case 'metric': {
        const info = plan.info as NonNullable<typeof plan.info>;
        for (const s of fam.series) {
          if (s.type === 'failed') continue;
          if (s.type === 'string') {
            family(info.sample, info.family, 'info', info.help).add(labelText([...fam.labelNames, 'value', 'worker'], { ...s.labels, value: s.value, worker }), [1]);
            continue;
          }
          const v = s.type === 'boolean' ? (s.value ? 1 : 0) : s.type === 'date' ? s.value / 1000 : s.value;
          family(plan.sample, plan.family, 'gauge', plan.help).add(labelsOf(s.labels, perWorker), [v]);
        }
        break;
      }
      case 'histogram': {
        const f = family(plan.sample, plan.family, 'histogram', plan.help, plan.unit);
        for (const s of fam.series) {
          f.add(labelsOf(s.labels, false), [...s.buckets.counts, s.value.count, s.value.sum * plan.scale], s.buckets.bounds.map((b) => exportedBound(b, plan.scale)));
        }
        break;
      }
    }
  };
  const sharedBounds = state.bounds;
  // Bounds from hostile workers could be many: the table is only a sharing aid.
  if (sharedBounds.size > 1024) sharedBounds.clear();
  /** A version-3 family: its keys are label texts already; values come flat, `stride` per series. */
  const mergeCompact = (worker: string, fam: KeyedFamily, routes: Map<string, Route>, seen: Set<string>): void => {
    if (fam.kind === 'metric') {
      mergeFamily(worker, fam.snapshot as FamilySnapshot);
      return;
    }
    const plan = planOf(fam);
    for (const c of plan.claims) claims.add(c);
    const { keys } = fam;
    const values = fam.values as readonly number[];
    const n = keys.length;
    seen.add(fam.name);
    const route = routes.get(fam.name);
    // A route's series were all merged in the scrape before (its worker answered with this
    // family, or the route would be gone), so no sweep has let go of any of them.
    const fresh = (f: Merged, f2?: Merged): boolean =>
      route !== undefined && route.keys === keys && route.family === f && route.family2 === f2 && route.replaced === f.replaced + (f2?.replaced ?? 0);
    switch (fam.kind) {
      case 'counter': {
        const f = family(plan.sample, plan.family, plan.type, plan.help);
        if (fresh(f)) {
          const lines = (route as Route).lines;
          for (let i = 0; i < n; i++) f.into(lines[i] as Line, values, i, 1, 1);
          break;
        }
        const addWorker = fam.monotonic !== true && (overrides[fam.exportName] ?? gauges) === 'worker';
        const tag = `worker="${escapeLabelValue(worker)}"`;
        const lines: Line[] = [];
        for (let i = 0; i < n; i++) lines.push(f.addRange(addWorker ? withLabel(keys[i] as string, tag) : (keys[i] as string), values, i, 1, NO_BOUNDS, ''));
        routes.set(fam.name, { keys, family: f, lines, family2: undefined, lines2: [], replaced: f.replaced });
        break;
      }
      case 'meter': {
        const events = plan.events as NonNullable<typeof plan.events>;
        const rates = family(plan.sample, plan.family, 'gauge', plan.help);
        const totals = family(events.sample, events.family, 'counter', events.help);
        if (fresh(rates, totals)) {
          const { lines, lines2 } = route as Route;
          for (let i = 0; i < n; i++) {
            rates.into(lines[i] as Line, values, 2 * i, 1, 1);
            totals.into(lines2[i] as Line, values, 2 * i + 1, 1, 1);
          }
          break;
        }
        const lines: Line[] = [];
        const lines2: Line[] = [];
        for (let i = 0; i < n; i++) {
          lines.push(rates.addRange(keys[i] as string, values, 2 * i, 1, NO_BOUNDS, ''));
          lines2.push(totals.addRange(keys[i] as string, values, 2 * i + 1, 1, NO_BOUNDS, ''));
        }
        routes.set(fam.name, { keys, family: rates, lines, family2: totals, lines2, replaced: rates.replaced + totals.replaced });
        break;
      }
      case 'histogram': {
        const f = family(plan.sample, plan.family, 'histogram', plan.help, plan.unit);
        const stride = (fam.bounds as readonly number[]).length + 3;
        const exported = (fam.bounds as readonly number[]).map((b) => exportedBound(b, plan.scale));
        const boundsKey = exported.join(',');
        if (fresh(f) && (route as Route).boundsKey === boundsKey) {
          const lines = (route as Route).lines;
          for (let i = 0; i < n; i++) f.into(lines[i] as Line, values, i * stride, stride, plan.scale);
          break;
        }
        const bounds = sharedBounds.get(boundsKey) ?? exported;
        sharedBounds.set(boundsKey, bounds);
        const lines: Line[] = [];
        for (let i = 0; i < n; i++) lines.push(f.addRange(keys[i] as string, values, i * stride, stride, bounds, boundsKey, plan.scale));
        routes.set(fam.name, { keys, family: f, lines, family2: undefined, lines2: [], replaced: f.replaced, boundsKey });
        break;
      }
    }
  };
  // Routes are kept for the workers that answer: a worker that did not (gone, replaced,
  // silent) has its routes made again when it answers.
  for (const worker of state.routes.keys()) if (!snapshots.some((s) => s.worker === worker)) state.routes.delete(worker);
  for (const { worker, snapshot, compact } of snapshots) {
    if (snapshot !== undefined) {
      state.routes.delete(worker);
      for (const fam of snapshot.metrics as FamilySnapshot[]) mergeFamily(worker, fam);
    }
    if (compact !== undefined) {
      let routes = state.routes.get(worker);
      if (routes === undefined) state.routes.set(worker, (routes = new Map()));
      const seen = new Set<string>();
      for (const fam of compact) mergeCompact(worker, fam, routes, seen);
      // Routes of families the worker no longer has go.
      for (const name of routes.keys()) if (!seen.has(name)) routes.delete(name);
    }
  }
  // What is kept stays bounded: a family no worker reported for 16 scrapes is let go, and
  // a family's series no worker reported once they outnumber the live ones.
  for (const [claim, f] of families) {
    if (scrape - f.used > 16) families.delete(claim);
    else if (f.used === scrape && f.lines.size > 2 * f.live + 1024) for (const [key, line] of f.lines) if (line.used !== scrape) f.lines.delete(key);
  }
  return { claims };
}

/**
 * Writes the families and series of the latest merge in either format into a scrape's
 * sink. Each series' sample-line prefixes are made on its first scrape and kept with it,
 * so a scrape of the primary is mostly copies and digits, as a worker's is.
 */
export function writeMerged(state: MergeState, format: Format, sink: Sink): void {
  const scrape = state.scrape;
  for (const f of state.families.values()) {
    if (f.used !== scrape) continue;
    sink.text(header(f.name, f.type, f.help, f.unit, format));
    // Series share their bounds (as arrays of the same values): their line ends are made once per family.
    let lastBounds: readonly number[] | undefined;
    let ends: Uint8Array[] = [];
    for (const line of f.lines.values()) {
      if (line.used !== scrape) continue;
      const { labels, bounds, values } = line;
      const prefix = (line.prefix ??=
        f.type === 'counter'
          ? utf8(`${f.name}_total${labels} `)
          : f.type === 'gauge'
            ? utf8(`${f.name}${labels} `)
            : f.type === 'info'
              ? utf8(`${f.name}_info${labels} `)
              : histogramLines(f.name, labels));
      if (prefix instanceof Uint8Array) sink.line(prefix, f.type === 'info' ? 1 : (values[0] as number));
      else {
        if (bounds !== lastBounds) {
          lastBounds = bounds;
          ends = leEndings(scaledBounds(bounds, 1, format));
        }
        const n = ends.length - 1;
        for (let i = 0; i < n; i++) writeBucket(sink, prefix, ends[i] as Uint8Array, values[i] as number);
        writeBucket(sink, prefix, ends[n] as Uint8Array, values[n + 1] as number);
        sink.line(prefix.count, values[n + 1] as number);
        sink.line(prefix.sum, values[n + 2] as number);
      }
    }
  }
}

const MERGES = ['worker', 'sum'] as const;

const CLUSTER_OPTIONS = {
  timeoutMs: option(is.integer(1), 1000),
  gauges: option(is.oneOf(MERGES), 'worker'),
  merge: option((where, v): Readonly<Record<string, GaugeMerge>> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError(where, 'an object of exported name → "worker" | "sum"', v);
    for (const [name, how] of Object.entries(v)) is.oneOf(MERGES)(`${where.replace(/"$/, '')}.${name}"`, how);
    return v as Readonly<Record<string, GaugeMerge>>;
  }, {}),
  defaultMetrics: option(is.any),
  onError: option(is.function<(e: Error) => void>()),
};

/**
 * A `(req, res)` handler for the primary of a `node:cluster` (or PM2 cluster mode): asks
 * every worker for its snapshot and serves one aggregated exposition. Workers need no
 * setup beyond importing probekit.
 *
 * @example
 * if (cluster.isPrimary) {
 *   http.createServer(prometheus.clusterHandler({ merge: { active_requests: 'sum' } })).listen(9464);
 *   for (let i = 0; i < 2; i++) cluster.fork();
 * }
 */
export function clusterHandler(options: ClusterOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const opts = parseOptions('prometheus.clusterHandler()', CLUSTER_OPTIONS, options);
  const { timeoutMs, gauges, merge } = opts;
  // The primary's own registry carries the cluster self-metric and, when asked, its default metrics.
  const exposition = new Exposition('prometheus.clusterHandler()', {
    ...(opts.defaultMetrics === undefined ? {} : { defaultMetrics: opts.defaultMetrics as boolean }),
    ...(opts.onError === undefined ? {} : { onError: opts.onError as (e: Error) => void }),
  });
  const primary = exposition.sources[0] as import('../../probes/probe.js').Registry;
  const missing = primary.selfCounter('probekit_cluster_missing_workers', 'Workers that did not answer a cluster scrape in time');
  const held = new Map<number, Held>();
  const state = new MergeState();
  const produce = async (format: Format): Promise<Buffer> => {
    const workers = Object.values(nodeCluster().workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    for (const id of held.keys()) if (!workers.some((w) => w.id === id)) held.delete(id);
    // Each worker is named by its slot, which a replacement takes over: its series go on.
    const answers = await Promise.all(workers.map(async (w) => ({ worker: String(slotFor(w)), answer: await ask(w, timeoutMs, held) })));
    const got: WorkerSnapshot[] = [];
    let up = header('probekit_worker_up', 'gauge', 'Whether each worker answered this scrape in time (1) or not (0), by worker slot', undefined, format);
    for (const a of answers.sort((x, y) => Number(x.worker) - Number(y.worker))) {
      up += `probekit_worker_up${labelText(['worker'], { worker: a.worker })} ${a.answer === undefined ? 0 : 1}\n`;
      if (a.answer === undefined) missing.inc();
      else got.push({ worker: a.worker, ...a.answer });
    }
    const merged = mergeSnapshots(state, got, gauges, merge);
    // Then the primary's own families the workers do not have (its self-metrics, default metrics).
    return exposition.bytes(format, merged.claims, (sink) => {
      writeMerged(state, format, sink);
      sink.text(up);
    });
  };
  return (req, res) => serveScrape(exposition, produce, req, res);
}

