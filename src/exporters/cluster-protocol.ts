/** The IPC messages between `prometheus.clusterHandler()` in the primary and the responder in each worker. */

/** The primary asks a worker for its snapshot. */
export const SNAPSHOT_REQUEST = 'probekit:snapshot-request';
/** A worker's answer, carrying its snapshot. */
export const SNAPSHOT_REPLY = 'probekit:snapshot';
