/**
 * Per-worker targets: in a fleet (`node:cluster`, PM2 cluster mode) each worker serves its
 * own `/metrics` on `basePort + slot`, and Prometheus aggregates. A slot is a small index a
 * replacement worker reuses, so a worker's series keep their `worker` label across
 * restarts. Under PM2 the slot is `NODE_APP_INSTANCE`; in a `node:cluster` the primary
 * hands slots out (`serveDiscovery()`) and serves the Prometheus HTTP service-discovery
 * document listing the workers that serve.
 */
import type { Worker } from 'node:cluster';
import { nodeCluster, nodeOs } from '../../util/lazy.js';
import { shared } from '../../util/shared.js';
import { invalid, is, option, parseOptions, rangeError, required, typeError } from '../../util/validate.js';
import { listen } from '../../transport/server.js';
import { isMessage, PROTOCOL_VERSION, SLOT_REPLY, SLOT_REQUEST, WORKER_SERVING, WORKER_STOPPED } from '../cluster-protocol.js';
import { Exposition, type ExpositionOptions } from './exposition.js';
import { checkPath, definedOnly, type MetricsServer, serveExposition } from './http.js';

/** Options of `prometheus.serveWorker()`. */
export interface ServeWorkerOptions extends ExpositionOptions {
  /** The port of slot 0; a worker listens on `basePort + slot`. */
  readonly basePort: number;
  /**
   * This worker's slot. @default `NODE_APP_INSTANCE` under PM2 (cluster mode, or a process
   * PM2 started in fork mode); in a `node:cluster` worker, the one the primary's
   * `serveDiscovery()` assigns; else 0
   */
  readonly slot?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Path of the endpoint. @default '/metrics' */
  readonly path?: string;
  /** How long a `node:cluster` worker waits for the primary to assign its slot, in ms. @default 5000 */
  readonly slotTimeoutMs?: number;
}

/** Where a worker's slot came from. */
export type SlotSource = 'option' | 'pm2' | 'primary' | 'single';

/** A worker's started metrics server. */
export interface WorkerMetricsServer extends MetricsServer {
  /** The worker's slot: it listens on `basePort + slot`. */
  readonly slot: number;
  /** Where the slot came from: the `slot` option, PM2's `NODE_APP_INSTANCE`, the primary, or a process on its own (0). */
  readonly slotSource: SlotSource;
}

const WORKER_OPTIONS = {
  basePort: required(is.integer(1, 65535)),
  slot: option(is.integer(0, 65534)),
  host: option(is.nonEmpty, '127.0.0.1'),
  path: option(checkPath, '/metrics'),
  slotTimeoutMs: option(is.integer(1), 5000),
  registry: option(is.any),
  defaultMetrics: option(is.any),
  windowQuantiles: option(is.any),
  onError: option(is.any),
};

/** True in a worker PM2 runs in cluster mode (PM2's daemon is its primary). */
function underPm2Cluster(): boolean {
  return process.env.exec_mode === 'cluster_mode';
}

/** PM2's instance number of this process, when PM2 started it (in the variable PM2's `instance_var` names). */
function pm2Instance(): number | undefined {
  const name = process.env.instance_var;
  const v = process.env[name !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : 'NODE_APP_INSTANCE'];
  return v !== undefined && /^\d{1,5}$/.test(v) ? Number(v) : undefined;
}

function isClusterWorker(): boolean {
  return typeof process.send === 'function' && nodeCluster().isWorker;
}

let nextAsk = 0;

/** Asks the primary for this worker's slot, again every 250 ms (its `serveDiscovery()` may start later), until `timeoutMs`. */
function askSlot(timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const id = `${process.pid}:${++nextAsk}`;
    const send = (): void => {
      try {
        process.send?.({ type: SLOT_REQUEST, v: PROTOCOL_VERSION, id });
      } catch {
        // the channel is closing: the deadline answers
      }
    };
    const finish = (): void => {
      clearInterval(again);
      clearTimeout(deadline);
      process.off('message', onMessage);
    };
    const onMessage = (m: unknown): void => {
      if (!isMessage(m, SLOT_REPLY) || m.id !== id || typeof m.slot !== 'number' || !Number.isInteger(m.slot) || m.slot < 0 || m.slot > 65534) return;
      finish();
      resolve(m.slot);
    };
    process.on('message', onMessage);
    const again = setInterval(send, 250);
    const deadline = setTimeout(() => {
      finish();
      reject(
        invalid(
          `probekit: prometheus.serveWorker(): the primary assigned no slot within ${timeoutMs} ms; call prometheus.serveDiscovery() in the primary, or give the "slot" option`,
          'PROBEKIT_INVALID_OPTION',
          'slot',
        ),
      );
    }, timeoutMs);
    send();
  });
}

/** This worker's slot and where it came from. */
async function resolveSlot(given: number | undefined, timeoutMs: number): Promise<{ slot: number; source: SlotSource }> {
  if (given !== undefined) return { slot: given, source: 'option' };
  const instance = pm2Instance();
  // A node:cluster of the application's own under a PM2 fork-mode process inherits
  // NODE_APP_INSTANCE: there the primary assigns slots, not PM2.
  if (instance !== undefined && (underPm2Cluster() || !isClusterWorker())) return { slot: instance, source: 'pm2' };
  if (isClusterWorker()) return { slot: await askSlot(timeoutMs), source: 'primary' };
  return { slot: 0, source: 'single' };
}

/**
 * Serves this worker's own `/metrics` on `basePort + slot`, on a socket of its own
 * (`exclusive`: a listen in a cluster worker would otherwise go through the primary). The
 * slot is `NODE_APP_INSTANCE` under PM2, the one the primary's `serveDiscovery()` assigns
 * in a `node:cluster` worker, 0 in a process on its own; a replacement worker gets the
 * slot of the one it replaces, so its series keep their `worker` label. Rejects when the
 * port is taken or no slot came; `shutdown()` closes it.
 *
 * @example
 * // pm2 start app.js -i 4 → instances on 9500..9503
 * const server = await prometheus.serveWorker({ basePort: 9500 });
 */
export async function serveWorker(options: ServeWorkerOptions): Promise<WorkerMetricsServer> {
  const opts = parseOptions('prometheus.serveWorker()', WORKER_OPTIONS, options, { required: true });
  const { basePort, host, path, slotTimeoutMs, slot: given, ...rest } = opts;
  const exposition = new Exposition('prometheus.serveWorker()', definedOnly(rest));
  const { slot, source } = await resolveSlot(given, slotTimeoutMs);
  if (slot > 65535 - basePort) {
    throw rangeError('prometheus.serveWorker() option "slot"', `at most ${65535 - basePort}, so that basePort ${basePort} + slot is a port`, slot);
  }
  const port = basePort + slot;
  const server = await serveExposition(exposition, { port, host, path, exclusive: true });
  const announce = source === 'primary';
  if (announce) tell({ type: WORKER_SERVING, v: PROTOCOL_VERSION, slot, port: server.port, host: server.host, path });
  return {
    ...server,
    slot,
    slotSource: source,
    close: () => {
      if (announce) tell({ type: WORKER_STOPPED, v: PROTOCOL_VERSION, slot });
      return server.close();
    },
  };
}

function tell(message: object): void {
  try {
    if (process.connected) process.send?.(message);
  } catch {
    // the primary went away: nothing to tell
  }
}

// ---------------------------------------------------------------------------------------
// The primary: slots and the service-discovery document.

/** A worker serving its metrics, as the primary knows it. */
interface Serving {
  readonly port: number;
  readonly host: string;
  readonly path: string;
}

/** The primary's slot table: one per process, shared by every copy of probekit. */
interface Fleet {
  /** Slot → the id of the live worker holding it. */
  readonly slots: Map<number, number>;
  /** Slot → where its worker serves. */
  readonly serving: Map<number, Serving>;
  installed: boolean;
}

const fleet = shared<Fleet>('fleet', () => ({ slots: new Map(), serving: new Map(), installed: false }));

function slotOf(workerId: number): number | undefined {
  for (const [slot, id] of fleet.slots) if (id === workerId) return slot;
  return undefined;
}

/**
 * The slot of a live worker: the one it holds, else the lowest no live worker holds (a
 * replacement takes its predecessor's). Starts the slot table in this primary.
 */
export function slotFor(worker: Worker): number {
  installFleet();
  let slot = slotOf(worker.id);
  if (slot === undefined) {
    slot = 0;
    while (fleet.slots.has(slot)) slot++;
    fleet.slots.set(slot, worker.id);
  }
  return slot;
}

function onWorkerMessage(worker: Worker, m: unknown): void {
  if (isMessage(m, SLOT_REQUEST)) {
    const slot = slotFor(worker);
    try {
      worker.send({ type: SLOT_REPLY, v: PROTOCOL_VERSION, id: m.id, slot });
    } catch {
      // the worker is going away: its exit frees the slot
    }
  } else if (isMessage(m, WORKER_SERVING)) {
    const slot = slotOf(worker.id);
    const { port, host, path } = m;
    // A worker's report is checked like any peer reply: its own slot, a port, a host and a path.
    if (slot === undefined || m.slot !== slot || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return;
    if (typeof host !== 'string' || host === '' || typeof path !== 'string' || !path.startsWith('/')) return;
    fleet.serving.set(slot, { port, host, path });
  } else if (isMessage(m, WORKER_STOPPED)) {
    const slot = slotOf(worker.id);
    if (slot !== undefined && m.slot === slot) fleet.serving.delete(slot);
  }
}

function onWorkerExit(worker: Worker): void {
  const slot = slotOf(worker.id);
  if (slot === undefined) return;
  fleet.slots.delete(slot);
  fleet.serving.delete(slot);
}

/** Starts handing out slots in this primary; once per process, for its lifetime (it holds nothing open). */
function installFleet(): void {
  if (fleet.installed) return;
  const cluster = nodeCluster();
  cluster.on('message', onWorkerMessage);
  cluster.on('exit', onWorkerExit);
  fleet.installed = true;
}

/** One target group of a Prometheus HTTP service-discovery document. */
export interface TargetGroup {
  /** `host:port` of one worker. */
  readonly targets: readonly string[];
  /** `worker` (the slot), the `labels` option, and `__metrics_path__` when the path is not `/metrics`. */
  readonly labels: Readonly<Record<string, string>>;
}

/** Options of `prometheus.serveDiscovery()`. */
export interface DiscoveryOptions {
  /** Port of the discovery endpoint; 0 picks a free one. */
  readonly port: number;
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Path of the discovery document. @default '/targets' */
  readonly path?: string;
  /** The host written in each target. @default the host each worker listens on (this machine's hostname for 0.0.0.0 and ::) */
  readonly targetHost?: string;
  /** Labels added to every target (`{ service: 'api' }`). @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** Called with every failure of the discovery server (never thrown into the application). @default none */
  readonly onError?: (error: Error) => void;
}

/** A started discovery server. */
export interface DiscoveryServer extends MetricsServer {
  /** The document it serves now: one group per worker that serves its metrics, by slot. */
  document(): TargetGroup[];
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const DISCOVERY_OPTIONS = {
  port: required(is.integer(0, 65535)),
  host: option(is.nonEmpty, '127.0.0.1'),
  path: option(checkPath, '/targets'),
  targetHost: option(is.nonEmpty),
  labels: option((where, v): Readonly<Record<string, string>> => {
    const labels = is.stringRecord(where, v);
    for (const name of Object.keys(labels)) {
      if (!LABEL_NAME.test(name) || name.startsWith('__') || name === 'worker') {
        throw typeError(`${where.replace(/"$/, '')}.${name}"`, 'a Prometheus label name other than "worker", not starting with "__"', name);
      }
    }
    return labels;
  }, {}),
  onError: option(is.function<(error: Error) => void>()),
};

function targetOf(s: Serving, targetHost: string | undefined): string {
  let host = targetHost ?? s.host;
  if (targetHost === undefined && (host === '0.0.0.0' || host === '::')) host = nodeOs().hostname();
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${s.port}`;
}

/**
 * In a `node:cluster` primary: hands each worker that calls `prometheus.serveWorker()` the
 * lowest free slot (a replacement gets the slot its predecessor held) and serves the
 * Prometheus HTTP service-discovery document (`http_sd_configs`) listing the workers that
 * serve, each with a `worker` label holding its slot. A worker appears once it listens and
 * leaves when it exits. Slots keep being handed out after `close()`.
 *
 * @example
 * if (cluster.isPrimary) {
 *   await prometheus.serveDiscovery({ port: 9499 });
 *   for (let i = 0; i < 4; i++) cluster.fork();
 * } else {
 *   await prometheus.serveWorker({ basePort: 9500 });
 * }
 */
export async function serveDiscovery(options: DiscoveryOptions): Promise<DiscoveryServer> {
  const opts = parseOptions('prometheus.serveDiscovery()', DISCOVERY_OPTIONS, options, { required: true });
  if (!nodeCluster().isPrimary) {
    throw invalid('probekit: prometheus.serveDiscovery() runs in the primary of a node:cluster; call prometheus.serveWorker() in its workers', 'PROBEKIT_INVALID_ARGUMENT');
  }
  installFleet();
  const { targetHost, labels } = opts;
  const document = (): TargetGroup[] =>
    [...fleet.serving.entries()]
      .sort(([a], [b]) => a - b)
      .map(([slot, s]) => ({
        targets: [targetOf(s, targetHost)],
        labels: { ...labels, worker: String(slot), ...(s.path === '/metrics' ? {} : { __metrics_path__: s.path }) },
      }));
  const server = await listen({
    port: opts.port,
    host: opts.host,
    routes: [{ method: 'GET', path: opts.path, handle: () => ({ headers: { 'Cache-Control': 'no-store' }, body: document() }) }],
    ...(opts.onError === undefined ? {} : { onError: opts.onError }),
  });
  return { port: server.port, host: server.host, url: `${server.url}${opts.path}`, server: server.server, close: () => server.close(), document };
}
