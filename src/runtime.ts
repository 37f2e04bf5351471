/**
 * `probekit/runtime`: process, V8, event-loop, GC and host metrics as probekit probes.
 *
 * @example
 * import { runtimeMetrics } from 'probekit/runtime';
 * runtimeMetrics();
 */
export { runtimeMetrics } from './runtime/index.js';
export type { RuntimeMetrics, RuntimeMetricsOptions, RuntimeNaming } from './runtime/index.js';
export { networkMetrics } from './runtime/network.js';
export { portMetrics } from './runtime/ports.js';
export type { NetworkMetrics, NetworkMetricsOptions } from './runtime/network.js';
export type { PortMetrics, PortMetricsOptions } from './runtime/ports.js';
