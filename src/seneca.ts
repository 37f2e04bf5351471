/**
 * `probekit/seneca`: Seneca 3 instrumentation.
 *
 * @example
 * const seneca = require('seneca')();
 * const { senecaProbe } = require('probekit/seneca');
 * seneca.use(senecaProbe);
 */
export { ANY_PATTERN, senecaPlugin, senecaProbe, UNMATCHED_PATTERN } from './middleware/seneca.js';
export { OTEL_BUCKETS } from './middleware/core.js';
export type { SenecaActionContext, SenecaPlugin, SenecaProbeOptions } from './middleware/seneca.js';
