/**
 * In a `node:cluster` worker (PM2 cluster mode included), answers the primary's
 * snapshot requests for `prometheus.clusterHandler()`. Loaded by importing probekit:
 * workers need no setup; outside a cluster worker it installs nothing. It keeps nothing
 * alive: the IPC channel stays as the application left it.
 *
 * A version-3 primary gets each family as one flat array of numbers, read straight from
 * the registry, with its series' label texts only when they changed since the answer it
 * names as held (`have`). A version-2 primary gets the families that changed since the
 * answer it holds, as snapshot families, with the names of all of them. A version-1
 * primary (no `v`) gets the whole snapshot.
 */
import type { Counter } from '../probes/counter.js';
import type { Family } from '../probes/family.js';
import type { Histogram } from '../probes/histogram.js';
import type { Meter } from '../probes/meter.js';
import { defaultRegistry } from '../probes/probe.js';
import { nodeCluster } from '../util/lazy.js';
import { type CompactFamily, isMessage, PROTOCOL_VERSION, SNAPSHOT_REPLY, SNAPSHOT_REQUEST } from './cluster-protocol.js';
import { labelText } from './prometheus/format.js';

/** This worker's last answer to a version-2 primary: its token and each family's JSON. */
let last: { token: string; families: Map<string, string> } | undefined;
/** This worker's last answer to a version-3 primary: its token and each family's series keys. */
let lastCompact: { token: string; keys: Map<string, readonly string[]> } | undefined;
let answers = 0;

/** Each series' label text (`{a="x"}`), made once: series objects live as long as their family. */
const keyOf = new WeakMap<object, string>();

function seriesKey(series: object & { readonly labelValues: Readonly<Record<string, string>> }, names: readonly string[]): string {
  let key = keyOf.get(series);
  if (key === undefined) {
    key = labelText(names, series.labelValues);
    keyOf.set(series, key);
  }
  return key;
}

function sameKeys(a: readonly string[] | undefined, b: readonly string[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A version-3 answer: read straight from the registry (no snapshot objects, no window
 * percentiles, which the merge does not use), each family's values as one flat array of
 * numbers, and its series' label texts only when they differ from the answer the primary
 * holds. Metric families (values of any type, usually few) go whole, as snapshot families.
 */
function compactAnswer(have: unknown): { token: string; full: boolean; families: CompactFamily[] } {
  const read = defaultRegistry.read;
  const full = lastCompact === undefined || have !== lastCompact.token;
  const keys = new Map<string, readonly string[]>();
  const families: CompactFamily[] = [];
  for (const family of defaultRegistry.families()) {
    const base = { name: family.name, kind: family.kind, exportName: family.exportName, help: family.help ?? null, unit: family.unit ?? null, labelNames: family.labelNames };
    if (family.kind === 'metric') {
      families.push({ ...base, snapshot: read.snapshotFamily(family) });
      continue;
    }
    const names = family.labelNames;
    const k: string[] = [];
    const values: number[] = [];
    let extra: Partial<CompactFamily>;
    if (family.kind === 'counter') {
      for (const c of read.counters(family as Family<Counter>)) {
        k.push(seriesKey(c, names));
        values.push(read.counterValue(c));
      }
      extra = { monotonic: family.monotonic };
    } else if (family.kind === 'meter') {
      for (const m of read.meters(family as Family<Meter>)) {
        k.push(seriesKey(m, names));
        values.push(read.meterRate(m), read.meterTotal(m));
      }
      extra = { samples: family.samples as number, timeframe: family.timeframe as number };
    } else {
      const f = family as Family<Histogram>;
      for (const h of read.histograms(f)) {
        k.push(seriesKey(h, names));
        // Cumulative bucket counts (the last is +Inf), then count and sum: what a snapshot's buckets and value carry.
        let acc = 0;
        for (const c of read.bucketCounts(h)) values.push((acc += c));
        values.push(read.count(h), read.sum(h));
      }
      extra = { bounds: Array.from(read.bounds(f)) };
    }
    keys.set(family.name, k);
    const known = full ? undefined : lastCompact?.keys.get(family.name);
    families.push({ ...base, ...extra, ...(sameKeys(known, k) ? {} : { keys: k }), values });
  }
  const token = `${process.pid}:${++answers}`;
  lastCompact = { token, keys };
  return { token, full, families };
}

function onMessage(message: unknown): void {
  if (!isMessage(message, SNAPSHOT_REQUEST)) return;
  const id = message.id;
  try {
    if (typeof message.v === 'number' && message.v >= 3) {
      const { token, full, families } = compactAnswer(message.have);
      process.send?.({ type: SNAPSHOT_REPLY, v: PROTOCOL_VERSION, id, token, full, time: Date.now(), families });
      return;
    }
    const snapshot = defaultRegistry.snapshot();
    if (typeof message.v !== 'number' || message.v < 2) {
      process.send?.({ type: SNAPSHOT_REPLY, id, snapshot });
      return;
    }
    const full = last === undefined || message.have !== last.token;
    const families = new Map<string, string>();
    const changed = [];
    const names: string[] = [];
    for (const fam of snapshot.metrics) {
      const json = JSON.stringify(fam);
      families.set(fam.name, json);
      names.push(fam.name);
      if (full || last?.families.get(fam.name) !== json) changed.push(fam);
    }
    const token = `${process.pid}:${++answers}`;
    last = { token, families };
    process.send?.({ type: SNAPSHOT_REPLY, v: 2, id, token, full, time: snapshot.time, names, changed });
  } catch {
    // the primary went away: nothing to answer
  }
}

// Only a process with an IPC channel can be a worker: anywhere else this installs nothing
// and node:cluster is not even loaded (in a worker Node has loaded it already).
if (typeof process.send === 'function' && nodeCluster().isWorker) {
  const before = process.listenerCount('message');
  process.on('message', onMessage);
  // Adding a 'message' listener refs the IPC channel; leave it as it was.
  if (before === 0) (process as { channel?: { unref(): void } }).channel?.unref();
}
