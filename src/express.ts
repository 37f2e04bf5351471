/**
 * `probekit/express`: Express 4 and 5 instrumentation.
 *
 * @example
 * import { expressErrors, expressMetrics } from 'probekit/express';
 * app.use(expressMetrics());
 * // ... routes ...
 * app.use(expressErrors());
 */
export { expressErrors, expressMetrics } from './middleware/express.js';
export { OTEL_BUCKETS, UNMATCHED_ROUTE } from './middleware/core.js';
export type { ExpressMetricsOptions } from './middleware/express.js';
export type { HttpMetricsOptions, HttpNaming, HttpRequestContext } from './middleware/core.js';
