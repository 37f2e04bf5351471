/**
 * The ports the process listens on, as a series per port, from Node's
 * `net.server.listen` tracing channel: nothing is patched. A server that started
 * listening before `portMetrics()` is not seen.
 */
import type { AddressInfo, Server } from 'node:net';
import { defaultRegistry, type Registry, registryOption } from '../probes/probe.js';
import type { LabelledValue, Probe } from '../probes/types.js';
import { nodeDiagnostics } from '../util/lazy.js';
import { parseOptions } from '../util/validate.js';
import { type SharedWatch, useWatch } from './common.js';

/** Options of {@link portMetrics}. */
export interface PortMetricsOptions {
  /** Registry to record into. @default the default `probe` */
  readonly registry?: Probe;
}

/** What {@link portMetrics} returns. */
export interface PortMetrics {
  /** Stops watching for new servers (idempotent); the series go once every caller on the registry stopped. */
  stop(): void;
}

const OPTIONS = {
  registry: registryOption,
};

const CHANNEL = 'tracing:net.server.listen:asyncEnd';

/**
 * Lists the TCP ports the process listens on in `process_listening_ports{port, address,
 * family}` (value 1 per port, pmx's `ports`). `init({ ports: true })` turns it on.
 *
 * @example
 * import { portMetrics } from 'probekit/runtime';
 * const ports = portMetrics();
 */
export function portMetrics(options: PortMetricsOptions = {}): PortMetrics {
  const opts = parseOptions('portMetrics()', OPTIONS, options);
  const registry = opts.registry ?? defaultRegistry;
  return useWatch(perRegistry, registry, () => start(registry));
}

interface Watching extends SharedWatch {
  readonly servers: Set<Server>;
}

/** One watch per registry, shared by every call on it; the family reads whichever is running. */
const perRegistry = new WeakMap<Registry, Watching>();

function start(registry: Registry): Watching {
  const servers = new Set<Server>();
  registry.metric({
    name: 'process_listening_ports',
    labels: ['port', 'address', 'family'],
    help: 'TCP ports this process listens on (1 per port)',
    value: (): Array<LabelledValue<'port' | 'address' | 'family'>> => {
      const out: Array<LabelledValue<'port' | 'address' | 'family'>> = [];
      for (const server of perRegistry.get(registry)?.servers ?? []) {
        const address = server.address();
        if (address === null || typeof address === 'string') continue; // a pipe, or closed
        const a = address as AddressInfo;
        out.push([{ port: String(a.port), address: a.address, family: a.family }, 1]);
      }
      return out;
    },
  });
  const forget = function (this: Server): void {
    servers.delete(this);
  };
  const onListen = (message: unknown): void => {
    try {
      const server = (message as { server?: Server } | null)?.server;
      if (server === undefined || server === null || servers.has(server) || typeof server.once !== 'function') return;
      servers.add(server);
      server.once('close', forget);
    } catch {
      // never into the application's server
    }
  };
  const dc = nodeDiagnostics();
  dc.subscribe(CHANNEL, onListen);
  const watching: Watching = {
    users: 0,
    servers,
    dispose() {
      perRegistry.delete(registry);
      dc.unsubscribe(CHANNEL, onListen);
      for (const server of servers) server.off('close', forget);
      servers.clear();
    },
  };
  perRegistry.set(registry, watching);
  return watching;
}
