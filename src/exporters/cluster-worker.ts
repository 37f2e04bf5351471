/**
 * In a `node:cluster` worker (PM2 cluster mode included), answers the primary's
 * snapshot requests for `prometheus.clusterHandler()`. Loaded by importing probekit:
 * workers need no setup. It keeps nothing alive: the IPC channel stays as the
 * application left it.
 */
import cluster from 'node:cluster';
import { probe } from '../probes/probe.js';

/** IPC message types shared with the primary side. */
export const SNAPSHOT_REQUEST = 'probekit:snapshot-request';
export const SNAPSHOT_REPLY = 'probekit:snapshot';

function onMessage(message: unknown): void {
  if (message === null || typeof message !== 'object' || (message as { type?: unknown }).type !== SNAPSHOT_REQUEST) return;
  const id = (message as { id?: unknown }).id;
  try {
    process.send?.({ type: SNAPSHOT_REPLY, id, snapshot: probe.snapshot() });
  } catch {
    // the primary went away: nothing to answer
  }
}

if (cluster.isWorker && typeof process.send === 'function') {
  const before = process.listenerCount('message');
  process.on('message', onMessage);
  // Adding a 'message' listener refs the IPC channel; leave it as it was.
  if (before === 0) (process as { channel?: { unref(): void } }).channel?.unref();
}
