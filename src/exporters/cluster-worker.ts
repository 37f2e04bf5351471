/**
 * In a `node:cluster` worker (PM2 cluster mode included), answers the primary's
 * snapshot requests for `prometheus.clusterHandler()`. Loaded by importing probekit:
 * workers need no setup; outside a cluster worker it installs nothing. It keeps nothing
 * alive: the IPC channel stays as the application left it.
 */
import { defaultRegistry } from '../probes/probe.js';
import { nodeCluster } from '../util/lazy.js';
import { SNAPSHOT_REPLY, SNAPSHOT_REQUEST } from './cluster-protocol.js';

function onMessage(message: unknown): void {
  if (message === null || typeof message !== 'object' || (message as { type?: unknown }).type !== SNAPSHOT_REQUEST) return;
  const id = (message as { id?: unknown }).id;
  try {
    process.send?.({ type: SNAPSHOT_REPLY, id, snapshot: defaultRegistry.snapshot() });
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
