/**
 * Bytes in and out over the process's TCP sockets, clients' and servers' alike, from
 * Node's `net.client.socket` and `net.server.socket` diagnostics channels: nothing is
 * patched. Each socket counts its own bytes (`bytesRead`, `bytesWritten`); the counters
 * take the growth of every open socket when the registry is read, and a socket's last
 * bytes when it closes, so they are exact at every read. Sockets opened before
 * `networkMetrics()` started are not seen.
 */
import type { Socket } from 'node:net';
import { defaultRegistry, type Registry, registryOption } from '../probes/probe.js';
import type { MonotonicCounter, Probe } from '../probes/types.js';
import { nodeDiagnostics } from '../util/lazy.js';
import { parseOptions } from '../util/validate.js';
import { type SharedWatch, useWatch } from './common.js';

/** Options of {@link networkMetrics}. */
export interface NetworkMetricsOptions {
  /** Registry to record into. @default the default `probe` */
  readonly registry?: Probe;
}

/** What {@link networkMetrics} returns. */
export interface NetworkMetrics {
  /** Stops counting new sockets (idempotent). */
  stop(): void;
}

const OPTIONS = {
  registry: registryOption,
};

/** Bytes of a socket already counted, kept on the socket. */
const COUNTED = Symbol('probekit.network.counted');
type Tracked = Socket & { [COUNTED]?: { read: number; written: number; owner: Counting } };

interface Counting {
  readonly live: Set<Tracked>;
  readonly receive: MonotonicCounter<string>;
  readonly transmit: MonotonicCounter<string>;
}

/** Adds what the socket moved since it was last counted. */
function advance(socket: Tracked): void {
  const state = socket[COUNTED];
  if (state === undefined) return;
  const read = socket.bytesRead;
  const written = socket.bytesWritten;
  if (typeof read === 'number' && read > state.read) {
    state.owner.receive.inc(read - state.read);
    state.read = read;
  }
  if (typeof written === 'number' && written > state.written) {
    state.owner.transmit.inc(written - state.written);
    state.written = written;
  }
}

/** The one 'close' listener of every counted socket. */
function onClose(this: Tracked): void {
  const state = this[COUNTED];
  if (state === undefined) return;
  advance(this);
  state.owner.live.delete(this);
  this[COUNTED] = undefined;
}

/**
 * Counts the bytes every TCP socket of the process receives and sends, in
 * `process_network_io_bytes_total{network_io_direction="receive"|"transmit"}` (OpenTelemetry's
 * `process.network.io`). `init({ network: true })` turns it on.
 *
 * @example
 * import { networkMetrics } from 'probekit/runtime';
 * const network = networkMetrics();
 * // network.stop() to stop
 */
export function networkMetrics(options: NetworkMetricsOptions = {}): NetworkMetrics {
  const opts = parseOptions('networkMetrics()', OPTIONS, options);
  const registry = opts.registry ?? defaultRegistry;
  return useWatch(perRegistry, registry, () => start(registry));
}

/** The one counting per registry, shared by every call on it: sockets are counted once. */
const perRegistry = new WeakMap<Registry, SharedWatch>();

function start(registry: Registry): SharedWatch {
  const io = registry.counter({
    name: 'process_network_io_bytes',
    monotonic: true,
    labels: ['network_io_direction'],
    help: 'Bytes received and sent over the TCP sockets of this process',
  });
  const counting: Counting = { live: new Set(), receive: io.labels({ network_io_direction: 'receive' }), transmit: io.labels({ network_io_direction: 'transmit' }) };
  const onSocket = (message: unknown): void => {
    try {
      const socket = (message as { socket?: Tracked } | null)?.socket;
      if (socket === undefined || socket === null || socket[COUNTED] !== undefined || typeof socket.once !== 'function') return;
      socket[COUNTED] = { read: 0, written: 0, owner: counting };
      counting.live.add(socket);
      socket.once('close', onClose);
    } catch {
      // never into the application's connection
    }
  };
  const dc = nodeDiagnostics();
  dc.subscribe('net.client.socket', onSocket);
  dc.subscribe('net.server.socket', onSocket);
  const removeCollector = registry.onCollect(() => {
    for (const socket of counting.live) advance(socket);
  });
  const running = {
    users: 0,
    dispose() {
      perRegistry.delete(registry);
      dc.unsubscribe('net.client.socket', onSocket);
      dc.unsubscribe('net.server.socket', onSocket);
      removeCollector();
      for (const socket of counting.live) {
        advance(socket);
        socket.off('close', onClose);
        socket[COUNTED] = undefined;
      }
      counting.live.clear();
    },
  };
  perRegistry.set(registry, running);
  return running;
}
