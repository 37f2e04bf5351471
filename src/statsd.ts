/**
 * `probekit/statsd`: the StatsD exporter alone (the root entry exports it too).
 *
 * @example
 * import { statsd } from 'probekit/statsd';
 * const exporter = statsd({ host: '127.0.0.1', port: 8125 });
 */
export { statsd } from './exporters/statsd/index.js';
export type { StatsdExporter, StatsdOptions, TagFormat } from './exporters/statsd/index.js';
