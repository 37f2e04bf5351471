/**
 * `probekit/prometheus`: the Prometheus exporter alone (the root entry exports it too).
 *
 * @example
 * import { prometheus } from 'probekit/prometheus';
 * const server = await prometheus.serve({ port: 9464 });
 */
export { prometheus } from './exporters/prometheus/index.js';
export { OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './exporters/prometheus/format.js';
export type { TextOptions } from './exporters/prometheus/index.js';
export type { ExpositionOptions, Source } from './exporters/prometheus/exposition.js';
export type { MetricsHandler, MetricsServer, ServeOptions } from './exporters/prometheus/http.js';
export type { ClusterOptions, GaugeMerge } from './exporters/prometheus/cluster.js';
export type { DiscoveryOptions, DiscoveryServer, ServeWorkerOptions, SlotSource, TargetGroup, WorkerMetricsServer } from './exporters/prometheus/fleet.js';
export type { PromRegistry } from './exporters/prometheus/promclient.js';
export type { DefaultMetricsOptions } from './exporters/prometheus/exposition.js';
