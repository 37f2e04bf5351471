/**
 * The IPC messages between a `node:cluster` primary and probekit in its workers. Every
 * message carries `v`, the protocol version of its sender: during a rolling deploy a
 * primary and its workers may run different probekit versions, and each side answers only
 * what it understands. A message without `v` is version 1's snapshot exchange.
 */

/** The protocol version this copy of probekit speaks. */
export const PROTOCOL_VERSION = 3;

/** The primary asks a worker for its snapshot (`prometheus.clusterHandler()`). */
export const SNAPSHOT_REQUEST = 'probekit:snapshot-request';
/** A worker's answer, carrying its snapshot. */
export const SNAPSHOT_REPLY = 'probekit:snapshot';

/** A worker asks the primary for its slot (`prometheus.serveWorker()`); repeated until answered. */
export const SLOT_REQUEST = 'probekit:slot-request';
/** The primary's answer: `{ slot }`, the lowest slot no live worker holds, kept until the worker exits. */
export const SLOT_REPLY = 'probekit:slot';
/** A worker serves its own `/metrics`: `{ slot, port, host, path }`; the primary lists it as a target. */
export const WORKER_SERVING = 'probekit:serving';
/** A worker closed its metrics server; the primary drops its target. */
export const WORKER_STOPPED = 'probekit:stopped';

/** A message of `type` from another copy of probekit, of any protocol version. */
export function isMessage(message: unknown, type: string): message is Readonly<Record<string, unknown>> {
  return message !== null && typeof message === 'object' && (message as { type?: unknown }).type === type;
}

/**
 * One family of a version-3 snapshot answer. Counters, meters and histograms carry their
 * values as one flat array: a counter one number per series, a meter its rate and total,
 * a histogram its cumulative bucket counts (+Inf last), count and sum. `keys` (each
 * series' label text) comes when the series differ from the answer the primary holds;
 * without it, the held answer's keys apply. A metric family comes whole, as `snapshot`.
 */
export interface CompactFamily {
  readonly name: string;
  readonly kind: 'metric' | 'counter' | 'meter' | 'histogram';
  readonly exportName: string;
  readonly help: string | null;
  readonly unit: string | null;
  readonly labelNames: readonly string[];
  readonly monotonic?: boolean;
  readonly samples?: number;
  readonly timeframe?: number;
  /** A histogram family's finite bucket bounds, in its own unit. */
  readonly bounds?: readonly number[];
  readonly keys?: readonly string[];
  readonly values?: readonly number[];
  /** A metric family, whole. */
  readonly snapshot?: import('../probes/types.js').FamilySnapshot;
}
