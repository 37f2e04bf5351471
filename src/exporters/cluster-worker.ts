/**
 * In a `node:cluster` worker (PM2 cluster mode included), answers the primary's
 * snapshot requests for `prometheus.clusterHandler()`. Loaded by importing probekit:
 * workers need no setup; outside a cluster worker it installs nothing. It keeps nothing
 * alive: the IPC channel stays as the application left it.
 *
 * A version-2 primary names the answer it holds (`have`); when that is this worker's last
 * answer, only the families that changed since are sent, with the names of all of them
 * (a compact answer). A version-1 primary (no `v`) gets the whole snapshot, as before.
 */
import { defaultRegistry } from '../probes/probe.js';
import { nodeCluster } from '../util/lazy.js';
import { isMessage, PROTOCOL_VERSION, SNAPSHOT_REPLY, SNAPSHOT_REQUEST } from './cluster-protocol.js';

/** This worker's last answer to a version-2 primary: its token and each family's JSON. */
let last: { token: string; families: Map<string, string> } | undefined;
let answers = 0;

function onMessage(message: unknown): void {
  if (!isMessage(message, SNAPSHOT_REQUEST)) return;
  const id = message.id;
  try {
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
    process.send?.({ type: SNAPSHOT_REPLY, v: PROTOCOL_VERSION, id, token, full, time: snapshot.time, names, changed });
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
