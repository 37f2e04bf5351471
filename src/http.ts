/**
 * `probekit/http`: node:http instrumentation for apps without a framework.
 *
 * @example
 * import { instrumentServer } from 'probekit/http';
 * instrumentServer(server);
 */
export { instrumentAllServers, instrumentServer } from './middleware/http.js';
export { OTEL_BUCKETS, UNMATCHED_ROUTE } from './middleware/core.js';
export type { InstrumentAllOptions, InstrumentServerOptions, ServerInstrumentation } from './middleware/http.js';
export type { HttpMetricsOptions, HttpNaming, HttpRequestContext } from './middleware/core.js';
