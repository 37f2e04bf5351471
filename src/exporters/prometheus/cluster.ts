/**
 * One `/metrics` for a `node:cluster` (or PM2 cluster mode) primary: every worker is
 * asked for its snapshot over IPC and the answers are merged. Counters and meter totals
 * are summed, histograms merged bucket by bucket, gauges summed or kept per worker with
 * a `worker` label. A worker that does not answer in time is left out and counted; the
 * scrape still succeeds.
 */
import cluster, { type Worker } from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportsSeconds, familyName } from '../../probes/names.js';
import { msPerUnit } from '../../probes/histogram.js';
import type { FamilySnapshot, Snapshot } from '../../probes/types.js';
import { checkInteger, checkKnownKeys, checkObject, typeError } from '../../probes/validate.js';
import { SNAPSHOT_REPLY, SNAPSHOT_REQUEST } from '../cluster-worker.js';
import { type Format, formatValue, header, labelText, withLabel } from './format.js';
import { Exposition, type ExpositionOptions } from './exposition.js';
import { helpText } from './live.js';
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

interface WorkerSnapshot {
  readonly worker: string;
  readonly snapshot: Snapshot;
}

let nextId = 0;

function ask(worker: Worker, timeoutMs: number): Promise<Snapshot | undefined> {
  return new Promise((resolve) => {
    const id = `${process.pid}:${++nextId}`;
    const done = (value: Snapshot | undefined): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(value);
    };
    const onMessage = (message: unknown): void => {
      const m = message as { type?: unknown; id?: unknown; snapshot?: unknown } | null;
      if (m === null || typeof m !== 'object' || m.type !== SNAPSHOT_REPLY || m.id !== id) return;
      const snap = m.snapshot as Snapshot | undefined;
      done(snap !== null && typeof snap === 'object' && Array.isArray(snap.metrics) ? snap : undefined);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    worker.on('message', onMessage);
    try {
      worker.send({ type: SNAPSHOT_REQUEST, id });
    } catch {
      done(undefined);
    }
  });
}

type Labels = Readonly<Record<string, string>>;

/** Accumulates one merged family: samples keyed by their label text. */
class Merged {
  readonly lines = new Map<string, { labels: string; values: number[] }>();
  constructor(
    readonly name: string,
    readonly type: 'counter' | 'gauge' | 'histogram' | 'info',
    readonly help: string,
    readonly unit: string | undefined,
  ) {}

  add(labels: string, values: readonly number[]): void {
    const entry = this.lines.get(labels);
    if (entry === undefined) this.lines.set(labels, { labels, values: [...values] });
    else for (let i = 0; i < values.length; i++) entry.values[i] = (entry.values[i] ?? 0) + (values[i] as number);
  }
}

/** Merges the workers' snapshots into families ready to write. */
export function mergeSnapshots(snapshots: readonly WorkerSnapshot[], gauges: GaugeMerge, overrides: Readonly<Record<string, GaugeMerge>>): Map<string, Merged> {
  const families = new Map<string, Merged>();
  const family = (name: string, type: Merged['type'], help: string, unit?: string): Merged => {
    let f = families.get(name);
    if (f === undefined) {
      f = new Merged(name, type, help, unit);
      families.set(name, f);
    }
    return f;
  };
  for (const { worker, snapshot } of snapshots) {
    for (const fam of snapshot.metrics as FamilySnapshot[]) {
      const base = fam.exportName;
      const help = helpText(fam.name, base, fam.help ?? undefined, fam.unit ?? undefined);
      const perWorker = (overrides[base] ?? gauges) === 'worker';
      const labelsOf = (labels: Labels, addWorker: boolean): string =>
        addWorker ? labelText([...fam.labelNames, 'worker'], { ...labels, worker }) : labelText(fam.labelNames, labels);
      switch (fam.kind) {
        case 'counter':
          if (fam.monotonic) for (const s of fam.series) family(base, 'counter', help).add(labelsOf(s.labels, false), [s.value]);
          else for (const s of fam.series) family(base, 'gauge', help).add(labelsOf(s.labels, perWorker), [s.value]);
          break;
        case 'meter':
          for (const s of fam.series) {
            const per = fam.samples === 1 ? 'second' : `${fam.samples} s`;
            family(base, 'gauge', `${help} — events per ${per} over the last ${fam.timeframe} s`).add(labelsOf(s.labels, false), [s.rate]);
            family(`${base}_events`, 'counter', `${help} — events since start`).add(labelsOf(s.labels, false), [s.total]);
          }
          break;
        case 'metric':
          for (const s of fam.series) {
            if (s.type === 'failed') continue;
            if (s.type === 'string') {
              family(base, 'info', help).add(labelText(['value', 'worker'], { value: s.value, worker }), [1]);
              continue;
            }
            const v = s.type === 'boolean' ? (s.value ? 1 : 0) : s.type === 'date' ? s.value / 1000 : s.value;
            family(base, 'gauge', help).add(labelsOf(s.labels, perWorker), [v]);
          }
          break;
        case 'histogram': {
          const seconds = exportsSeconds(fam.unit ?? undefined);
          const name = familyName('histogram', base, fam.unit ?? undefined);
          const scale = seconds ? (msPerUnit(fam.unit ?? undefined) as number) / 1000 : 1;
          const f = family(name, 'histogram', helpText(fam.name, base, fam.help ?? undefined, seconds ? undefined : (fam.unit ?? undefined)), seconds ? 'seconds' : undefined);
          for (const s of fam.series) {
            const key = `${labelsOf(s.labels, false)}\u0000${s.buckets.bounds.map((b) => formatValue(scale === 1 ? b : Number((b * scale).toPrecision(15)))).join(',')}`;
            f.add(key, [...s.buckets.counts, s.value.count, s.value.sum * scale]);
          }
          break;
        }
      }
    }
  }
  return families;
}

/** Writes merged families in either format. */
export function writeMerged(families: Map<string, Merged>, format: Format): string {
  let out = '';
  for (const f of families.values()) {
    out += header(f.name, f.type, f.help, f.unit, format);
    for (const { labels, values } of f.lines.values()) {
      if (f.type === 'counter') out += `${f.name}_total${labels} ${formatValue(values[0] as number)}\n`;
      else if (f.type === 'gauge') out += `${f.name}${labels} ${formatValue(values[0] as number)}\n`;
      else if (f.type === 'info') out += `${f.name}_info${labels} 1\n`;
      else {
        const [labelPart = '', boundPart = ''] = labels.split('\u0000');
        const bounds = boundPart === '' ? [] : boundPart.split(',');
        const n = bounds.length;
        for (let i = 0; i < n; i++) out += `${f.name}_bucket${withLabel(labelPart, `le="${bounds[i]}"`)} ${formatValue(values[i] as number)}\n`;
        out += `${f.name}_bucket${withLabel(labelPart, 'le="+Inf"')} ${formatValue(values[n + 1] as number)}\n`;
        out += `${f.name}_count${labelPart} ${formatValue(values[n + 1] as number)}\n${f.name}_sum${labelPart} ${formatValue(values[n + 2] as number)}\n`;
      }
    }
  }
  return out;
}

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
  const opts = checkObject('prometheus.clusterHandler() options', options);
  checkKnownKeys('prometheus.clusterHandler()', opts, ['timeoutMs', 'gauges', 'merge', 'defaultMetrics', 'onError']);
  const timeoutMs = opts.timeoutMs === undefined ? 1000 : checkInteger('prometheus.clusterHandler() option "timeoutMs"', opts.timeoutMs, 1);
  const gauges = (opts.gauges ?? 'worker') as GaugeMerge;
  if (gauges !== 'worker' && gauges !== 'sum') throw typeError('prometheus.clusterHandler() option "gauges"', '"worker" or "sum"', opts.gauges);
  const merge = (opts.merge ?? {}) as Record<string, GaugeMerge>;
  if (merge === null || typeof merge !== 'object') throw typeError('prometheus.clusterHandler() option "merge"', 'an object of exported name → "worker" | "sum"', merge);
  for (const [name, how] of Object.entries(merge)) {
    if (how !== 'worker' && how !== 'sum') throw typeError(`prometheus.clusterHandler() option "merge.${name}"`, '"worker" or "sum"', how);
  }
  // The primary's own registry carries the cluster self-metric and, when asked, its default metrics.
  const exposition = new Exposition('prometheus.clusterHandler()', {
    ...(opts.defaultMetrics === undefined ? {} : { defaultMetrics: opts.defaultMetrics as boolean }),
    ...(opts.onError === undefined ? {} : { onError: opts.onError as (e: Error) => void }),
  });
  const primary = exposition.sources[0] as import('../../probes/probe.js').Registry;
  const missing = primary.selfCounter('probekit_cluster_missing_workers', 'Workers that did not answer a cluster scrape in time');
  const produce = async (format: Format): Promise<string> => {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const answers = await Promise.all(workers.map(async (w) => ({ worker: String(w.id), snapshot: await ask(w, timeoutMs) })));
    const got: WorkerSnapshot[] = [];
    for (const a of answers) {
      if (a.snapshot === undefined) missing.inc();
      else got.push({ worker: a.worker, snapshot: a.snapshot });
    }
    const merged = mergeSnapshots(got, gauges, merge);
    // Then the primary's own families the workers do not have (its self-metrics, default metrics).
    const written = new Set([...merged.keys()].flatMap((n) => [n, `${n}_total`, `${n}_info`, `${n}_events_total`]));
    return writeMerged(merged, format) + (await exposition.text(format, written));
  };
  return (req, res) => serveScrape(exposition, produce, req, res);
}

