/**
 * `probekit/runtime`: process, V8, event-loop, GC and host metrics as probekit probes.
 *
 * @example
 * import { runtimeMetrics } from 'probekit/runtime';
 * runtimeMetrics();
 */
export { runtimeMetrics } from './runtime/index.js';
export type { RuntimeMetrics, RuntimeMetricsOptions, RuntimeNaming } from './runtime/index.js';
